/**
 * MCP prompts and resources as the runtime sees them: what a server lists, and what getting a
 * prompt or reading a resource returns, already in our message and content formats so agent code
 * can put them into a conversation. Plain JSON, so results cross the activity boundary.
 * Sandbox-safe: imported by workflow code.
 */
import { z } from "zod";
import { ContentPartSchema, MessageSchema, type Message } from "./messages.js";

export const PromptInfoSchema = z.object({
  server: z.string(),
  name: z.string(),
  title: z.string().optional(),
  description: z.string().optional(),
  arguments: z
    .array(z.object({ name: z.string(), description: z.string().optional(), required: z.boolean().optional() }))
    .optional(),
});
export type PromptInfo = z.infer<typeof PromptInfoSchema>;

export const PromptRequestSchema = z.object({
  server: z.string(),
  name: z.string(),
  /** Prompt arguments are strings in MCP. */
  arguments: z.record(z.string(), z.string()).optional(),
});
export type PromptRequest = z.infer<typeof PromptRequestSchema>;

export const PromptResultSchema = z.object({
  server: z.string(),
  name: z.string(),
  description: z.string().optional(),
  /** The prompt's messages as user and assistant messages, ready for `generate`. */
  messages: z.array(MessageSchema),
});
export type PromptResult = z.infer<typeof PromptResultSchema>;

export const ResourceInfoSchema = z.object({
  server: z.string(),
  uri: z.string(),
  name: z.string(),
  title: z.string().optional(),
  description: z.string().optional(),
  mimeType: z.string().optional(),
  size: z.number().optional(),
});
export type ResourceInfo = z.infer<typeof ResourceInfoSchema>;

export const ResourceTemplateInfoSchema = z.object({
  server: z.string(),
  /** An RFC 6570 URI template, e.g. `demo://resource/dynamic/text/{resourceId}`. */
  uriTemplate: z.string(),
  name: z.string(),
  title: z.string().optional(),
  description: z.string().optional(),
  mimeType: z.string().optional(),
});
export type ResourceTemplateInfo = z.infer<typeof ResourceTemplateInfoSchema>;

export const ResourceRequestSchema = z.object({ server: z.string(), uri: z.string() });
export type ResourceRequest = z.infer<typeof ResourceRequestSchema>;

export const ResourceResultSchema = z.object({
  server: z.string(),
  uri: z.string(),
  /** Each content of the resource: text as a text part, images as image parts, other binary data as a note. */
  contents: z.array(
    z.object({
      uri: z.string(),
      mimeType: z.string().optional(),
      part: ContentPartSchema,
    }),
  ),
});
export type ResourceResult = z.infer<typeof ResourceResultSchema>;

/** A resource as one user message the model can read, each content labelled with its URI. */
export function resourceMessage(resource: ResourceResult): Message {
  const content = resource.contents.flatMap((item) => [
    { type: "text" as const, text: `Resource ${item.uri}${item.mimeType ? ` (${item.mimeType})` : ""}:` },
    item.part,
  ]);
  return { role: "user", content };
}
