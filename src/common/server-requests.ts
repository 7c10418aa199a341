/**
 * Requests an MCP server makes of a person during a tool call (elicitation, and approval of its
 * sampling requests), as they travel from the tool-call activity to the run, and the answers that
 * travel back. Plain JSON: on Temporal the run keeps them in its state, so an answer outlives the
 * worker that asked, and a retried tool call finds it again under the same key.
 * Sandbox-safe: imported by workflow code.
 */
import { z } from "zod";

export const ServerRequestKindSchema = z.enum([
  /** `elicitation/create`: the server asks the person for data (form) or to visit a page (URL). */
  "elicitation",
  /** `sampling/createMessage` held for a person's approval (`mcp.servers.<name>.sampling.approval`). */
  "sampling",
]);
export type ServerRequestKind = z.infer<typeof ServerRequestKindSchema>;

export const ServerRequestSchema = z.object({
  /**
   * `<callId>#<n>`: the tool call and the n-th request the server made during it. Stable across
   * retries of the call, so an answer already given is reused instead of asking again.
   */
  key: z.string(),
  /** The tool call (`ToolCallRequest.callId`) during which the server asked. */
  callId: z.string(),
  server: z.string(),
  tool: z.string(),
  kind: ServerRequestKindSchema,
  /** `form` asks for data matching `requestedSchema`; `url` asks the person to open `url`. */
  mode: z.enum(["form", "url"]),
  /** What the server says to the person. */
  message: z.string(),
  /** Form mode: the flat JSON Schema (primitive properties only) the answer must satisfy. */
  requestedSchema: z.record(z.string(), z.unknown()).optional(),
  /** URL mode: the page the person must open, e.g. to sign in or pay. */
  url: z.string().optional(),
  /** URL mode: the server's id for this elicitation. */
  elicitationId: z.string().optional(),
});
export type ServerRequest = z.infer<typeof ServerRequestSchema>;

export const ServerRequestActionSchema = z.enum(["accept", "decline", "cancel"]);
export type ServerRequestAction = z.infer<typeof ServerRequestActionSchema>;

/** An MCP `ElicitResult`: what the server receives. */
export const ServerRequestAnswerSchema = z.object({
  /** `accept` with the data, `decline` (the person said no), or `cancel` (dismissed without choosing). */
  action: ServerRequestActionSchema,
  /** Form mode and `accept` only: the validated answer with schema defaults filled in. */
  content: z.record(z.string(), z.unknown()).optional(),
});
export type ServerRequestAnswer = z.infer<typeof ServerRequestAnswerSchema>;

/** A tool call's latest progress notification. */
export const StepProgressSchema = z.object({
  /** The tool call (`ToolCallRequest.callId`). */
  callId: z.string(),
  /** The step label, e.g. `tool everything/trigger-long-running-operation`. */
  step: z.string(),
  progress: z.number(),
  total: z.number().optional(),
  message: z.string().optional(),
});
export type StepProgress = z.infer<typeof StepProgressSchema>;

/** MCP's log levels (`notifications/message`, `logging/setLevel`), least severe first. */
export const McpLogLevelSchema = z.enum(["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]);
export type McpLogLevel = z.infer<typeof McpLogLevelSchema>;

/**
 * A log message (`notifications/message`) an MCP server sent during a tool call, kept with the
 * run while the call is in flight, so whoever follows the run (an MCP client of `duragent serve`)
 * can pass it on. Best effort: on Temporal they travel in heartbeat details.
 */
export const StepLogSchema = z.object({
  kind: z.literal("log"),
  /** Unique among the run's log messages. */
  id: z.string(),
  /** The tool call (`ToolCallRequest.callId`) during which the server logged. */
  callId: z.string(),
  step: z.string(),
  server: z.string(),
  level: McpLogLevelSchema,
  logger: z.string().optional(),
  data: z.unknown(),
});
export type StepLog = z.infer<typeof StepLogSchema>;

/** How many of a run's latest server log messages it keeps (and a tool-call activity heartbeats). */
export const maxStepLogs = 20;
/** A log message's data longer than this (as JSON) is kept cut, as text: heartbeat details stay small. */
export const maxStepLogChars = 4_096;

/**
 * A tool call's heartbeat details once its server has logged: its latest progress, if any, and
 * its latest log messages. A call that only reports progress heartbeats the bare {@link StepProgress}.
 */
export const StepLogsSchema = z.object({
  kind: z.literal("logs"),
  progress: StepProgressSchema.optional(),
  logs: z.array(StepLogSchema),
});
export type StepLogs = z.infer<typeof StepLogsSchema>;

/**
 * How a tool-call activity reaches its run while the call is in flight. The Temporal engine's
 * channel talks to the workflow (an Update to register, a query to poll, heartbeat details for
 * progress); the memory engine's calls the run's control directly. Either way the run keeps the
 * answers, keyed, so a retried call is answered without asking the person again.
 */
export interface RunChannel {
  /**
   * Registers `request` with the run (once per key) and resolves with the person's answer.
   * Rejects with {@link RunUnreachable} when the message failed on its way to the run; any other
   * rejection is the run's refusal, which the server hears.
   */
  ask(request: ServerRequest, signal: AbortSignal): Promise<ServerRequestAnswer>;
  /** Publishes the call's latest progress. */
  progress(progress: StepProgress): void;
  /** Publishes a log message the call's MCP server sent, for whoever follows the run. */
  log?(entry: StepLog): void;
  /** A model call's answer text as it streams in, for watchers; never part of the recorded result. */
  text?(piece: { id?: string; step: string; agent?: string; delta: string }): void;
}

/**
 * A model call's answer so far, while it streams: what a watcher shows. `text` is the last
 * {@link maxStreamedText} characters of it and `length` the whole length, so a watcher that has
 * shown `n` characters prints the last `length - n`. A new `attempt` starts the text again.
 */
export const StepTextSchema = z.object({
  kind: z.literal("text"),
  /** The model call's id in its run (`llm-<n>`). */
  id: z.string(),
  step: z.string(),
  agent: z.string().optional(),
  /** The attempt streaming; 0 when not known (a finished call, as its workflow records it). */
  attempt: z.number().int().nonnegative(),
  /** The call has finished and `text` is its recorded answer: what a watcher ends up showing. */
  done: z.boolean().optional(),
  text: z.string(),
  length: z.number().int().nonnegative(),
});
export type StepText = z.infer<typeof StepTextSchema>;

/** Heartbeat details stay small: a watcher that joins late gets this much of the text so far. */
export const maxStreamedText = 32_768;

/** `current` with `delta` appended, cut to its last {@link maxStreamedText} characters. */
export function appendStreamed(current: StepText, delta: string): StepText {
  const text = current.text + delta;
  return { ...current, text: text.length > maxStreamedText ? text.slice(text.length - maxStreamedText) : text, length: current.length + delta.length };
}

/**
 * A server's question failed on its way to the run (a worker stopping under the update, the
 * service out of reach): the tool call fails and its retry asks again, which reuses an answer the
 * run already has.
 */
export class RunUnreachable extends Error {
  override readonly name = "RunUnreachable";
}
