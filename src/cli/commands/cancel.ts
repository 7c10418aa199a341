/** `duragent cancel <runId>` and `duragent terminate <runId>`: stop a run, its steps in flight included. */
import { linkLine, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";

export async function cancelCommand(context: CommandContext, runId: string): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
  await handle.cancel();
  return { data: { runId, cancelled: true, link: handle.link }, text: `cancelling ${runId}${linkLine(handle.link)}` };
}

export async function terminateCommand(context: CommandContext, runId: string, options: { reason?: string }): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
  await handle.terminate(options.reason);
  return { data: { runId, terminated: true, link: handle.link }, text: `terminated ${runId}${linkLine(handle.link)}` };
}
