/**
 * `duragent/tools`: function tools, TypeScript an agent calls as tools (see `defineTool`). A light
 * entry: the tool server loads the module, and with it this, in a process of its own.
 */
export { defineTool, isDuragentTool, type DuragentTool, type ToolContext, type ToolDefinition, type ToolOutput } from "./define-tool.js";
