/**
 * Tools as the runtime sees them: a server's tool definitions and the result of calling one.
 * Sandbox-safe: imported by workflow code.
 */
import { z } from "zod";
import { ContentPartSchema, type ToolMessage } from "./messages.js";
import { TokenUsageSchema } from "./token-usage.js";

export const ToolDefinitionSchema = z.object({
  /** The configured MCP server that provides the tool. */
  server: z.string(),
  /** The tool's own name on that server. */
  name: z.string(),
  description: z.string().optional(),
  inputSchema: z.record(z.string(), z.unknown()),
  /** A name for people, when the server gives one. */
  title: z.string().optional(),
  /** What the server says of the tool's effects (MCP's tool annotations): hints, not guarantees. */
  annotations: z
    .object({
      readOnlyHint: z.boolean().optional(),
      destructiveHint: z.boolean().optional(),
      idempotentHint: z.boolean().optional(),
      openWorldHint: z.boolean().optional(),
    })
    .optional(),
});
export type ToolDefinition = z.infer<typeof ToolDefinitionSchema>;

/**
 * Whether a tool may change or destroy things, as MCP's annotations say: unless it is read-only
 * or says it is not destructive. A tool without annotations may, as the spec's defaults have it.
 */
export function mayDestroy(tool: ToolDefinition): boolean {
  return tool.annotations?.readOnlyHint !== true && tool.annotations?.destructiveHint !== false;
}

export const ToolCallRequestSchema = z.object({
  server: z.string(),
  tool: z.string(),
  /** Parsed arguments; the activity validates them against the tool's input schema. */
  arguments: z.record(z.string(), z.unknown()),
  /**
   * The run's id for this call (`call-<n>`), the same on every retry. A server's requests for a
   * person during the call are keyed by it, so an answer given once is found again after a crash.
   */
  callId: z.string().optional(),
  /** The model's id for the call, for traces to join the call to the answer that asked for it (`gen_ai.tool.call.id`). */
  modelCallId: z.string().optional(),
  /**
   * The run's cap on the result's size (`maxToolResultBytes`); the worker cuts larger results,
   * with a note to the model. The worker's own setting applies when absent.
   */
  maxResultBytes: z.number().int().positive().optional(),
  /**
   * The limit on the call's own work (`startToCloseTimeoutMs`), which the worker holds it to, time
   * a person takes to answer its server not counted; the step itself is scheduled for longer
   * (`answerWaitMs`). Absent, the step's limit alone bounds the call.
   */
  workLimitMs: z.number().int().positive().optional(),
  /**
   * Values the run's function tools read and no model sees (a user's id, a tenant): the run's
   * `toolContext`, or the call's own when workflow code gives one. Sent only to servers that take
   * it (`mcp.servers.<name>.toolContext`, on for modules of function tools).
   */
  toolContext: z.record(z.string(), z.unknown()).optional(),
});
export type ToolCallRequest = z.infer<typeof ToolCallRequestSchema>;

/** The most a run's tool context may hold: every tool call's step carries it. */
export const maxToolContextBytes = 16 * 1024;

/** A run's tool context as a caller gives it: a JSON object, small enough to go with every tool call. */
export const ToolContextSchema: z.ZodType<Record<string, unknown>> = z.record(z.string(), z.json()).refine((context) => new TextEncoder().encode(JSON.stringify(context)).length <= maxToolContextBytes, {
  message: `at most ${maxToolContextBytes / 1024} KiB of JSON: every tool call carries it`,
});

/** The `_meta` key under which a tool call tells servers that take it (`toolContext`) its run. */
export const runMetaKey = "duragent/run";

/** What a call says of its run under {@link runMetaKey}: what a function tool's `run` is given. */
export const RunMetaSchema = z.object({
  runId: z.string(),
  /** The same on every attempt of the call, and on no other call: an idempotency key. */
  idempotencyKey: z.string(),
  attempt: z.number().int().positive(),
  toolContext: z.record(z.string(), z.unknown()),
});
export type RunMeta = z.infer<typeof RunMetaSchema>;

export const ToolResultSchema = z.object({
  content: z.array(ContentPartSchema),
  /** Tool failures are data, not exceptions: the model reads them and can recover. */
  isError: z.boolean(),
  structuredContent: z.record(z.string(), z.unknown()).optional(),
  /** Tokens our models spent answering the server's sampling requests during the call, per model. */
  samplingUsage: z.record(z.string(), TokenUsageSchema).optional(),
});
export type ToolResult = z.infer<typeof ToolResultSchema>;

/** Whether two JSON values are the same, whatever the order of their keys. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && sameJson((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

export function toolError(text: string): ToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

const failedCallLead = (tool: string): string => `The call to '${tool}' failed, so it has no result: `;

/** The error a model reads for a tool call whose step failed for good (`failedToolCall: tell-model`). */
export function failedToolCallError(tool: string, cause: string): ToolResult {
  return toolError(failedCallLead(tool) + cause);
}

/** Why a call failed for good, from the tool message that told the model; undefined for any other result. */
export function failedToolCallCause(message: ToolMessage): string | undefined {
  const [part] = message.content;
  const lead = failedCallLead(message.toolName);
  return message.isError === true && message.content.length === 1 && part?.type === "text" && part.text.startsWith(lead) ? part.text.slice(lead.length) : undefined;
}
