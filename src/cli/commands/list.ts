/** `duragent list`: recent runs, newest first. */
import type { CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";

export async function listCommand(context: CommandContext, options: { limit: number }): Promise<CommandOutput> {
  const runs = await (await context.client()).list({ limit: options.limit });
  const text = runs.length === 0 ? "no runs" : runs.map((run) => `${run.runId}  ${run.phase}  ${run.type}  ${run.startedAt ?? ""}`).join("\n");
  return { data: runs, text };
}
