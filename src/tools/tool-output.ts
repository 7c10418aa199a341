/** What a function tool returned, as MCP's tool result. */
import type { CallToolResult } from "@modelcontextprotocol/server";
import type { ToolOutput } from "./define-tool.js";

export function toolResult(output: ToolOutput | undefined): CallToolResult {
  if (output === undefined) return { content: [] };
  if (typeof output === "string") return { content: [{ type: "text", text: output }] };
  if (isCallToolResult(output)) return output;
  const text = JSON.stringify(output);
  const structured = typeof output === "object" && output !== null && !Array.isArray(output);
  return { content: [{ type: "text", text }], ...(structured ? { structuredContent: output as Record<string, unknown> } : {}) };
}

/** A whole MCP result, returned as it is: content blocks (images, resource links) a tool makes itself. */
function isCallToolResult(output: ToolOutput): output is CallToolResult & ToolOutput {
  return (
    typeof output === "object" &&
    output !== null &&
    !Array.isArray(output) &&
    Array.isArray((output as { content?: unknown }).content) &&
    ((output as { content: unknown[] }).content).every((block) => typeof block === "object" && block !== null && typeof (block as { type?: unknown }).type === "string")
  );
}
