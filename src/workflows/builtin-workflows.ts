/**
 * The workflows every worker registers. Only workflow functions may be exported here: Temporal
 * registers each exported function under its export name.
 */
import { z } from "zod";
import { type Message } from "../common/messages.js";
import { AgentSpecSchema, defineAgent } from "./agent/define-agent.js";
import { finalText } from "./agent/agent-llm.js";
import { defineWorkflow } from "./define-workflow.js";
import type { PatternRunInput, PatternRunResult } from "./patterns/child-pattern.js";
import { runPattern } from "./patterns/pattern-workflow.js";
import type { UsageByModel } from "../common/usage.js";
import { fitInOnePayload } from "../common/transcript-reference.js";
import { runChat, type ChatInput } from "./chat/chat-session.js";
import type { ChatResult } from "../common/chat.js";

export const AgentRunInputSchema = z.object({
  agent: AgentSpecSchema,
  /** The user's message. */
  message: z.string(),
});
export type AgentRunInput = z.input<typeof AgentRunInputSchema>;

export interface AgentRunResult {
  /** The final answer's text. */
  text: string;
  /** The whole exchange: the user's message, model turns and tool results; empty when `messagesLeftOut` is set. */
  messages: Message[];
  /**
   * How many messages the result leaves out: set when the exchange passes 1 MiB of JSON, as a
   * result over 2 MB is one Temporal refuses. `handle.transcript()` reads them all.
   */
  messagesLeftOut?: number;
  usage: UsageByModel;
  /**
   * Set when the final answer did not end as a whole answer does: `max_tokens` when the provider
   * cut it off at the output token limit (finish reason `length`), `content_filter` when it stopped
   * it (a filter or a refusal), `max_iterations` when the turns ran out (`maxIterations`) with the
   * model still calling tools, so there is no answer. The CLI notes it beside the answer.
   */
  stopReason?: "max_tokens" | "content_filter" | "max_iterations";
}

/** Runs one agent on one message through the whole tool loop. */
export const agentWorkflow = defineWorkflow<AgentRunInput, AgentRunResult>(async (ctx, input) => {
  const llm = await defineAgent(input.agent).attachLlm(ctx);
  const added = await llm.generate(input.message);
  const messages = llm.history;
  const fits = fitInOnePayload(messages);
  const { lastStopReason } = llm;
  const stopped = lastStopReason === "max_tokens" || lastStopReason === "content_filter" || lastStopReason === "max_iterations" ? { stopReason: lastStopReason } : {};
  return { text: finalText(added), messages: fits ? messages : [], ...(fits ? {} : { messagesLeftOut: messages.length }), usage: llm.usage, ...stopped };
});

/**
 * Runs a pattern described as data (`PatternSpec`): declarative `workflows:` from the config, and
 * nested patterns marked `asChildWorkflow`, which run as children of their parent's run.
 */
export const patternWorkflow = defineWorkflow<PatternRunInput, PatternRunResult>(runPattern);

/**
 * A long chat with one agent: messages by the `duragent.chat.send` update, each answered with the
 * agent's reply; continues as new every `chatTurnsPerRun` turns, carrying the conversation over.
 */
export const chatWorkflow = defineWorkflow<ChatInput, ChatResult>(runChat);
