/**
 * A run started without duragent's client (`temporal workflow start`, a Temporal Schedule, another
 * SDK's child workflow) asks its worker for what the client would have sent: the target's
 * definition and the run's settings, from the worker's config. A local activity answers, before
 * the run's first step; its marker keeps the answer, so a replay runs on it whatever the config
 * says by then.
 */
import { proxyLocalActivities, upsertSearchAttributes, workflowInfo } from "@temporalio/workflow";
import { FailureType } from "../common/failures.js";
import { agentSearchAttribute, phaseSearchAttribute } from "../common/search-attributes.js";
import type { WorkerActivities } from "../common/started-elsewhere.js";
import type { WorkflowRunInput } from "./define-workflow.js";

/** What duragent's client sends: the input beside settings with their model and tool call policies. */
export function isRunInput(argument: unknown): argument is WorkflowRunInput<unknown> {
  if (typeof argument !== "object" || argument === null || !("input" in argument) || !("settings" in argument)) return false;
  const { settings } = argument as { settings: unknown };
  return typeof settings === "object" && settings !== null && "llm" in settings && "tools" in settings;
}

export async function fromWorkerConfig(argument: unknown): Promise<WorkflowRunInput<unknown>> {
  const { runInputFromConfig } = proxyLocalActivities<WorkerActivities>({
    startToCloseTimeout: "1 minute",
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: [FailureType.invalidRunInput, FailureType.configuration] },
    summary: "run input from the worker's config",
  });
  const { workflowType, typedSearchAttributes } = workflowInfo();
  const { input, settings, target } = await runInputFromConfig({ workflowType, argument });
  // Listed as duragent's client lists its runs (`list --target`, `--phase`), unless the starter set them.
  if (settings.searchAttributes) {
    upsertSearchAttributes([
      ...(typedSearchAttributes.get(agentSearchAttribute) === undefined ? [{ key: agentSearchAttribute, value: target }] : []),
      ...(typedSearchAttributes.get(phaseSearchAttribute) === undefined ? [{ key: phaseSearchAttribute, value: "running" }] : []),
    ]);
  }
  // Nobody reads it yet: its model calls stream once someone does.
  return { input, settings, unwatched: true };
}
