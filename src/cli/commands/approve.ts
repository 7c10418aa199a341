/** `duragent approve <runId>`: approve a pending tool call, optionally with edited arguments. */
import { UserError } from "../../errors/user-error.js";
import { linkLine, parseInput, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";

export async function approveCommand(context: CommandContext, runId: string, options: { request?: string; arguments?: string }): Promise<CommandOutput> {
  const edited = options.arguments === undefined ? undefined : parseArguments(options.arguments);
  const handle = await (await context.client()).getHandle(runId);
  await context.whileAWorkerTakes(handle.approve({ ...(options.request ? { requestId: options.request } : {}), ...(edited ? { arguments: edited } : {}) }), "the approval");
  return { data: { runId, approved: true, link: handle.link }, text: `approved ${runId}${linkLine(handle.link)}` };
}

function parseArguments(raw: string): Record<string, unknown> {
  const parsed = parseInput(raw);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UserError(`--arguments must be a JSON object, e.g. '{"path":"notes.md"}'; got: ${raw}`);
  }
  return parsed as Record<string, unknown>;
}
