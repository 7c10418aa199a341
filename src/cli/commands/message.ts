/**
 * `duragent signal|query|update <runId> <name>`: reach the handlers a run's workflow code set
 * itself (`ctx.messages.onSignal`, `onQuery`, `onUpdate`), as `temporal workflow signal` would.
 */
import { linkLine, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";

export type MessageKind = "signal" | "query" | "update";

/** `--value` as JSON when it parses as JSON (`3`, `true`, `{"a":1}`, `"text"`), else as the text typed. */
export function messageValue(raw: string | undefined): unknown {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

export async function messageCommand(context: CommandContext, kind: MessageKind, runId: string, name: string, value: string | undefined): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
  const payload = messageValue(value);
  if (kind === "signal") {
    await handle.signal(name, payload);
    return { data: { runId, signal: name, sent: true }, text: `sent signal '${name}' to ${runId}${linkLine(handle.link)}` };
  }
  const result = kind === "query" ? await handle.query(name, payload) : await handle.update(name, payload);
  return { data: { runId, [kind]: name, result }, text: typeof result === "string" ? result : (JSON.stringify(result, null, 2) ?? "(no result)") };
}
