/**
 * A run started without duragent's client (`temporal workflow start`, a Temporal Schedule, another
 * SDK's child workflow) asks its worker for what the client would have sent: the target's
 * definition and the run's settings, from the worker's config. A local activity answers, before
 * the run's first step; its marker keeps the answer, so a replay runs on it whatever the config
 * says by then.
 */
import { ApplicationFailure } from "@temporalio/common";
import { condition, proxyLocalActivities, setDefaultQueryHandler, setDefaultUpdateHandler, upsertSearchAttributes, workflowInfo } from "@temporalio/workflow";
import { FailureType } from "../common/failures.js";
import { RunMessages, type RunStatus } from "../common/run-status.js";
import { agentSearchAttribute, phaseSearchAttribute } from "../common/search-attributes.js";
import type { WorkerActivities } from "../common/started-elsewhere.js";
import type { WorkflowRunInput } from "./define-workflow.js";

/** What duragent's client sends: the input beside settings with their model and tool call policies. */
export function isRunInput(argument: unknown): argument is WorkflowRunInput<unknown> {
  if (typeof argument !== "object" || argument === null || !("input" in argument) || !("settings" in argument)) return false;
  const { settings } = argument as { settings: unknown };
  return typeof settings === "object" && settings !== null && "llm" in settings && "tools" in settings;
}

const startingStep = "run input from the worker's config";

/**
 * Holds what is sent while the run reads its worker's config, before its handlers exist: Temporal
 * would reject an update that finds no handler when its workflow task ends. Status queries are
 * answered as a run starting; updates wait for `release`, which hands them to the run's handlers.
 */
export function holdEarlyMessages(): { release(deliver: (name: string, argument: unknown) => unknown): void } {
  let deliver: ((name: string, argument: unknown) => unknown) | undefined;
  const { workflowId } = workflowInfo();
  setDefaultQueryHandler((name) => {
    if (name === RunMessages.status) return { runId: workflowId, phase: "running", currentStep: startingStep, stepCount: 0, pending: [], usage: {} } satisfies RunStatus;
    throw ApplicationFailure.nonRetryable(`The run is still starting (reading its worker's config): ask '${name}' again in a moment.`);
  });
  setDefaultUpdateHandler(async (name, ...args) => {
    await condition(() => deliver !== undefined);
    return deliver!(name, args[0]);
  });
  return {
    release: (to) => {
      setDefaultQueryHandler(undefined);
      setDefaultUpdateHandler(undefined);
      deliver = to;
    },
  };
}

export async function fromWorkerConfig(argument: unknown): Promise<WorkflowRunInput<unknown>> {
  const { runInputFromConfig } = proxyLocalActivities<WorkerActivities>({
    startToCloseTimeout: "1 minute",
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: [FailureType.invalidRunInput, FailureType.configuration] },
    summary: startingStep,
  });
  const { workflowType, typedSearchAttributes } = workflowInfo();
  const { input, settings, target } = await runInputFromConfig({ workflowType, argument });
  // Listed as duragent's client lists its runs (`list --target`, `--phase`), unless the starter set
  // them (a schedule duragent made sets both: the server refuses an upsert of nothing).
  const unset = [
    ...(typedSearchAttributes.get(agentSearchAttribute) === undefined ? [{ key: agentSearchAttribute, value: target }] : []),
    ...(typedSearchAttributes.get(phaseSearchAttribute) === undefined ? [{ key: phaseSearchAttribute, value: "running" }] : []),
  ];
  if (settings.searchAttributes && unset.length > 0) upsertSearchAttributes(unset);
  // Nobody reads it yet: its model calls stream once someone does.
  return { input, settings, unwatched: true };
}
