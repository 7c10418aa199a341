/**
 * Tool-call progress on Temporal: the activity sends each MCP progress notification as its
 * heartbeat details (no history events), and the client reads them from the run's pending
 * activities when it builds the status.
 */
import type { WorkflowExecutionDescription } from "@temporalio/client";
import type { PayloadConverter } from "@temporalio/common";
import { StepProgressSchema, type StepProgress } from "../common/server-requests.js";

export function progressOfPendingActivities(description: WorkflowExecutionDescription, converter: PayloadConverter): StepProgress[] {
  const progress: StepProgress[] = [];
  for (const activity of description.raw.pendingActivities ?? []) {
    const payload = activity.heartbeatDetails?.payloads?.[0];
    if (!payload) continue;
    try {
      const parsed = StepProgressSchema.safeParse(converter.fromPayload(payload));
      if (parsed.success) progress.push(parsed.data);
    } catch {
      // Details another activity wrote in its own format: not progress.
    }
  }
  return progress;
}
