/**
 * Temporal's `patched()` and `deprecatePatch()` for workflow code that runs on both engines. On
 * Temporal they are the SDK's own; the memory engine keeps no history to replay, so every run
 * there is new and takes the new path.
 */
import * as workflow from "@temporalio/workflow";

/** True for a run that takes the new path: a new run, or one whose history recorded this patch. */
export function patched(patchId: string): boolean {
  return workflow.inWorkflowContext() ? workflow.patched(patchId) : true;
}

/** Marks a patch whose old path no open run needs any more (see README, "Changing workflow code safely"). */
export function deprecatePatch(patchId: string): void {
  if (workflow.inWorkflowContext()) workflow.deprecatePatch(patchId);
}
