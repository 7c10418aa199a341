/**
 * The activities a worker offers. Workflow code imports this type only (never the
 * implementation), and `createActivities` in src/activities must satisfy it.
 */
import type { LlmRequest, LlmResponse } from "./llm.js";
import type {
  PromptInfo,
  PromptRequest,
  PromptResult,
  ResourceInfo,
  ResourceRequest,
  ResourceResult,
  ResourceTemplateInfo,
} from "./mcp-context.js";
import type { ToolCallRequest, ToolDefinition, ToolResult } from "./tools.js";

export interface DuragentActivities {
  /** One model turn. Throws an ApplicationFailure typed by `FailureType` on provider errors. */
  callLlm(request: LlmRequest): Promise<LlmResponse>;
  /** The tools of one configured MCP server, already filtered by its `allowedTools`. */
  listTools(server: string): Promise<ToolDefinition[]>;
  /** One tool call. Bad arguments and tool failures come back as `isError` results. */
  callTool(request: ToolCallRequest): Promise<ToolResult>;
  /** The prompts of one MCP server (empty when it offers none). */
  listPrompts(server: string): Promise<PromptInfo[]>;
  /** One prompt, filled in with its arguments, as messages. A refusal is a non-retryable failure. */
  getPrompt(request: PromptRequest): Promise<PromptResult>;
  /** The resources one MCP server lists (empty when it offers none). */
  listResources(server: string): Promise<ResourceInfo[]>;
  /** The resource templates one MCP server lists. */
  listResourceTemplates(server: string): Promise<ResourceTemplateInfo[]>;
  /** One resource's contents, as content parts. */
  readResource(request: ResourceRequest): Promise<ResourceResult>;
}
