/**
 * `duragent chat <agent>`: an interactive session with an agent. Each line is a turn; `/end`
 * closes the chat; Ctrl-D leaves it running, to rejoin later with `--resume <runId>` (Temporal).
 * On a terminal (or with `--stream`) each reply is printed as it is written; an attempt that
 * failed and starts over is said on stderr, and its new text follows on a fresh line.
 */
import { ChatTurnFailed, turnUnderWay, type ChatSession, type ChatTextEvent } from "../../client/chat.js";
import { InvalidRunMessage } from "../../client/engine.js";
import type { CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import { UserError } from "../../errors/user-error.js";
import { textOf, type Message } from "../../common/messages.js";
import { answerUntil, lineReader, restartText } from "../follow-run.js";
import { readToolContext, toolContextError } from "../input-source.js";
import { answerHint, describePending } from "../status-text.js";

export async function chatCommand(context: CommandContext, agentName: string | undefined, options: { resume?: string; stream?: boolean; toolContext?: string }): Promise<CommandOutput> {
  const stream = options.stream ?? process.stdout.isTTY === true;
  const client = await context.client();
  await context.noticeScriptedModel();
  let chat: ChatSession;
  if (!options.resume) {
    if (!agentName) throw new UserError("Name the agent to chat with, or give --resume <runId>.");
    const toolContext = options.toolContext === undefined ? undefined : await readToolContext(options.toolContext);
    chat = await client.startChat(agentName, toolContext ? { toolContext } : {}).catch((error: unknown) => {
      throw toolContextError(error);
    });
  } else if (options.toolContext !== undefined) {
    throw new UserError("--tool-context is for a new chat: a rejoined chat keeps the context it began with.");
  } else {
    chat = await client.rejoinChat(options.resume);
  }
  // A memory chat lives only as long as this command: nothing is left to rejoin. One rejoined
  // lives on Temporal, whatever the configured engine (a memory engine looks ids up there).
  const rejoinable = client.engine === "temporal" || options.resume !== undefined;
  const leaving = rejoinable ? "Ctrl-D leaves it to rejoin with --resume" : "Ctrl-D ends it too: a memory chat lives only as long as this command";
  process.stderr.write(`chat ${chat.runId}${chat.link ? `\nWeb UI: ${chat.link}` : ""}\n(/end closes the chat; ${leaving}, as /exit does)\n`);
  if (options.resume) await rejoined(chat, stream);
  const rejoin = `duragent chat --resume ${chat.runId}`;
  // A second Ctrl-C leaves at once; the turn in flight goes on where it is rejoinable.
  if (rejoinable) context.interruptNotice = `left chat ${chat.runId}, its turn going on; rejoin with: ${rejoin}`;

  const input = lineReader(process.stderr);
  // A prompt that shows when a reply is whole; piped input gets none.
  const prompt = process.stdin.isTTY === true ? "> " : "";
  let turnInFlight = false;
  input.onEnd(() => {
    // Ctrl-C (or Ctrl-D) while a reply is written: said, since the reply goes on printing. Piped
    // input ends when its sender is done, which is no one's leaving.
    if (turnInFlight && process.stdin.isTTY === true) process.stderr.write(`\n(leaving after this reply; Ctrl-C again ${rejoinable ? `leaves now, the turn going on: rejoin with ${rejoin}` : "stops it now"})\n`);
  });
  let ended = false;
  try {
    for (;;) {
      const line = await input.ask(prompt, true);
      if (line === undefined) break;
      const text = line.trim();
      if (text === "") continue;
      if (text === "/end") {
        const result = await chat.end();
        ended = true;
        return { data: { runId: chat.runId, ended: true, result }, text: `chat ${chat.runId} ended after ${result.turns} turns` };
      }
      if (text === "/exit" || text === "/quit") break;
      if (/^\/[a-z]+$/i.test(text)) {
        process.stderr.write(`not sent: ${text} is not a command here; /end closes the chat, /exit (or Ctrl-D) leaves it. Anything else is sent.\n`);
        continue;
      }
      turnInFlight = true;
      const printer = stream ? streamPrinter() : undefined;
      const sent = chat.send(text, printer ? { onText: printer.print } : {});
      // A turn may ask a person (a question, an approval): asked here, as `run` asks.
      const asking = await answerUntil(chat.handle, sent, input, { answeredOnlyHere: !rejoinable, ...(printer ? { before: printer.endLine } : {}) });
      // The input ended with a question pending that another terminal can answer: left, as Ctrl-D leaves.
      if (asking === "input ended") break;
      try {
        const reply = await sent;
        if (printer?.printed) printer.endLine();
        else process.stdout.write(`${reply.text}\n`);
      } catch (error) {
        if (printer?.printed) printer.endLine();
        // The message was taken but its turn failed: say why; the next message starts from before it.
        if (error instanceof ChatTurnFailed) process.stderr.write(`duragent: ${error.message}\n`);
        else if (error instanceof InvalidRunMessage) process.stderr.write(`not sent: ${error.message}\n`);
        else throw error;
      } finally {
        turnInFlight = false;
      }
    }
  } finally {
    input.close();
  }
  // Said on stderr, as the banner was: standard output holds the replies alone.
  process.stderr.write(rejoinable ? `left chat ${chat.runId}; rejoin with: ${rejoin}\n` : `left chat ${chat.runId}\n`);
  return { data: { runId: chat.runId, ended }, text: "" };
}

/**
 * Where a rejoined chat stands: its last message and the reply to it. A reply still being written
 * is printed as the turn goes on, streamed as a new turn's is, before anything typed is sent.
 */
async function rejoined(chat: ChatSession, stream: boolean): Promise<void> {
  const [messages, status] = await Promise.all([chat.transcript(), chat.status()]);
  const asked = messages.findLastIndex((message) => message.role === "user");
  if (asked < 0) return;
  const turns = messages.filter((message) => message.role === "user").length;
  const cut = (text: string) => (text.length > 300 ? `${text.slice(0, 299)}…` : text).replace(/\s+/g, " ").trim();
  process.stderr.write(`(${turns} ${turns === 1 ? "turn" : "turns"} so far; the last)\nyou: ${cut(textOf(messages[asked]!.content))}\n`);
  let now = status;
  if (turnUnderWay(status)) {
    process.stderr.write("(its reply is being written:)\n");
    const printer = stream ? streamPrinter() : undefined;
    now = await chat.followTurn(printer?.print ?? (() => undefined));
    if (printer?.printed) printer.endLine();
    // Whole once the turn has ended; a turn that waits for a person says so below.
    else if (!turnUnderWay(now) && now.pending.length === 0) process.stdout.write(`${lastReply((await chat.transcript()).slice(asked + 1)) ?? ""}\n`);
  } else {
    const reply = lastReply(messages.slice(asked + 1));
    if (reply !== undefined) process.stderr.write(`reply: ${cut(reply)}\n`);
  }
  for (const request of now.pending) process.stderr.write(`(it waits for ${describePending(request)}: ${answerHint(chat.runId, request, now.pending.length > 1)})\n`);
}

/** The text of the model's last answer among a turn's messages. */
function lastReply(turn: Message[]): string | undefined {
  const reply = turn.findLast((message) => message.role === "assistant" && textOf(message.content).trim() !== "");
  return reply && textOf(reply.content);
}

/** Writes a turn's model answers to stdout as they stream, each model call on its own line. */
function streamPrinter() {
  let call: string | undefined;
  let midLine = false;
  const printer = {
    printed: false,
    endLine() {
      if (midLine) process.stdout.write("\n");
      midLine = false;
    },
    print(event: ChatTextEvent) {
      if (event.type === "restart" || (call !== undefined && event.id !== call)) printer.endLine();
      call = event.id;
      if (event.type === "restart") {
        process.stderr.write(`(${restartText(event)})\n`);
        return;
      }
      process.stdout.write(event.delta);
      printer.printed = true;
      midLine = !event.delta.endsWith("\n");
    },
  };
  return printer;
}
