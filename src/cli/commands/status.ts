/** `duragent status <runId>`: phase, current step, pending requests, token usage and last error. */
import type { CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import { statusText } from "../status-text.js";

export async function statusCommand(context: CommandContext, runId: string): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
  const status = await handle.status();
  return { data: { ...status, link: handle.link }, text: statusText(status, handle.link) };
}
