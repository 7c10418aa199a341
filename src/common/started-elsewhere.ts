/**
 * The worker's answer to a run started without duragent's client (Temporal's tools, a Schedule,
 * another SDK's workflow): sandbox-safe types, shared by the workflow that asks and the activity
 * that answers from the worker's config.
 */
import type { RunSettings } from "./run-settings.js";

/** What the workflow received, and as which type. */
export interface StartedElsewhere {
  workflowType: string;
  argument: unknown;
}

/** What `duragent run` would have sent: the run's input, its settings, and the target it names (`DuragentAgent`). */
export interface RunInputFromConfig {
  input: unknown;
  settings: RunSettings;
  target: string;
}

/** The worker's own activities, beside the effects: registered by every duragent worker. */
export interface WorkerActivities {
  /** A local activity, asked only by a run started without duragent's client, before its first step. */
  runInputFromConfig(started: StartedElsewhere): Promise<RunInputFromConfig>;
}
