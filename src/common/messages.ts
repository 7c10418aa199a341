/**
 * The provider-neutral conversation format. Everything here is plain JSON so that a message can
 * cross an activity boundary, sit in workflow history and be replayed unchanged.
 * Sandbox-safe: imported by workflow code.
 */
import { z } from "zod";

const TextPartSchema = z.object({
  type: z.literal("text"),
  text: z.string(),
});
export type TextPart = z.infer<typeof TextPartSchema>;

const ImagePartSchema = z.object({
  type: z.literal("image"),
  /** Base64 data, without a `data:` prefix. */
  data: z.string(),
  mimeType: z.string(),
});
export type ImagePart = z.infer<typeof ImagePartSchema>;

export const ContentPartSchema = z.discriminatedUnion("type", [TextPartSchema, ImagePartSchema]);
export type ContentPart = z.infer<typeof ContentPartSchema>;

export const ToolCallSchema = z.object({
  /** The provider's id for this call; tool results refer back to it. */
  id: z.string(),
  /** The namespaced tool name the model used (`server_tool`). */
  name: z.string(),
  /** The raw JSON text of the arguments, kept as text so that invalid JSON can be reported back. */
  arguments: z.string(),
  /**
   * The answer stopped at its output token limit inside this call: its arguments are incomplete
   * even when they parse (Anthropic's SDK completes half-written JSON), so it is not made.
   */
  cutOff: z.literal(true).optional(),
});
export type ToolCall = z.infer<typeof ToolCallSchema>;

const SystemMessageSchema = z.object({ role: z.literal("system"), content: z.string() });
const UserMessageSchema = z.object({
  role: z.literal("user"),
  content: z.union([z.string(), z.array(ContentPartSchema)]),
});
export const AssistantMessageSchema = z.object({
  role: z.literal("assistant"),
  content: z.string(),
  toolCalls: z.array(ToolCallSchema).optional(),
});
export const ToolMessageSchema = z.object({
  role: z.literal("tool"),
  toolCallId: z.string(),
  toolName: z.string(),
  content: z.array(ContentPartSchema),
  /** True when the call failed; the model sees the error text and may try again. */
  isError: z.boolean().optional(),
});

export const MessageSchema = z.discriminatedUnion("role", [
  SystemMessageSchema,
  UserMessageSchema,
  AssistantMessageSchema,
  ToolMessageSchema,
]);
export type SystemMessage = z.infer<typeof SystemMessageSchema>;
export type UserMessage = z.infer<typeof UserMessageSchema>;
export type AssistantMessage = z.infer<typeof AssistantMessageSchema>;
export type ToolMessage = z.infer<typeof ToolMessageSchema>;
export type Message = z.infer<typeof MessageSchema>;

/**
 * A transcript message with the agent whose conversation it belongs to, when one is known, and,
 * in a transcript that takes in child runs, the child run it came from.
 */
export type TranscriptMessage = Message & { agent?: string; runId?: string };

/** Who wrote the transcript from a position on: one entry per change of agent, not per message. */
export interface TranscriptAgents {
  from: number;
  agent?: string;
}

/** The messages named by the agents they belong to; the messages themselves are left as they are. */
export function withAgents(messages: readonly Message[], runs: readonly TranscriptAgents[]): TranscriptMessage[] {
  if (runs.length === 0) return [...messages];
  let run = -1;
  return messages.map((message, index) => {
    while (run + 1 < runs.length && runs[run + 1]!.from <= index) run++;
    const agent = runs[run]?.agent;
    return agent === undefined ? message : { ...message, agent };
  });
}

/** A child run's transcript as its parent's shows it: the child's own messages marked with its id, its children's keep theirs. */
export function fromChildRun(runId: string, transcript: readonly TranscriptMessage[]): TranscriptMessage[] {
  return transcript.map((message) => (message.runId === undefined ? { ...message, runId } : message));
}

/** The text of a message's content, with non-text parts left out. */
export function textOf(content: string | ContentPart[]): string {
  if (typeof content === "string") return content;
  return content
    .filter((part): part is TextPart => part.type === "text")
    .map((part) => part.text)
    .join("\n");
}

/** The size of base64 data (an image part's) once decoded. */
export function decodedBytes(base64: string): number {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return Math.max(0, Math.floor((base64.length * 3) / 4) - padding);
}
