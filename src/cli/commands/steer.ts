/**
 * Commands that look at or steer one run: status, input, approve, reject, pause, resume, cancel,
 * and the list of runs. Each returns data; the CLI prints text or JSON.
 */
import { parseInput, type CommandOutput } from "../command-output.js";
import { findRun } from "../run-lookup.js";
import type { Session } from "../session.js";
import { statusText } from "../status-text.js";
import { UserError } from "../../errors/user-error.js";

export async function statusCommand(session: Session, runId: string): Promise<CommandOutput> {
  const handle = await findRun(session, runId);
  const status = await handle.status();
  return { data: { ...status, link: handle.link }, text: statusText(status, handle.link) };
}

export async function inputCommand(
  session: Session,
  runId: string,
  options: { value?: string; request?: string; action?: "accept" | "decline" | "cancel" },
): Promise<CommandOutput> {
  const action = options.action ?? "accept";
  if (action === "accept" && options.value === undefined) {
    throw new UserError("Give the answer with --value, or --decline / --cancel for a question an MCP server asked.");
  }
  const handle = await findRun(session, runId);
  const value = options.value === undefined ? undefined : parseInput(options.value);
  await handle.sendInput({ requestId: options.request, value, ...(action === "accept" ? {} : { action }) });
  const verb = action === "accept" ? "answered" : action === "decline" ? "declined" : "cancelled the question of";
  return { data: { runId, action, link: handle.link }, text: `${verb} ${runId}${linkLine(handle.link)}` };
}

export async function approveCommand(
  session: Session,
  runId: string,
  options: { request?: string; arguments?: string },
): Promise<CommandOutput> {
  const handle = await findRun(session, runId);
  const edited = options.arguments === undefined ? undefined : parseArguments(options.arguments);
  await handle.decide({ requestId: options.request, approved: true, arguments: edited });
  return { data: { runId, approved: true, link: handle.link }, text: `approved${linkLine(handle.link)}` };
}

export async function rejectCommand(
  session: Session,
  runId: string,
  options: { request?: string; reason: string },
): Promise<CommandOutput> {
  const handle = await findRun(session, runId);
  await handle.decide({ requestId: options.request, approved: false, reason: options.reason });
  return { data: { runId, approved: false, link: handle.link }, text: `rejected${linkLine(handle.link)}` };
}

export async function pauseCommand(session: Session, runId: string): Promise<CommandOutput> {
  const handle = await findRun(session, runId);
  await handle.pause();
  return { data: { runId, paused: true, link: handle.link }, text: `paused ${runId} before its next step${linkLine(handle.link)}` };
}

export async function resumeCommand(session: Session, runId: string): Promise<CommandOutput> {
  const handle = await findRun(session, runId);
  await handle.resume();
  return { data: { runId, paused: false, link: handle.link }, text: `resumed ${runId}${linkLine(handle.link)}` };
}

export async function cancelCommand(session: Session, runId: string): Promise<CommandOutput> {
  const handle = await findRun(session, runId);
  await handle.cancel();
  return { data: { runId, cancelled: true, link: handle.link }, text: `cancelling ${runId}${linkLine(handle.link)}` };
}

export async function listCommand(session: Session, options: { limit: number }): Promise<CommandOutput> {
  const runs = await (await session.engine()).list(options.limit);
  const text = runs.length === 0 ? "no runs" : runs.map((run) => `${run.runId}  ${run.phase}  ${run.type}  ${run.startedAt ?? ""}`).join("\n");
  return { data: runs, text };
}

export async function historyCommand(session: Session, runId: string): Promise<CommandOutput> {
  const handle = await findRun(session, runId);
  const transcript = await handle.transcript();
  const text = transcript
    .map((message) => {
      if (message.role === "assistant" && message.toolCalls?.length) {
        const calls = message.toolCalls.map((call) => `${call.name}(${call.arguments})`).join(", ");
        return `assistant: ${message.content ? `${message.content} ` : ""}→ ${calls}`;
      }
      const content = typeof message.content === "string" ? message.content : message.content.map((part) => (part.type === "text" ? part.text : `[${part.type}]`)).join(" ");
      return `${message.role}${message.role === "tool" ? ` ${message.toolName}` : ""}: ${content}`;
    })
    .join("\n");
  return { data: { runId, transcript, link: handle.link }, text: `${text}${linkLine(handle.link)}` };
}

function linkLine(link: string | undefined): string {
  return link ? `\nWeb UI: ${link}` : "";
}

function parseArguments(raw: string): Record<string, unknown> {
  const parsed = parseInput(raw);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UserError(`--arguments must be a JSON object, e.g. '{"path":"notes.md"}'; got: ${raw}`);
  }
  return parsed as Record<string, unknown>;
}
