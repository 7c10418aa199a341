/**
 * The activities a worker offers. Workflow code imports this type only (never the
 * implementation), and `createActivities` in src/activities must satisfy it.
 */
import type { LlmRequest, LlmResponse } from "./llm.js";
import type { ToolCallRequest, ToolDefinition, ToolResult } from "./tools.js";

export interface DuragentActivities {
  /** One model turn. Throws an ApplicationFailure typed by `FailureType` on provider errors. */
  callLlm(request: LlmRequest): Promise<LlmResponse>;
  /** The tools of one configured MCP server, already filtered by its `allowedTools`. */
  listTools(server: string): Promise<ToolDefinition[]>;
  /** One tool call. Bad arguments and tool failures come back as `isError` results. */
  callTool(request: ToolCallRequest): Promise<ToolResult>;
}
