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
import { finalText } from "../agent/agent-llm.js";
import { AgentSpecSchema, defineAgent, type AgentSpec } from "../agent/define-agent.js";
import { buildPattern } from "../patterns/build-pattern.js";
import { PatternSpecSchema, type PatternSpec } from "../patterns/pattern-spec.js";
import { Swarm } from "../patterns/swarm.js";
import type { Executor } from "../executor/executor.js";
import { addUsage, type UsageByModel } from "../../common/usage.js";

export const ChatInputSchema = z
  .object({
    /** The agent that answers; or give `pattern`. */
    agent: AgentSpecSchema.optional(),
    /** A pattern that answers each turn, given the conversation so far (a swarm goes on with the agent that had it). */
    pattern: PatternSpecSchema.optional(),
    /** Continue as a new run after this many turns; the run settings' `chatTurnsPerRun` when absent. */
    turnsPerRun: z.number().int().positive().optional(),
    /** What the previous run handed over; absent when the chat starts. */
    carried: ChatStateSchema.optional(),
  })
  .refine((input) => (input.agent === undefined) !== (input.pattern === undefined), { message: "a chat has an agent or a pattern: give one of them" });
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
    const { agent, pattern } = this.input;
    const llm = agent ? await agentResponder(this.ctx, agent, this.state) : patternResponder(this.ctx, pattern!, this.state);
    // The conversation so far is this run's transcript too, so model calls can refer to it.
    this.ctx.run.addToTranscript(this.state.messages, llm.name);
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
      ...(agent ? { agent } : { pattern }),
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

  private async takeTurn(llm: Responder, message: QueuedMessage): Promise<void> {
    try {
      const text = await llm.turn(message.text);
      this.state.turns += 1;
      this.turnsThisRun += 1;
      const reply = { turn: this.state.turns, text };
      this.state.recentReplies = [...this.state.recentReplies, reply].slice(-RECENT_REPLIES);
      this.outcomes.set(message.id, { ok: true, reply });
    } catch (error) {
      if (isCancellation(error)) throw error;
      // The failed turn leaves the conversation as it was (the model loop keeps only whole turns).
      // The root cause (the provider's or the tool's words), not Temporal's "Activity task failed".
      this.outcomes.set(message.id, { ok: false, error: `The ${this.input.agent ? "agent" : this.input.pattern!.pattern} could not answer: ${rootCause(error)}` });
    }
  }

  private summary(llm: Responder): ChatResult {
    return { turns: this.state.turns, runs: this.state.run, messageCount: (this.state.leftOut ?? 0) + withoutNote(llm.conversation()).length, usage: llm.usage() };
  }

  private handOver(llm: Responder): ChatState {
    const conversation = withoutNote(llm.conversation());
    const kept = conversationToHandOver(conversation);
    const leftOut = (this.state.leftOut ?? 0) + conversation.length - kept.length;
    const swarm = llm.swarm?.();
    return {
      // The model is told that it no longer sees everything, rather than left to think it does.
      messages: leftOut > 0 ? [leftOutNote(leftOut), ...kept] : kept,
      usage: llm.usage(),
      turns: this.state.turns,
      run: this.state.run + 1,
      steps: this.ctx.run.status().stepCount,
      recentReplies: this.state.recentReplies,
      ...(leftOut > 0 ? { leftOut } : {}),
      ...(swarm ? { swarm } : {}),
    };
  }
}

/** Who answers a chat's turns: an agent, which keeps its own history, or a pattern, given the conversation each turn. */
interface Responder {
  readonly name: string;
  /** Answers one user message; the conversation grows by the turn, or stays as it was when it fails. */
  turn(text: string): Promise<string>;
  /** The conversation so far: user messages, model turns, tool results. */
  conversation(): Message[];
  /** Tokens used by the chat so far, its earlier runs' included. */
  usage(): UsageByModel;
  /** A swarm's: the agent that has the conversation, and the context variables, for the next run. */
  swarm?(): ChatState["swarm"];
}

async function agentResponder(ctx: Executor, agent: AgentSpec, state: ChatState): Promise<Responder> {
  const llm = await defineAgent(agent).attachLlm(ctx);
  llm.history.push(...state.messages);
  return {
    name: agent.name,
    turn: async (text) => {
      try {
        return finalText(await llm.generate(text));
      } catch (error) {
        // A chat has one agent: the words it prefixes its failure with say nothing more here.
        if (isCancellation(error)) throw error;
        const reason = rootCause(error);
        throw new Error(reason.startsWith(`${llm.name}: `) ? reason.slice(llm.name.length + 2) : reason);
      }
    },
    conversation: () => llm.history,
    usage: () => {
      const total: UsageByModel = { ...state.usage };
      for (const [model, usage] of Object.entries(llm.usage)) addUsage(total, model, usage);
      return total;
    },
  };
}

function patternResponder(ctx: Executor, spec: PatternSpec, state: ChatState): Responder {
  const llm = buildPattern(ctx, spec);
  const name = spec.name ?? spec.pattern;
  let conversation = [...state.messages];
  let swarm = state.swarm;
  return {
    name,
    turn: async (text) => {
      const input: Message[] = [...conversation, { role: "user", content: text }];
      if (llm instanceof Swarm) {
        // The agent that had the conversation goes on with it, its tool traffic and handoffs kept.
        const result = await llm.run(input, swarm);
        conversation = result.state.messages;
        swarm = { activeAgent: result.state.activeAgent, contextVariables: result.state.contextVariables };
        return result.text;
      }
      const reply = await llm.generateStr(input);
      conversation = [...input, { role: "assistant", content: reply }];
      return reply;
    },
    conversation: () => conversation,
    // The run's status counts every model call of the pattern's agents and child runs, and what earlier runs handed over.
    usage: () => ({ ...ctx.run.status().usage }),
    swarm: () => swarm,
  };
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
