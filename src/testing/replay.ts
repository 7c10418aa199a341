/**
 * Replay testing from your own project: save the histories of runs you care about, then replay
 * them against the workflow code you are about to deploy. A change of shape without `patched()`
 * fails here, with Temporal's nondeterminism error, instead of on the workers with runs waiting.
 *
 * Files hold a history as proto JSON (the generated class's own `toJSON`, int64 as strings); a
 * file written by `temporal workflow show --output json` (times as RFC 3339 text) loads too.
 * Temporal's worker and client load only when these are called.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { temporal } from "@temporalio/proto";
import { replayFailure, replayFailureWords } from "../client/temporal-errors.js";
import type { ConfigSource } from "../config/load-config.js";
import type { Logger } from "../logger.js";

type History = temporal.api.history.v1.History;

export interface ReplayOutcome {
  file: string;
  workflowId: string;
  /** Why the history does not replay (a `DeterminismViolationError` for a change of shape); absent when it does. */
  error?: Error;
  /** The same in words, absent when it replays: what it means, then the worker's own words out of the SDK's wrapping, e.g. `the code changed shape ([TMPRL1100] Nondeterminism error: …)`. */
  reason?: string;
}

/** Saves a run's history to `file` (its folder made if need be), from the Temporal cluster the config names. */
export async function saveRunHistory(options: { runId: string; file: string; config?: ConfigSource }): Promise<void> {
  const config = await (await import("../config/load-config.js")).configFrom(options.config);
  const { Client, Connection } = await import("@temporalio/client");
  const { temporalConnectionOptions } = await import("../client/temporal-connection.js");
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  try {
    const history = await new Client({ connection, namespace: config.temporal.namespace }).workflow.getHandle(options.runId).fetchHistory();
    const proto = await import("@temporalio/proto");
    mkdirSync(dirname(options.file), { recursive: true });
    writeFileSync(options.file, `${JSON.stringify(proto.default.temporal.api.history.v1.History.fromObject(history).toJSON(), null, 2)}\n`);
  } finally {
    await connection.close();
  }
}

/**
 * Replays each saved history against the config's workflow code (its `modules:`, bundled as a
 * worker bundles them, with its codec), and says which do not replay and why. Nothing is sent to
 * a cluster.
 */
export async function replayRunHistories(options: { files: string[]; config?: ConfigSource; logger?: Logger }): Promise<ReplayOutcome[]> {
  const config = await (await import("../config/load-config.js")).configFrom(options.config);
  const [{ Runtime, Worker }, { loadWorkflowBundle }, { bundleInputs }, { dataConverterFor }, { installRuntime, releaseRuntimeIfIdle }] = await Promise.all([
    import("@temporalio/worker"),
    import("../worker/workflow-bundle.js"),
    import("../worker/create-worker.js"),
    import("../codec/data-converter.js"),
    import("../worker/runtime.js"),
  ]);
  const { code } = await loadWorkflowBundle(bundleInputs(config));
  const dataConverter = dataConverterFor(config);
  // The SDK's own runtime would print every replay worker's state changes to the console, and its
  // log forwarding would keep a replay script from exiting: duragent's logger, and let go after.
  const ownRuntime = !Runtime._instance;
  if (ownRuntime) installRuntime(options.logger ? { logger: options.logger } : {});
  try {
    return await replayEach(options.files, Worker, code, dataConverter);
  } finally {
    if (ownRuntime) await releaseRuntimeIfIdle();
  }
}

async function replayEach(
  files: string[],
  Worker: typeof import("@temporalio/worker").Worker,
  code: string,
  dataConverter: ReturnType<typeof import("../codec/data-converter.js").dataConverterFor>,
): Promise<ReplayOutcome[]> {
  const outcomes: ReplayOutcome[] = [];
  for (const file of files) {
    let history: History;
    try {
      history = await loadRunHistory(file);
    } catch (error) {
      const failure = new Error(`not a saved history: ${error instanceof Error ? error.message : String(error)}`);
      outcomes.push({ file, workflowId: "", error: failure, reason: failure.message });
      continue;
    }
    // Child runs' ids derive from it: a stand-in would read as nondeterminism.
    const workflowId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowId;
    if (!workflowId) {
      const failure = new Error("not a whole history: it does not start with a WorkflowExecutionStarted event naming its workflow id");
      outcomes.push({ file, workflowId: "", error: failure, reason: failure.message });
      continue;
    }
    try {
      await Worker.runReplayHistory({ workflowBundle: { code }, ...(dataConverter ? { dataConverter } : {}) }, history, workflowId);
      outcomes.push({ file, workflowId });
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      outcomes.push({ file, workflowId, error: failure, reason: replayReason(failure) });
    }
  }
  return outcomes;
}

/** The worker's own words, out of the SDK's wrapping (a Rust debug print), after what they mean. */
function replayReason(error: Error): string {
  const words = /message: "((?:[^"\\]|\\.)*)"/.exec(error.message)?.[1]?.replace(/\\(.)/g, "$1") ?? error.message.split("\n")[0]!;
  const kind = replayFailure(words) ?? replayFailure(error.message);
  if (!kind) return words;
  return `${replayFailureWords[kind].short} (${words})`;
}

/** A saved history, from this module's files or the Temporal CLI's. */
export async function loadRunHistory(file: string): Promise<History> {
  const proto = await import("@temporalio/proto");
  const json = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  return proto.default.temporal.api.history.v1.History.fromObject(withProtoTimes(json) as Parameters<typeof proto.default.temporal.api.history.v1.History.fromObject>[0]);
}

/**
 * The Temporal CLI writes proto3's canonical JSON: a Timestamp as RFC 3339 text, a Duration as
 * `"10s"`. protobufjs reads only their object forms, so those become `{ seconds, nanos }`.
 */
function withProtoTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withProtoTimes);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (typeof field === "string" && /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/.test(field) && /Time$|time$/.test(key)) {
      const ms = Date.parse(field);
      const fraction = /\.(\d+)/.exec(field)?.[1] ?? "";
      out[key] = { seconds: String(Math.floor(ms / 1000)), nanos: Number(fraction.padEnd(9, "0").slice(0, 9)) };
    } else if (typeof field === "string" && /^-?\d+(\.\d+)?s$/.test(field) && /Timeout$|Interval$|Backoff$|Delay$|Duration$/i.test(key)) {
      const seconds = Number(field.slice(0, -1));
      out[key] = { seconds: String(Math.trunc(seconds)), nanos: Math.round((seconds - Math.trunc(seconds)) * 1e9) };
    } else out[key] = withProtoTimes(field);
  }
  return out;
}
