/**
 * What a run's pending activities tell beyond workflow state: tool-call progress, which the
 * activity sends as heartbeat details (no history events), and the failure of a step that is
 * being retried, which only the server knows until the retries end.
 */
import type { WorkflowExecutionDescription } from "@temporalio/client";
import type { LoadedDataConverter } from "@temporalio/common";
import type { temporal } from "@temporalio/proto";
import { decodeFromPayloadsAtIndex, decodeOptionalFailureToOptionalError } from "@temporalio/common/lib/internal-non-workflow/index.js";
import { rootCause } from "../common/failures.js";
import type { RunStatus } from "../common/run-status.js";
import { StepLogsSchema, StepProgressSchema, StepTextSchema, type StepLog, type StepProgress, type StepText } from "../common/server-requests.js";

export interface PendingActivitiesState {
  progress: StepProgress[];
  /** Model calls' text so far, while they stream. */
  streaming: StepText[];
  /** Tool calls' latest MCP server log messages. */
  logs: StepLog[];
  retrying?: RunStatus["retrying"];
  /** Every step retrying now, by its activity and attempt. */
  retries: NonNullable<RunStatus["retries"]>;
  /** The retrying step's activity, whose label history keeps when no worker can tell it. */
  retryingActivityId?: string;
}

export async function pendingActivitiesState(
  description: WorkflowExecutionDescription,
  converter: LoadedDataConverter,
  currentStep: string | undefined,
): Promise<PendingActivitiesState> {
  const state: PendingActivitiesState = { progress: [], streaming: [], logs: [], retries: [] };
  const pending = description.raw.pendingActivities ?? [];
  // The run's current step is the retrying one's only when no other is in flight (a fan-out's are many).
  const only = pending.length === 1 ? currentStep : undefined;
  for (const activity of pending) {
    if (activity.heartbeatDetails?.payloads?.length) {
      try {
        const details = await decodeFromPayloadsAtIndex(converter, 0, activity.heartbeatDetails.payloads);
        const text = StepTextSchema.safeParse(details);
        // Details outlive their attempt: a retry's text starts once it heartbeats again.
        if (text.success) {
          if (text.data.attempt === (activity.attempt ?? 1)) state.streaming.push(text.data);
        } else {
          const logged = StepLogsSchema.safeParse(details);
          if (logged.success) {
            if (logged.data.progress) state.progress.push(logged.data.progress);
            state.logs.push(...logged.data.logs);
          }
          const parsed = StepProgressSchema.safeParse(details);
          if (parsed.success) state.progress.push(parsed.data);
        }
      } catch {
        // Details another activity wrote in its own format: not progress.
      }
    }
    if ((activity.attempt ?? 1) > 1 && activity.lastFailure) {
      const error = await decodeOptionalFailureToOptionalError(converter, activity.lastFailure).catch(() => undefined);
      state.retrying = {
        step: only ?? activity.activityType?.name ?? "",
        attempt: activity.attempt ?? 1,
        ...(activity.maximumAttempts ? { maximumAttempts: activity.maximumAttempts } : {}),
        error: error ? rootCause(error) : (activity.lastFailure.message ?? "unknown failure"),
      };
      if (only === undefined && activity.activityId) state.retryingActivityId = activity.activityId;
      state.retries.push({ id: `${activity.activityId ?? state.retries.length}#${state.retrying.attempt}`, ...state.retrying });
    }
  }
  return state;
}

/** The label an activity was scheduled with (its summary), from history events; undefined when they lack its scheduling. */
export async function scheduledLabel(events: readonly temporal.api.history.v1.IHistoryEvent[], activityId: string, converter: LoadedDataConverter): Promise<string | undefined> {
  const summary = events.find((event) => event.activityTaskScheduledEventAttributes?.activityId === activityId)?.userMetadata?.summary;
  if (!summary) return undefined;
  const label = await decodeFromPayloadsAtIndex(converter, 0, [summary]).catch(() => undefined);
  return typeof label === "string" ? label : undefined;
}
