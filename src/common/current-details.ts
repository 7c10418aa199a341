/**
 * What a run needs, as markdown for the Temporal Web UI's "Current Details" (set with
 * `setCurrentDetails`): its phase and step, and when it waits, the question or the tool call to
 * approve with the exact command that answers it. Sandbox-safe and pure.
 */
import type { PendingRequest, RunStatus } from "./run-status.js";

const phaseWords: Record<RunStatus["phase"], string> = {
  running: "running",
  waiting_input: "waiting for an answer",
  waiting_approval: "waiting for an approval",
  paused: "paused",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
  terminated: "terminated",
};

/** Long prompts and arguments are cut: the page is a summary, `duragent status` has the rest. */
const maxText = 500;

export function currentDetails(status: RunStatus): string {
  const step = status.currentStep ? `step ${status.stepCount}: \`${status.currentStep}\`` : `step ${status.stepCount}`;
  // A question or approval is not a step of its own: the run waits after its last one.
  const lines = [`**${phaseWords[status.phase]}** · ${status.pending.length > 0 || status.phase === "completed" ? `after ${step}` : step}`];
  if (status.retrying) {
    const of = status.retrying.maximumAttempts ? ` of ${status.retrying.maximumAttempts}` : "";
    lines.push(`Retrying \`${status.retrying.step}\` (attempt ${status.retrying.attempt}${of}): ${cut(status.retrying.error)}`);
  }
  const several = status.pending.length > 1;
  for (const request of status.pending) lines.push(...pendingLines(status.runId, request, several));
  if (status.phase === "paused") lines.push(`Resume: \`duragent resume ${status.runId}\``);
  if (status.lastError && status.phase === "failed") lines.push(`Failed${status.failedStep ? ` in \`${status.failedStep}\`` : ""}: ${cut(status.lastError)}`);
  return lines.join("\n\n");
}

function pendingLines(runId: string, request: PendingRequest, several: boolean): string[] {
  const which = several ? ` --request ${request.id}` : "";
  if (request.kind === "approval") {
    return [
      `**Approve the tool call** \`${request.server}/${request.tool}\`: ${cut(request.prompt)}`,
      `Arguments: \`${cut(JSON.stringify(request.arguments))}\``,
      `Approve: \`duragent approve ${runId}${which}\` · Reject: \`duragent reject ${runId}${which} --reason "…"\``,
    ];
  }
  const from = request.origin ? ` (from \`${request.origin.server}/${request.origin.tool}\`)` : "";
  return [`**Question**${from}: ${cut(request.prompt)}`, `Answer: \`duragent answer ${runId}${which} --value "…"\``];
}

function cut(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > maxText ? `${flat.slice(0, maxText)}…` : flat;
}
