/** `duragent result <runId>`: wait for a run's answer. */
import { resultText, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";

export async function resultCommand(context: CommandContext, runId: string): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
  const result = await handle.result();
  return { data: { runId, link: handle.link, result }, text: resultText(result) };
}
