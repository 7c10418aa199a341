/**
 * A long chat with one agent: user messages arrive by update (`duragent.chat.send`) and each is
 * answered by the agent's model, tools included, as one turn.
 *
 * A chat can outlive any single history. After `turnsPerRun` turns, or when Temporal suggests it,
 * the run continues as new and hands over the conversation, usage and turn count; clients keep
 * talking to the same run id. Within a run, model calls refer to the transcript instead of
 * repeating it (see transcript-references.ts), so a run's history grows linearly with its turns.
 *
 * Turns run one at a time in the main loop, in arrival order; an update handler only queues its
 * message and waits for the reply. So the main loop decides when a run ends, and it ends only
 * once every handler has answered its sender.
 */
import { ApplicationFailure } from "@temporalio/common";
import { isCancellation } from "@temporalio/workflow";
import { z } from "zod";
import {
  ChatMessages,
  ChatSendSchema,
  ChatStateSchema,
  type ChatReply,
  type ChatTurn,
  type ChatResult,
  type ChatSend,
  type ChatState,
} from "../../common/chat.js";
import { rootCause } from "../../common/failures.js";
import { historyLimitDefaults } from "../../common/run-settings.js";
import type { Message } from "../../common/messages.js";
import { fitInOnePayload, jsonBytes, messagesPayloadBytes } from "../../common/transcript-reference.js";
import { finalText, type AgentLlm } from "../agent/agent-llm.js";
import { AgentSpecSchema, defineAgent } from "../agent/define-agent.js";
import type { Executor } from "../executor/executor.js";
import { addUsage, type UsageByModel } from "../../common/usage.js";

export const ChatInputSchema = z.object({
  agent: AgentSpecSchema,
  /** Continue as a new run after this many turns; the run settings' `chatTurnsPerRun` when absent. */
  turnsPerRun: z.number().int().positive().optional(),
  /** What the previous run handed over; absent when the chat starts. */
  carried: ChatStateSchema.optional(),
});
export type ChatInput = z.input<typeof ChatInputSchema>;

/** Why a turn failed, sent back to the one who sent its message; the chat goes on. */
export const chatTurnFailed = "ChatTurnFailed";

interface QueuedMessage {
  id: number;
  text: string;
}

// Enough for every sender waiting on a reply when a run hands over to the next.
const RECENT_REPLIES = 20;

type TurnOutcome = { ok: true; reply: ChatReply } | { ok: false; error: string };

export async function runChat(ctx: Executor, rawInput: ChatInput): Promise<ChatResult> {
  return new ChatSession(ctx, ChatInputSchema.parse(rawInput)).run();
}

class ChatSession {
  private readonly queue: QueuedMessage[] = [];
  private readonly outcomes = new Map<number, TurnOutcome>();
  private readonly state: ChatState;
  private readonly turnsPerRun: number;
  private nextId = 0;
  private turnsThisRun = 0;
  private ended = false;
  private result?: ChatResult;

  constructor(
    private readonly ctx: Executor,
    private readonly input: z.output<typeof ChatInputSchema>,
  ) {
    this.state = input.carried ?? { messages: [], usage: {}, turns: 0, run: 1, recentReplies: [] };
    this.turnsPerRun = input.turnsPerRun ?? ctx.run.settings.chatTurnsPerRun ?? historyLimitDefaults.chatTurnsPerRun;
    // Registered before the first await, so messages sent while the run starts are queued, not refused.
    ctx.messages.onQuery<{ turn: number }, ChatReply | null>(
      ChatMessages.reply,
      ({ turn }) => this.state.recentReplies.find((reply) => reply.turn === turn) ?? null,
    );
    ctx.messages.onUpdate<ChatSend, ChatTurn>(ChatMessages.send, (message) => this.enqueue(message), {
      validator: (message) => this.validateSend(message),
    });
    ctx.messages.onUpdate<unknown, ChatResult>(ChatMessages.end, () => this.end(), {
      validator: () => {
        if (this.ended) throw new Error("The chat has already ended.");
      },
    });
    ctx.messages.onSignal<unknown>(ChatMessages.end, () => {
      this.ended = true;
    });
  }

  async run(): Promise<ChatResult> {
    if (this.state.steps !== undefined) this.ctx.run.countStepsFrom(this.state.steps);
    const llm = await defineAgent(this.input.agent).attachLlm(this.ctx);
    // The conversation so far is this run's transcript too, so model calls can refer to it.
    llm.history.push(...this.state.messages);
    this.ctx.run.addToTranscript(this.state.messages, this.input.agent.name);
    for (const [model, usage] of Object.entries(this.state.usage)) this.ctx.run.addUsage(model, usage);

    for (;;) {
      if (this.queue.length === 0) this.ctx.run.waitingFor("the next message");
      await this.ctx.condition(() => this.queue.length > 0 || this.ended || this.runIsFull());
      this.ctx.run.waitingFor(undefined);
      const next = this.queue.shift();
      if (next) {
        await this.takeTurn(llm, next);
        continue;
      }
      // Closing. A run that ends or continues as new while a handler still runs would leave its
      // sender without an answer, so answer the end request and whatever still arrives first.
      if (this.ended) this.result ??= this.summary(llm);
      if (this.ctx.messages.allFinished()) break;
      await this.ctx.condition(
        () => this.queue.length > 0 || (this.ended && this.result === undefined) || this.ctx.messages.allFinished(),
      );
    }
    if (this.result) return this.result;
    return this.ctx.continueAsNew({
      agent: this.input.agent,
      turnsPerRun: this.input.turnsPerRun,
      carried: this.handOver(llm),
    });
  }

  private runIsFull(): boolean {
    return this.turnsThisRun >= this.turnsPerRun || this.ctx.run.continueAsNewSuggested();
  }

  private validateSend(message: ChatSend): void {
    if (this.ended) throw new Error("The chat has ended; start a new one.");
    const parsed = ChatSendSchema.safeParse(message);
    if (!parsed.success) throw new Error(`Invalid chat message: ${z.prettifyError(parsed.error)}`);
  }

  private async enqueue(message: ChatSend): Promise<ChatTurn> {
    const id = ++this.nextId;
    this.queue.push({ id, text: message.text });
    await this.ctx.condition(() => this.outcomes.has(id));
    const outcome = this.outcomes.get(id)!;
    this.outcomes.delete(id);
    if (!outcome.ok) throw ApplicationFailure.create({ message: outcome.error, type: chatTurnFailed, nonRetryable: true });
    return { turn: outcome.reply.turn };
  }

  /** Ends the chat after the turns already queued; answers with the final tally. */
  private async end(): Promise<ChatResult> {
    this.ended = true;
    await this.ctx.condition(() => this.result !== undefined);
    return this.result!;
  }

  private async takeTurn(llm: AgentLlm, message: QueuedMessage): Promise<void> {
    try {
      const added = await llm.generate(message.text);
      this.state.turns += 1;
      this.turnsThisRun += 1;
      const reply = { turn: this.state.turns, text: finalText(added) };
      this.state.recentReplies = [...this.state.recentReplies, reply].slice(-RECENT_REPLIES);
      this.outcomes.set(message.id, { ok: true, reply });
    } catch (error) {
      if (isCancellation(error)) throw error;
      // The failed turn leaves the conversation as it was (the model loop keeps only whole turns).
      // The root cause (the provider's or the tool's words), not Temporal's "Activity task failed".
      // A chat has one agent: the words it prefixes its failure with say nothing more here.
      const reason = rootCause(error);
      const own = `${llm.name}: `;
      this.outcomes.set(message.id, { ok: false, error: `The agent could not answer: ${reason.startsWith(own) ? reason.slice(own.length) : reason}` });
    }
  }

  private usage(llm: AgentLlm): UsageByModel {
    const total: UsageByModel = { ...this.state.usage };
    for (const [model, usage] of Object.entries(llm.usage)) addUsage(total, model, usage);
    return total;
  }

  private summary(llm: AgentLlm): ChatResult {
    return { turns: this.state.turns, runs: this.state.run, messageCount: (this.state.leftOut ?? 0) + withoutNote(llm.history).length, usage: this.usage(llm) };
  }

  private handOver(llm: AgentLlm): ChatState {
    const conversation = withoutNote(llm.history);
    const kept = conversationToHandOver(conversation);
    const leftOut = (this.state.leftOut ?? 0) + conversation.length - kept.length;
    return {
      // The model is told that it no longer sees everything, rather than left to think it does.
      messages: leftOut > 0 ? [leftOutNote(leftOut), ...kept] : kept,
      usage: this.usage(llm),
      turns: this.state.turns,
      run: this.state.run + 1,
      steps: this.ctx.run.status().stepCount,
      recentReplies: this.state.recentReplies,
      ...(leftOut > 0 ? { leftOut } : {}),
    };
  }
}

const notePrefix = "duragent: ";

/** What a compacted conversation starts with: how much of it the model no longer sees. */
function leftOutNote(leftOut: number): Message {
  return {
    role: "system",
    content: `${notePrefix}${leftOut} earlier messages of this conversation (tool calls and their results, then the oldest turns) are left out of what you see, to keep it under the size one workflow run may hand to the next. Ask the user for anything you need from them.`,
  };
}

/** The conversation without the note an earlier hand-over put first; each hand-over writes its own. */
function withoutNote(messages: Message[]): Message[] {
  const first = messages[0];
  return first?.role === "system" && first.content.startsWith(notePrefix) ? messages.slice(1) : messages;
}

/**
 * The conversation as the next run gets it, in the one payload of a continue-as-new. Past
 * `messagesPayloadBytes` the tool traffic goes (calls and results; each reply keeps its text), and
 * past that again the oldest turns: a refused hand-over would stop the chat, and a conversation
 * that big is past most models' context anyway.
 */
function conversationToHandOver(messages: Message[]): Message[] {
  if (fitInOnePayload(messages)) return messages;
  const talk: Message[] = [];
  for (const message of messages) {
    if (message.role === "tool") continue;
    if (message.role === "assistant" && message.toolCalls) {
      if (message.content) talk.push({ role: "assistant", content: message.content });
      continue;
    }
    talk.push(message);
  }
  // The latest part that fits, from a user message on, so that every reply keeps its question.
  let start = talk.length;
  for (let index = talk.length - 1, bytes = 0; index >= 0; index--) {
    bytes += jsonBytes(talk[index]);
    if (bytes > messagesPayloadBytes) break;
    if (talk[index]!.role === "user") start = index;
  }
  return talk.slice(start);
}
