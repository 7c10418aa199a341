/** What a function tool returned, as MCP's tool result. */
import type { CallToolResult } from "@modelcontextprotocol/server";
import type { ToolOutput } from "./define-tool.js";

export function toolResult(output: ToolOutput | undefined): CallToolResult {
  if (output === undefined) return { content: [{ type: "text", text: "(no output)" }] };
  if (typeof output === "string") return { content: [{ type: "text", text: output }] };
  if (isCallToolResult(output)) return output;
  const text = JSON.stringify(output);
  const structured = typeof output === "object" && output !== null && !Array.isArray(output);
  return { content: [{ type: "text", text }], ...(structured ? { structuredContent: output as Record<string, unknown> } : {}) };
}

const resultKeys = new Set(["content", "structuredContent", "isError", "_meta"]);
const contentTypes = new Set(["text", "image", "audio", "resource", "resource_link"]);

/**
 * A whole MCP result, returned as it is: content blocks (images, resource links) a tool makes
 * itself. Only MCP's own keys and block types: a document of the tool's (`{ type: "doc", content }`) is data.
 */
function isCallToolResult(output: ToolOutput): output is CallToolResult & ToolOutput {
  if (typeof output !== "object" || output === null || Array.isArray(output)) return false;
  const { content } = output as { content?: unknown };
  return (
    Object.keys(output).every((key) => resultKeys.has(key)) &&
    Array.isArray(content) &&
    content.every((block: unknown) => typeof block === "object" && block !== null && contentTypes.has((block as { type?: unknown }).type as string))
  );
}
