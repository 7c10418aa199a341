/** `duragent result <runId>`: wait for a run's answer. */
import { resultNote, resultText, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import { finishedRunCost } from "../../client/run-cost.js";
import { hasEnded } from "../../common/run-status.js";
import { answerHint, describePending } from "../status-text.js";

/** How long a run's answer may take before `result` says what the run is doing. */
const QUIET_MS = 1_000;

export async function resultCommand(context: CommandContext, runId: string): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
  let arrived = false;
  // An open run may wait for a person: say so, and how to answer, rather than wait in silence.
  const tell = setTimeout(() => {
    void handle
      .status({ watch: false })
      .then((status) => {
        if (arrived || hasEnded(status.phase)) return;
        const waits = status.pending.map((request) => `\n  waiting for ${describePending(request)}\n  ${answerHint(runId, request, status.pending.length > 1)}`);
        context.notice(`duragent: run ${runId} is ${status.phase.replace("_", " for ")}; \`result\` waits until it ends.${waits.join("")}`);
      })
      .catch(() => undefined);
  }, QUIET_MS);
  const result = await handle.result().finally(() => {
    arrived = true;
    clearTimeout(tell);
  });
  // Only --json shows the cost: the text is the answer alone.
  const cost = context.options.json ? await finishedRunCost(handle, result, (await context.config()).pricing) : undefined;
  return { data: { runId, link: handle.link, result, ...(cost ? { cost } : {}) }, text: resultText(result), note: resultNote(result) };
}
