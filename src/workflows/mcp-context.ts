/**
 * Putting MCP prompts and resources into a conversation: each helper runs one durable step (an
 * activity on Temporal) and returns messages to pass to `generate`, e.g.
 *
 * ```ts
 * const intro = await promptMessages(ctx, { server: "everything", name: "simple-prompt" });
 * const doc = await resourceMessages(ctx, { server: "docs", uri: "file:///guide.md" });
 * await llm.generate([...intro, ...doc, { role: "user", content: "Summarise the guide." }]);
 * ```
 */
import { resourceMessage, type PromptRequest, type ResourceRequest } from "../common/mcp-context.js";
import type { Message } from "../common/messages.js";
import type { Executor } from "./executor/executor.js";

/** A server's prompt, filled in with its arguments, as user and assistant messages. */
export async function promptMessages(ctx: Executor, request: PromptRequest): Promise<Message[]> {
  return (await ctx.getPrompt(request)).messages;
}

/** A server's resource as one user message, each content labelled with its URI. */
export async function resourceMessages(ctx: Executor, request: ResourceRequest): Promise<Message[]> {
  return [resourceMessage(await ctx.readResource(request))];
}
