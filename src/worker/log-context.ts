/** The Temporal activity a log line was written in, from the SDK's activity context. */
import { Context } from "@temporalio/activity";

export function activityLogContext(): Record<string, unknown> | undefined {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return undefined; // not inside an activity
  }
  const { workflowExecution, activityType, activityId, attempt, isLocal } = context.info;
  return { workflowId: workflowExecution?.workflowId, runId: workflowExecution?.runId, activityType, activityId, attempt, ...(isLocal ? { isLocal } : {}) };
}
