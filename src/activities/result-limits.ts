/**
 * Keeps what enters workflow history small. An activity result is stored in history as it is,
 * and Temporal fails a workflow task whose payload passes 2 MB (and a run whose history passes
 * 50 MB), so a tool result over the run's limit is cut here, on the worker, before it is
 * returned. The model gets what fits plus a note saying how much it did not see.
 */
import { decodedBytes, type ContentPart } from "../common/messages.js";
import type { ToolResult } from "../common/tools.js";

// Room kept for the note itself, so the cut result stays within the limit.
const NOTE_RESERVE_BYTES = 400;

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

function partBytes(part: ContentPart): number {
  return part.type === "text" ? utf8Bytes(part.text) : part.data.length + part.mimeType.length;
}

/** The first `maxBytes` bytes of `text`, never splitting a character. */
function cutText(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return text;
  let end = Math.max(0, maxBytes);
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1; // back off to a character boundary
  return bytes.subarray(0, end).toString("utf8");
}

/**
 * The result as it may enter history: unchanged when it fits in `maxBytes`; otherwise its
 * `structuredContent` copy is dropped (models read `content`) and, if still too big, its content
 * is cut, ending with a note to the model.
 */
export function limitToolResult(result: ToolResult, maxBytes: number): ToolResult {
  const contentBytes = result.content.reduce((sum, part) => sum + partBytes(part), 0);
  const structuredBytes = result.structuredContent === undefined ? 0 : utf8Bytes(JSON.stringify(result.structuredContent));
  if (contentBytes + structuredBytes <= maxBytes) return result;
  const { structuredContent: _dropped, ...withoutStructured } = result;
  if (contentBytes <= maxBytes) return withoutStructured;

  let budget = Math.max(0, maxBytes - NOTE_RESERVE_BYTES);
  const kept: ContentPart[] = [];
  const omittedImages: string[] = [];
  let omittedText = 0;
  for (const part of result.content) {
    const size = partBytes(part);
    if (size <= budget) {
      kept.push(part);
      budget -= size;
    } else if (part.type === "text") {
      const text = budget > 0 ? cutText(part.text, budget) : "";
      if (text !== "") kept.push({ type: "text", text });
      budget -= utf8Bytes(text);
      omittedText += utf8Bytes(part.text) - utf8Bytes(text);
    } else {
      // An image is whole or absent: half of one is noise.
      omittedImages.push(`an image (${part.mimeType}, ${Math.round(decodedBytes(part.data) / 1024)} KB)`);
    }
  }
  const keptBytes = kept.reduce((sum, part) => sum + partBytes(part), 0);
  const images = omittedImages.length > 0 ? `; left out whole: ${omittedImages.join(", ")}` : "";
  // Advice that fits what was cut: a piece of text can be asked for, an image only smaller.
  const advice = [
    ...(omittedText > 0 ? ["Ask for a smaller piece if you need more: a range, the head or tail, or a search."] : []),
    ...(omittedImages.length > 0 ? ["An image is shown whole or not at all: ask for a smaller one if the tool can make it."] : []),
  ].join(" ");
  kept.push({
    type: "text",
    text:
      `\n[Cut by duragent: this tool result was ${contentBytes} bytes, over the ${maxBytes}-byte limit; ` +
      `you saw the first ${keptBytes} bytes and ${contentBytes - keptBytes} bytes were cut${images}. ${advice}]`,
  });
  return { ...withoutStructured, content: kept };
}
