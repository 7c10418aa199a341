/**
 * duragent's sandbox-safe entry: what agent and workflow code imports.
 *
 * Everything reachable from here runs inside Temporal's deterministic workflow sandbox, so it
 * must not import Node built-ins, LLM SDKs or the MCP SDK (test/workflow-bundle.test.ts proves
 * it). Effects go through the `Executor`.
 */
export type {
  Answered,
  ApprovalOutcome,
  EngineName,
  Executor,
  MessageHandlers,
  Question,
  RunContext,
  RunLogger,
} from "./executor/executor.js";
export type { AugmentedLlm, GenerateOptions, StructuredOptions } from "./augmented-llm.js";
export type { UsageByModel } from "../common/usage.js";
export { defineAgent, isAgent, AgentSpecSchema, type Agent, type AgentSpec, type AttachOptions } from "./agent/define-agent.js";
export { AgentLlm, finalText } from "./agent/agent-llm.js";
export { namespacedToolName } from "../common/tool-catalog.js";
export { defineWorkflow, isDuragentWorkflow, type DuragentWorkflow, type WorkflowBody, type WorkflowRunInput } from "./define-workflow.js";
/** Thrown by workflow code to fail its run (`ApplicationFailure.nonRetryable(message)`); any other error retries the workflow task on Temporal. */
export { ApplicationFailure } from "@temporalio/common";
/** Temporal's patching, on both engines: a change of workflow shape that running runs replay past. */
export { deprecatePatch, patched } from "./patches.js";
export type { AgentRunInput, AgentRunResult } from "./builtin-workflows.js";
export type { Message, ContentPart, ToolCall } from "../common/messages.js";
export { textOf } from "../common/messages.js";
export * from "./patterns/index.js";
export type { LocalTool, LocalToolOutcome } from "./agent/agent-llm.js";
export { localTool, type LocalToolDefinition } from "./agent/local-tool.js";
export { promptMessages, resourceMessages } from "./mcp-context.js";
export { resourceMessage } from "../common/mcp-context.js";
export type { PromptInfo, PromptRequest, PromptResult, ResourceInfo, ResourceRequest, ResourceResult, ResourceTemplateInfo } from "../common/mcp-context.js";
