/** `duragent pause` and `duragent resume <runId>`: hold a run before its next step, or let it go on. */
import { linkLine, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";

export async function pauseCommand(context: CommandContext, runId: string): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
  await handle.pause();
  return { data: { runId, paused: true, link: handle.link }, text: `paused ${runId} before its next step${linkLine(handle.link)}` };
}

export async function resumeCommand(context: CommandContext, runId: string): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
  await handle.resume();
  return { data: { runId, paused: false, link: handle.link }, text: `resumed ${runId}${linkLine(handle.link)}` };
}
