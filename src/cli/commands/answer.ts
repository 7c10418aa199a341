/** `duragent answer <runId>`: answer a run's pending question, or decline one an MCP server asked. */
import { UserError } from "../../errors/user-error.js";
import { questionFor, sendTypedAnswer } from "../../client/answer-text.js";
import { linkLine, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import { readInputSource } from "../input-source.js";

export interface AnswerOptions {
  value?: string;
  request?: string;
  action?: "accept" | "decline" | "cancel";
}

export async function answerCommand(context: CommandContext, runId: string, options: AnswerOptions): Promise<CommandOutput> {
  const action = options.action ?? "accept";
  if (action === "accept" && options.value === undefined) {
    throw new UserError("Give the answer with --value, or --decline / --cancel for a question an MCP server asked.");
  }
  const handle = await (await context.client()).getHandle(runId);
  const raw = options.value === undefined ? undefined : await readInputSource(options.value, "--value");
  // Read as the question asks; the run names the question when --request is left out and one is pending.
  const send = (value: unknown) => context.whileAWorkerTakes(handle.answer({ requestId: options.request, value, ...(action === "accept" ? {} : { action }) }), "the answer");
  if (raw === undefined) await send(undefined);
  else await sendTypedAnswer(raw, async () => questionFor(await handle.status({ watch: false }), options.request), send);
  const verb = action === "accept" ? "answered" : action === "decline" ? "declined" : "cancelled the question of";
  return { data: { runId, action, link: handle.link }, text: `${verb} ${runId}${linkLine(handle.link)}` };
}
