/** `duragent result <runId>`: wait for a run's answer. */
import { resultText, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import { finishedRunCost } from "../../client/run-cost.js";

export async function resultCommand(context: CommandContext, runId: string): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
  const result = await handle.result();
  // Only --json shows the cost: the text is the answer alone.
  const cost = context.options.json ? await finishedRunCost(handle, result, (await context.config()).pricing) : undefined;
  return { data: { runId, link: handle.link, result, ...(cost ? { cost } : {}) }, text: resultText(result) };
}
