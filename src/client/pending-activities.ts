/**
 * What a run's pending activities tell beyond workflow state: tool-call progress, which the
 * activity sends as heartbeat details (no history events), and the failure of a step that is
 * being retried, which only the server knows until the retries end.
 */
import type { WorkflowExecutionDescription } from "@temporalio/client";
import type { LoadedDataConverter } from "@temporalio/common";
import { decodeFromPayloadsAtIndex, decodeOptionalFailureToOptionalError } from "@temporalio/common/lib/internal-non-workflow/index.js";
import { rootCause } from "../common/failures.js";
import type { RunStatus } from "../common/run-status.js";
import { StepProgressSchema, type StepProgress } from "../common/server-requests.js";

export interface PendingActivitiesState {
  progress: StepProgress[];
  retrying?: RunStatus["retrying"];
}

export async function pendingActivitiesState(
  description: WorkflowExecutionDescription,
  converter: LoadedDataConverter,
  currentStep: string | undefined,
): Promise<PendingActivitiesState> {
  const state: PendingActivitiesState = { progress: [] };
  for (const activity of description.raw.pendingActivities ?? []) {
    if (activity.heartbeatDetails?.payloads?.length) {
      try {
        const parsed = StepProgressSchema.safeParse(await decodeFromPayloadsAtIndex(converter, 0, activity.heartbeatDetails.payloads));
        if (parsed.success) state.progress.push(parsed.data);
      } catch {
        // Details another activity wrote in its own format: not progress.
      }
    }
    if ((activity.attempt ?? 1) > 1 && activity.lastFailure) {
      const error = await decodeOptionalFailureToOptionalError(converter, activity.lastFailure).catch(() => undefined);
      state.retrying = {
        step: currentStep ?? activity.activityType?.name ?? "",
        attempt: activity.attempt ?? 1,
        ...(activity.maximumAttempts ? { maximumAttempts: activity.maximumAttempts } : {}),
        error: error ? rootCause(error) : (activity.lastFailure.message ?? "unknown failure"),
      };
    }
  }
  return state;
}
