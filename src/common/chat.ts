/**
 * What a client and a chat run say to each other: the message names and their payloads.
 * Plain JSON, shared by workflow code (src/workflows/chat) and clients (src/engines/chat-client.ts).
 * Sandbox-safe: imported by workflow code.
 */
import { z } from "zod";
import { TokenUsageSchema } from "./llm.js";
import { MessageSchema } from "./messages.js";

/** Message names a client uses to talk to a chat run, besides the ones every run answers. */
export const ChatMessages = {
  /**
   * Update: a user message in, its turn number (`ChatTurn`) out. The reply itself is read with the
   * `reply` query, so history stores it once (in the model call's result) rather than twice.
   */
  send: "duragent.chat.send",
  /** Query: `{ turn }` in, that turn's `ChatReply` out (recent turns only). */
  reply: "duragent.chat.reply",
  /** Update (answered with the `ChatResult`) or signal (fire and forget): end the chat after the turns already sent. */
  end: "duragent.chat.end",
} as const;

export const ChatSendSchema = z.object({
  /** What the user says. */
  text: z.string().min(1, "a chat message needs some text"),
});
export type ChatSend = z.infer<typeof ChatSendSchema>;

export const ChatTurnSchema = z.object({
  /** This turn's number in the whole chat, across runs, from 1. */
  turn: z.number().int().positive(),
});
export type ChatTurn = z.infer<typeof ChatTurnSchema>;

export const ChatReplySchema = z.object({
  /** This turn's number in the whole chat, across runs, from 1. */
  turn: z.number().int().positive(),
  /** The agent's final answer for this turn, after any tool calls. */
  text: z.string(),
});
export type ChatReply = z.infer<typeof ChatReplySchema>;

/** What one run of a chat hands to the next when it continues as new. */
export const ChatStateSchema = z.object({
  /**
   * The conversation so far (user messages, model turns, tool results), without the system
   * instruction; past 1 MiB without its tool traffic, and past that again only its latest turns.
   */
  messages: z.array(MessageSchema),
  /** Tokens used so far, per model. */
  usage: z.record(z.string(), TokenUsageSchema),
  /** Turns answered so far. */
  turns: z.number().int().min(0),
  /** Which run of the chat this is, from 1; each continue-as-new starts the next. */
  run: z.number().int().positive(),
  /** Steps the runs before took, so the next numbers its own on from them. */
  steps: z.number().int().min(0).optional(),
  /** The last replies, so a reply read just after a continue-as-new is still there. */
  recentReplies: z.array(ChatReplySchema).default([]),
  /** Messages of the conversation that runs no longer hand on (see `messages`); earlier runs' transcripts hold them. */
  leftOut: z.number().int().min(0).optional(),
  /** A swarm's chat: the agent that has the conversation, and the context variables. */
  swarm: z.object({ activeAgent: z.string(), contextVariables: z.record(z.string(), z.string()) }).optional(),
});
export type ChatState = z.infer<typeof ChatStateSchema>;

export const ChatResultSchema = z.object({
  turns: z.number().int().min(0),
  /** How many runs (histories) the chat took. */
  runs: z.number().int().positive(),
  /** Messages in the conversation, tool calls and results included. */
  messageCount: z.number().int().min(0),
  usage: z.record(z.string(), TokenUsageSchema),
});
export type ChatResult = z.infer<typeof ChatResultSchema>;
