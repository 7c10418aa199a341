/** `duragent answer <runId>`: answer a run's pending question, or decline one an MCP server asked. */
import { UserError } from "../../errors/user-error.js";
import { answerValue, linkLine, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import type { RunHandle } from "../../client/engine.js";
import type { QuestionRequest } from "../../common/run-status.js";
import { readInputSource } from "../input-source.js";

export interface AnswerOptions {
  value?: string;
  request?: string;
  action?: "accept" | "decline" | "cancel";
}

/** The pending question an answer goes to, as the run would choose it; undefined when the run cannot say. */
async function questionOf(handle: RunHandle, requestId: string | undefined): Promise<QuestionRequest | undefined> {
  const status = await handle.status().catch(() => undefined);
  const questions = (status?.pending ?? []).filter((request): request is QuestionRequest => request.kind === "input");
  return requestId === undefined ? (questions.length === 1 ? questions[0] : undefined) : questions.find((request) => request.id === requestId);
}

export async function answerCommand(context: CommandContext, runId: string, options: AnswerOptions): Promise<CommandOutput> {
  const action = options.action ?? "accept";
  if (action === "accept" && options.value === undefined) {
    throw new UserError("Give the answer with --value, or --decline / --cancel for a question an MCP server asked.");
  }
  const handle = await (await context.client()).getHandle(runId);
  const raw = options.value === undefined ? undefined : await readInputSource(options.value, "--value");
  // Read as the question asks; the run names the question when --request is left out and one is pending.
  const value = raw === undefined ? undefined : answerValue(raw, (await questionOf(handle, options.request))?.schema);
  await handle.answer({ requestId: options.request, value, ...(action === "accept" ? {} : { action }) });
  const verb = action === "accept" ? "answered" : action === "decline" ? "declined" : "cancelled the question of";
  return { data: { runId, action, link: handle.link }, text: `${verb} ${runId}${linkLine(handle.link)}` };
}
