/** `duragent status <runId>`: phase, current step, pending requests, token usage and cost, and last error. */
import type { CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import { runCost } from "../../client/run-cost.js";
import { statusText } from "../status-text.js";

export async function statusCommand(context: CommandContext, runId: string): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
  const status = await handle.status();
  const cost = runCost(status.usage, (await context.config()).pricing);
  return { data: { ...status, ...(cost ? { cost } : {}), link: handle.link }, text: statusText(status, handle.link, cost) };
}
