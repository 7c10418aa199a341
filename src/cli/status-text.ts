/** How a run's status reads on a terminal. */
import { formatUsd } from "../common/pricing.js";
import { hasEnded, progressText, waitingBetweenSteps, type PendingRequest, type RunStatus } from "../common/run-status.js";
import { bareAnswerField, howToAnswer } from "../client/answer-text.js";
import { costLine, type RunCost } from "../client/run-cost.js";

export function describePending(request: PendingRequest): string {
  if (request.kind === "approval") {
    return `${request.id}: approve ${request.server}/${request.tool} ${JSON.stringify(request.arguments)}?`;
  }
  // A one-field form of an MCP server's is answered bare, as its field asks.
  const sole = bareAnswerField(request);
  const schema = sole?.schema ?? request.schema;
  return `${request.id}: ${request.prompt}${schema ? `  (${howToAnswer(schema)})` : ""}`;
}

/** The command that answers a request from another terminal. */
export function answerHint(runId: string, request: PendingRequest, several: boolean): string {
  const which = several ? ` --request ${request.id}` : "";
  return request.kind === "approval"
    ? `approve with \`duragent approve ${runId}${which}\`, or \`duragent reject ${runId}${which} --reason …\``
    : `answer with \`duragent answer ${runId}${which} --value …\``;
}

/** `llm openai:gpt-4o (×2), tool fs/read_text_file`: alike steps once, with how many. */
function countedLabels(labels: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const label of labels) counts.set(label, (counts.get(label) ?? 0) + 1);
  return [...counts].map(([label, count]) => (count > 1 ? `${label} (×${count})` : label)).join(", ");
}

/** `cost` (from `runCost`) adds each model's cost and the run's; a model without a price shows its tokens alone. */
export function statusText(status: RunStatus, link?: string, cost?: RunCost): string {
  const last = status.currentStep ? `step ${status.stepCount}: ${status.currentStep}` : "";
  const waitingFor = waitingBetweenSteps(status);
  const step = waitingFor ? ` — waiting for ${waitingFor}${last ? ` (after ${last})` : ""}` : last ? ` — ${last}` : "";
  const lines = [`${status.runId}: ${status.phase}${step}`];
  if (status.partial) lines.push(`  (${status.partial})`);
  if (status.inFlight && !hasEnded(status.phase)) lines.push(`  in flight: ${countedLabels(status.inFlight)}`);
  // Where a nested pattern's work is: its child runs' latest steps, and how the last few to end ended.
  if (!hasEnded(status.phase)) {
    for (const child of status.childSteps ?? []) lines.push(`  [${child.run}] ${child.ended ? `${child.ended} after step` : "step"} ${child.stepCount}: ${child.recentSteps.at(-1)}`);
  }
  if (!hasEnded(status.phase)) for (const progress of status.progress ?? []) lines.push(`  progress of ${progress.step}: ${progressText(progress)}`);
  for (const request of status.pending) lines.push(`  waiting for ${describePending(request)}`, `    ${answerHint(status.runId, request, status.pending.length > 1)}`);
  if (status.phase === "paused") lines.push(`  resume with \`duragent resume ${status.runId}\``);
  for (const [model, usage] of Object.entries(status.usage)) {
    const cached = usage.cachedInputTokens ? ` (${usage.cachedInputTokens} cached)` : "";
    const usd = cost?.byModel[model];
    const unreported = usage.unreportedCalls ? ` (${usage.unreportedCalls} call${usage.unreportedCalls === 1 ? "" : "s"} reported no usage)` : "";
    const price = !cost ? "" : usd === undefined ? ", no price" : usage.unreportedCalls ? `, at least ${formatUsd(usd)}` : `, ${formatUsd(usd)}`;
    lines.push(`  tokens ${model}: ${usage.inputTokens} in${cached}, ${usage.outputTokens} out${unreported}${price}`);
  }
  if (cost) lines.push(`  ${costLine(cost)}`);
  // Who spent it, where several agents did (a pattern's, a swarm's): this run's own calls.
  const agents = Object.entries(status.usageByAgent ?? {});
  if (agents.length > 1) lines.push(`  by agent: ${agents.map(([agent, usage]) => `${agent} ${tokensOf(usage)}`).join(", ")}`);
  if (status.retrying) {
    const { step, attempt, maximumAttempts, error } = status.retrying;
    lines.push(`  retrying ${step} (attempt ${attempt}${maximumAttempts ? ` of ${maximumAttempts}` : ""}): ${error}`);
  }
  if (status.lastError) lines.push(`  ${status.phase === "failed" || status.phase === "terminated" ? status.phase : "last error"}${status.failedStep ? ` in ${status.failedStep}` : ""}: ${status.lastError}`);
  if (link) lines.push(`  Web UI: ${link}`);
  return lines.join("\n");
}

/** All of a usage's tokens, in and out. */
function tokensOf(usage: Record<string, { inputTokens: number; outputTokens: number }>): string {
  const { input, output } = Object.values(usage).reduce((sum, used) => ({ input: sum.input + used.inputTokens, output: sum.output + used.outputTokens }), { input: 0, output: 0 });
  return `${input} in, ${output} out`;
}
