/** `duragent history <runId>`: the messages a run's agents exchanged so far. */
import { linkLine, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import { decodedBytes, type Message, type TranscriptMessage } from "../../common/messages.js";

export async function historyCommand(context: CommandContext, runId: string, options: { childRuns?: boolean } = {}): Promise<CommandOutput> {
  const client = await context.client();
  const handle = await client.getHandle(runId);
  const transcript = await handle.transcript({ childRuns: options.childRuns === true });
  const text = historyText(transcript);
  if (transcript.length > 0) return { data: { runId, transcript, link: handle.link }, text: `${text}${linkLine(handle.link)}` };
  if (options.childRuns) return { data: { runId, transcript, link: handle.link }, text: `no messages in ${runId} nor in its child runs${linkLine(handle.link)}` };
  // A pattern whose participants all run as child runs has no messages of its own: say where they are.
  const children = (await handle.status({ watch: false }).catch(() => undefined))?.children ?? [];
  const where = children.length === 0 ? "" : `; its child runs keep theirs (\`duragent history ${runId} --child-runs\`)`;
  return { data: { runId, transcript, link: handle.link }, text: `no messages in ${runId} itself${where}${linkLine(handle.link)}` };
}

/**
 * One line a message; once there is more than one agent to tell apart, each line names whose it
 * is. A child run's messages come under a line naming it.
 */
export function historyText(transcript: readonly TranscriptMessage[]): string {
  const several = new Set(transcript.flatMap((message) => message.agent ?? [])).size > 1;
  const lines: string[] = [];
  let run: string | undefined;
  for (const message of transcript) {
    if (message.runId !== run) {
      run = message.runId;
      if (run !== undefined) lines.push(`── ${run}`);
    }
    lines.push(`${several && message.agent !== undefined ? `[${message.agent}] ` : ""}${messageLine(message)}`);
  }
  return lines.join("\n");
}

function messageLine(message: Message): string {
  if (message.role === "assistant" && message.toolCalls?.length) {
    const calls = message.toolCalls.map((call) => `${call.name}(${call.arguments})`).join(", ");
    return `assistant: ${message.content ? `${message.content} ` : ""}→ ${calls}`;
  }
  const content =
    typeof message.content === "string"
      ? message.content
      : message.content.map((part) => (part.type === "text" ? part.text : `[${part.mimeType} image, ${Math.round(decodedBytes(part.data) / 1024)} KB]`)).join(" ");
  // A tool's failure, as the model read it.
  return `${message.role}${message.role === "tool" ? ` ${message.toolName}${message.isError ? " (failed)" : ""}` : ""}: ${content}`;
}
