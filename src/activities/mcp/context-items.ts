/**
 * MCP prompts and resource contents in our message and content formats, so agent code can put
 * them straight into a conversation.
 */
import type { GetPromptResult, ReadResourceResult } from "@modelcontextprotocol/client";
import type { PromptResult, ResourceResult } from "../../common/mcp-context.js";
import type { ContentPart, Message } from "../../common/messages.js";
import { isTextType, toContentPart } from "./tool-results.js";

export function toPromptResult(server: string, name: string, result: GetPromptResult): PromptResult {
  const messages: Message[] = result.messages.map((message) => {
    const part = toContentPart(message.content);
    if (message.role === "user") return { role: "user", content: [part] };
    // Assistant messages carry text only in our format; an image there becomes a note.
    return { role: "assistant", content: part.type === "text" ? part.text : `[${part.mimeType} image omitted]` };
  });
  return { server, name, ...(result.description !== undefined ? { description: result.description } : {}), messages };
}

export function toResourceResult(server: string, uri: string, result: ReadResourceResult): ResourceResult {
  return {
    server,
    uri,
    contents: result.contents.map((item) => {
      const mimeType = item.mimeType;
      // A read resource is named by its own fields: its text (or a blob that is text) needs no label line.
      const part: ContentPart =
        "text" in item && typeof item.text === "string"
          ? { type: "text", text: item.text }
          : "blob" in item && typeof item.blob === "string" && isTextType(mimeType)
            ? { type: "text", text: Buffer.from(item.blob, "base64").toString("utf8") }
            : toContentPart({ type: "resource", resource: item });
      return { uri: item.uri, ...(mimeType !== undefined ? { mimeType } : {}), part };
    }),
  };
}
