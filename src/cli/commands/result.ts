/** `duragent result <runId>`: wait for a run's answer. */
import { resultNote, resultText, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import { finishedRunCost } from "../../client/run-cost.js";
import { answerHint } from "../follow-run.js";
import type { PendingRequest } from "../../common/run-status.js";

/** How long a run's answer may take before `result` says what the run is doing. */
const QUIET_MS = 1_000;

export async function resultCommand(context: CommandContext, runId: string): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
  const ending = handle.result();
  // An open run may wait for a person: say so, and how to answer, rather than wait in silence.
  const tell = setTimeout(() => {
    void handle
      .status({ watch: false })
      .then((status) => context.notice(`duragent: run ${runId} is ${status.phase}; this waits for its answer.${waitsText(runId, status.pending)}`))
      .catch(() => undefined);
  }, QUIET_MS);
  const result = await ending.finally(() => clearTimeout(tell));
  // Only --json shows the cost: the text is the answer alone.
  const cost = context.options.json ? await finishedRunCost(handle, result, (await context.config()).pricing) : undefined;
  return { data: { runId, link: handle.link, result, ...(cost ? { cost } : {}) }, text: resultText(result), note: resultNote(result, runId) };
}

function waitsText(runId: string, pending: readonly PendingRequest[]): string {
  return pending.map((request) => `\n  ${request.id}: ${request.prompt.split("\n")[0]!.slice(0, 100)} (${answerHint(runId, request, pending.length > 1)})`).join("");
}
