/**
 * `duragent chat <agent>`: an interactive session with an agent. Each line is a turn; `/end`
 * closes the chat; Ctrl-D leaves it running, to rejoin later with `--resume <runId>` (Temporal).
 */
import { createInterface } from "node:readline";
import type { ChatSession } from "../../client/chat.js";
import { InvalidRunMessage } from "../../client/engine.js";
import type { CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import { UserError } from "../../errors/user-error.js";

export async function chatCommand(context: CommandContext, agentName: string | undefined, options: { resume?: string }): Promise<CommandOutput> {
  const client = await context.client();
  await context.noticeScriptedModel();
  let chat: ChatSession;
  if (options.resume) {
    chat = await client.rejoinChat(options.resume);
  } else {
    if (!agentName) throw new UserError("Name the agent to chat with, or give --resume <runId>.");
    const target = await client.target(agentName);
    if (target.kind !== "agent") throw new UserError(`'${agentName}' is a ${target.kind}; chat needs an agent.`);
    chat = await client.startChat(target.agent);
  }
  process.stderr.write(`chat ${chat.runId}${chat.link ? `\nWeb UI: ${chat.link}` : ""}\n(/end closes the chat; Ctrl-D leaves it to rejoin with --resume)\n`);

  const lines = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY === true });
  let ended = false;
  try {
    for await (const line of lines) {
      const text = line.trim();
      if (text === "") continue;
      if (text === "/end") {
        const result = await chat.end();
        ended = true;
        return { data: { runId: chat.runId, ended: true, result }, text: `chat ${chat.runId} ended after ${result.turns} turns` };
      }
      try {
        const reply = await chat.send(text);
        process.stdout.write(`${reply.text}\n`);
      } catch (error) {
        if (!(error instanceof InvalidRunMessage)) throw error;
        process.stderr.write(`not sent: ${error.message}\n`);
      }
    }
  } finally {
    lines.close();
  }
  return { data: { runId: chat.runId, ended }, text: `left chat ${chat.runId}; rejoin with: duragent chat --resume ${chat.runId}` };
}
