/** `duragent reject <runId> --reason <text>`: reject a pending tool call; the model reads the reason. */
import { linkLine, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";

export async function rejectCommand(context: CommandContext, runId: string, options: { request?: string; reason: string }): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
  await context.whileAWorkerTakes(handle.reject(options.reason, options.request ? { requestId: options.request } : {}), "the rejection");
  return { data: { runId, approved: false, link: handle.link }, text: `rejected ${runId}${linkLine(handle.link)}` };
}
