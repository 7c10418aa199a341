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

/**
 * How a tool-call activity reaches its run while the call is in flight. The Temporal engine's
 * channel talks to the workflow (an Update to register, a query to poll, heartbeat details for
 * progress); the memory engine's calls the run's control directly. Either way the run keeps the
 * answers, keyed, so a retried call is answered without asking the person again.
 */
export interface RunChannel {
  /** Registers `request` with the run (once per key) and resolves with the person's answer. */
  ask(request: ServerRequest, signal: AbortSignal): Promise<ServerRequestAnswer>;
  /** Publishes the call's latest progress. */
  progress(progress: StepProgress): void;
}
