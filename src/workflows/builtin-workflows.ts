/**
 * The workflows every worker registers. Only workflow functions may be exported here: Temporal
 * registers each exported function under its export name.
 */
import { z } from "zod";
import { inWorkflowContext, patched } from "@temporalio/workflow";
import { ApplicationFailure } from "@temporalio/common";
import { FailureType } from "../common/failures.js";
import { MessageSchema, type Message } from "../common/messages.js";
import { TokenUsageSchema } from "../common/token-usage.js";
import { addUsage } from "../common/usage.js";
import { messagesToHandOver } from "./agent/hand-over.js";
import { AgentSpecSchema, defineAgent } from "./agent/define-agent.js";
import { finalText } from "./agent/agent-llm.js";
import { defineWorkflow } from "./define-workflow.js";
import type { PatternRunInput, PatternRunResult } from "./patterns/child-pattern.js";
import { runPattern } from "./patterns/pattern-workflow.js";
import type { UsageByModel } from "../common/usage.js";
import { fitInOnePayload } from "../common/transcript-reference.js";
import { runChat, type ChatInput } from "./chat/chat-session.js";
import type { ChatResult } from "../common/chat.js";

/** What an agent run hands to the next when it continues as new in the middle of its tool loop. */
const AgentCarriedSchema = z.object({
  /** The conversation so far, the user's message first; past 1 MiB, older tool results are notes and then the oldest turns go. */
  messages: z.array(MessageSchema),
  /** Tokens used so far, per model. */
  usage: z.record(z.string(), TokenUsageSchema),
  /** Model turns taken so far, counted against `maxIterations`. */
  turns: z.number().int().min(0),
  /** Which run of the agent's this is, from 1. */
  run: z.number().int().positive(),
  /** Steps the runs before took, so this one numbers its own on from them. */
  steps: z.number().int().min(0).optional(),
  /** Messages earlier runs no longer hand on; their own transcripts hold them. */
  leftOut: z.number().int().positive().optional(),
});

export const AgentRunInputSchema = z.object({
  agent: AgentSpecSchema,
  /** The user's message. */
  message: z.string(),
  /** Set on a run that continues an earlier one's tool loop. */
  carried: AgentCarriedSchema.optional(),
});
export type AgentRunInput = z.input<typeof AgentRunInputSchema>;

export interface AgentRunResult {
  /** The final answer's text. */
  text: string;
  /**
   * The exchange: the user's message, model turns and tool results; empty when it passes 1 MiB of
   * JSON, as a result over 2 MB is one Temporal refuses. After the run continued as new, what the
   * last run held: older tool results may be notes, and the oldest turns left out.
   */
  messages: Message[];
  /** How many messages the result leaves out, as above. `handle.transcript()` reads each run's. */
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

/**
 * Runs one agent on one message through the whole tool loop. A long loop continues as a new run
 * between two turns when Temporal suggests it (its history past the size Temporal suggests) or
 * after `agentTurnsPerRun` turns, carrying the conversation, usage and turn count; clients follow
 * the same run id to its result.
 */
export const agentWorkflow = defineWorkflow<AgentRunInput, AgentRunResult>(async (ctx, input) => {
  // A hand-made input (one copied from a run's history and changed) fails here, once, rather than at every attempt of its first model call.
  if (typeof input?.message !== "string" || typeof input.agent?.name !== "string") {
    throw ApplicationFailure.create({
      message: `agentWorkflow's input has no ${typeof input?.message !== "string" ? "message (text)" : "agent"}: {"agent": "<an agent in the worker's config>", "message": "<text>"} is all it needs; the worker's config gives the rest.`,
      type: FailureType.invalidRunInput,
      nonRetryable: true,
    });
  }
  const { carried } = input;
  if (carried?.steps !== undefined) ctx.run.countStepsFrom(carried.steps);
  const agent = defineAgent(input.agent);
  const llm = await agent.attachLlm(ctx);
  if (carried) {
    // The conversation so far is this run's transcript too, so model calls can refer to it.
    llm.history.push(...carried.messages);
    ctx.run.addToTranscript(carried.messages, agent.spec.name);
    for (const [model, usage] of Object.entries(carried.usage)) {
      ctx.run.addUsage(model, usage);
      addUsage(llm.usage, model, usage);
    }
  }
  const turnsBefore = carried?.turns ?? 0;
  const maxIterations = agent.spec.maxIterations ?? ctx.run.settings.maxIterations;
  const { agentTurnsPerRun } = ctx.run.settings;
  // Not while paused (a new run would start unpaused) or while a message handler runs (its sender
  // would lose its answer): the next turn's end hands over. The patch is asked only once a
  // hand-over is due, so other runs record no marker, and a run from before goes on as it went.
  const handOver = (turns: number) =>
    ((agentTurnsPerRun !== undefined && turns >= agentTurnsPerRun) || ctx.run.continueAsNewSuggested()) &&
    ctx.run.status().phase !== "paused" &&
    ctx.messages.allFinished() &&
    (!inWorkflowContext() || patched(agentContinuesPatch));
  // A continued run's conversation is its history already: the model goes on from its last results.
  const task: Message[] = carried ? [] : [{ role: "user", content: input.message }];
  const { added, turns, handedOver } = await llm.generateHandingOver(task, { maxIterations: maxIterations - turnsBefore }, handOver);
  if (handedOver) {
    const { messages, leftOut } = messagesToHandOver(llm.history, agent.spec.clearToolResults, carried?.leftOut);
    const totalLeftOut = (carried?.leftOut ?? 0) + leftOut;
    return ctx.continueAsNew({
      agent: input.agent,
      message: input.message,
      carried: { messages, usage: llm.usage, turns: turnsBefore + turns, run: (carried?.run ?? 1) + 1, steps: ctx.run.status().stepCount, ...(totalLeftOut > 0 ? { leftOut: totalLeftOut } : {}) },
    });
  }
  const messages = llm.history;
  const fits = fitInOnePayload(messages);
  const { lastStopReason } = llm;
  const stopped = lastStopReason === "max_tokens" || lastStopReason === "content_filter" || lastStopReason === "max_iterations" ? { stopReason: lastStopReason } : {};
  const leftOut = (carried?.leftOut ?? 0) + (fits ? 0 : messages.length);
  return { text: finalText(added), messages: fits ? messages : [], ...(leftOut > 0 ? { messagesLeftOut: leftOut } : {}), usage: llm.usage, ...stopped };
});

/** Asked only when an agent run's hand-over is due (see agentWorkflow). */
const agentContinuesPatch = "duragent-agent-continues-as-new";

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
