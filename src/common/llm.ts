/**
 * The contract between workflow code and a model provider: one request in, one response out,
 * both plain JSON. Providers (src/activities/llm) translate it to and from their wire formats.
 * Sandbox-safe: imported by workflow code.
 */
import { z } from "zod";
import { ToolResultClearingSchema } from "./tool-result-clearing.js";
import { AssistantMessageSchema, MessageSchema } from "./messages.js";
import { TokenUsageSchema } from "./token-usage.js";
import { ToolDefinitionSchema } from "./tools.js";
import { TranscriptReferenceSchema } from "./transcript-reference.js";

export const ToolSpecSchema = z.object({
  /** The name the model sees; unique within one request. */
  name: z.string(),
  description: z.string().optional(),
  /** JSON Schema of the arguments object. */
  inputSchema: z.record(z.string(), z.unknown()),
});
export type ToolSpec = z.infer<typeof ToolSpecSchema>;

export const ResponseFormatSchema = z.object({
  type: z.literal("json_schema"),
  /** A short identifier for the schema, as providers require one. */
  name: z.string(),
  /** JSON Schema the output must satisfy. */
  schema: z.record(z.string(), z.unknown()),
});
export type ResponseFormat = z.infer<typeof ResponseFormatSchema>;

/** What stays the same across an agent's model calls: its instruction and its tools. */
export const LlmSetupSchema = z.object({
  system: z.string().optional(),
  tools: z.array(ToolSpecSchema).optional(),
});
export type LlmSetup = z.infer<typeof LlmSetupSchema>;

export const LlmRequestSchema = z.object({
  /** `provider:model`, e.g. `openai:gpt-4.1-mini` or `anthropic:claude-sonnet-4-5`. */
  model: z.string(),
  /** The agent that makes the call, for telemetry (spans and metrics by agent); providers ignore it. */
  agent: z.string().optional(),
  /** The call's id in its run (`llm-<n>`), the same on every attempt: streamed text is keyed by it. */
  callId: z.string().optional(),
  /** The system instruction, kept apart because providers place it differently. */
  system: z.string().optional(),
  messages: z.array(MessageSchema),
  tools: z.array(ToolSpecSchema).optional(),
  /**
   * MCP servers whose tools the worker lists and puts ahead of `tools`: an agent's first call, so
   * that listing them is no step of its own. The response brings the lists back (`toolLists`).
   */
  toolServers: z.array(z.string()).optional(),
  /** `auto` lets the model choose; `none` forbids tools; `{ name }` forces one tool. */
  toolChoice: z.union([z.literal("auto"), z.literal("none"), z.object({ name: z.string() })]).optional(),
  responseFormat: ResponseFormatSchema.optional(),
  maxTokens: z.number().int().positive().optional(),
  temperature: z.number().optional(),
  /** False asks for at most one tool call a turn (OpenAI's `parallel_tool_calls`, Anthropic's `disable_parallel_tool_use`); the provider's default when absent. */
  parallelToolCalls: z.boolean().optional(),
  /**
   * The messages before `messages`, by reference. The `callLlm` activity resolves it before the
   * provider sees the request, so providers never meet it.
   */
  transcriptReference: TranscriptReferenceSchema.optional(),
  /**
   * Nobody watches the run yet, so its text need not stream: the provider makes the plain
   * request. Absent, text streams to watchers as it comes.
   */
  unwatched: z.boolean().optional(),
  /**
   * The attempt fails once the provider has sent nothing this long (`execution.llm.idleTimeoutMs`):
   * before its answer begins, or between a stream's events. Absent (runs started before it), only
   * the step's start-to-close timeout bounds the call.
   */
  idleTimeoutMs: z.number().int().positive().optional(),
  /**
   * When the worker clears old tool results from the messages it sends (`clearToolResults`):
   * `toolResultClearingDefaults` when absent, never when false.
   */
  clearToolResults: ToolResultClearingSchema.optional(),
});
export type LlmRequest = z.infer<typeof LlmRequestSchema>;

export { TokenUsageSchema, type TokenUsage } from "./token-usage.js";

export const StopReasonSchema = z.enum(["end", "tool_calls", "max_tokens", "content_filter", "other"]);
export type StopReason = z.infer<typeof StopReasonSchema>;

export const LlmResponseSchema = z.object({
  message: AssistantMessageSchema,
  stopReason: StopReasonSchema,
  usage: TokenUsageSchema,
  /** The model id the provider reports having used. */
  model: z.string(),
  /** The provider's id for this answer (`chatcmpl-…`, `msg_…`): what its logs and support know it by. */
  id: z.string().optional(),
  /** The tools of the request's `toolServers`, one list per server in its order, as offered to the model. */
  toolLists: z.array(z.array(ToolDefinitionSchema)).optional(),
});
export type LlmResponse = z.infer<typeof LlmResponseSchema>;

/** Splits `provider:model`; a bare name means the OpenAI-compatible provider. */
export function parseModelRef(ref: string): { provider: string; model: string } {
  const colon = ref.indexOf(":");
  if (colon <= 0) return { provider: "openai", model: ref };
  return { provider: ref.slice(0, colon), model: ref.slice(colon + 1) };
}
