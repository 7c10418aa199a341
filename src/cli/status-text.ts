/** How a run's status reads on a terminal. */
import type { PendingRequest, RunStatus } from "../common/run-status.js";

export function describePending(request: PendingRequest): string {
  if (request.kind === "approval") {
    return `${request.id}: approve ${request.server}/${request.tool} ${JSON.stringify(request.arguments)}?`;
  }
  const schema = request.schema ? `  (answer as JSON matching ${JSON.stringify(request.schema)})` : "";
  return `${request.id}: ${request.prompt}${schema}`;
}

export function statusText(status: RunStatus, link?: string): string {
  const step = status.currentStep ? ` — step ${status.stepCount}: ${status.currentStep}` : "";
  const lines = [`${status.runId}: ${status.phase}${step}`];
  for (const request of status.pending) lines.push(`  waiting for ${describePending(request)}`);
  for (const [model, usage] of Object.entries(status.usage)) {
    lines.push(`  tokens ${model}: ${usage.inputTokens} in, ${usage.outputTokens} out`);
  }
  if (status.retrying) {
    const { step, attempt, maximumAttempts, error } = status.retrying;
    lines.push(`  retrying ${step} (attempt ${attempt}${maximumAttempts ? ` of ${maximumAttempts}` : ""}): ${error}`);
  }
  if (status.lastError) lines.push(`  ${status.phase === "failed" ? "failed" : "last error"}${status.failedStep ? ` in ${status.failedStep}` : ""}: ${status.lastError}`);
  if (link) lines.push(`  Web UI: ${link}`);
  return lines.join("\n");
}
