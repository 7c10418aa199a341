/** `duragent history <runId>`: the messages a run's agents exchanged so far. */
import { linkLine, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";

export async function historyCommand(context: CommandContext, runId: string): Promise<CommandOutput> {
  const handle = await (await context.client()).getHandle(runId);
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
