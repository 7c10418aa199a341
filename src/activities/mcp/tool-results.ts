/**
 * Turns what an MCP server returns into our provider-neutral `ToolResult`, and argument
 * validation failures into text a model can act on.
 */
import type { ErrorObject } from "ajv";
import { decodedBytes, type ContentPart } from "../../common/messages.js";
import type { ToolResult } from "../../common/tools.js";

/** The parts of an MCP `CallToolResult` we read; kept structural so SDK schema changes stay cheap. */
export interface McpCallToolResult {
  content?: unknown[];
  structuredContent?: unknown;
  isError?: boolean;
  /** The pre-2025 result shape some old servers still send. */
  toolResult?: unknown;
}

type Block = Record<string, unknown>;

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** One MCP content block as one of our parts; kinds a model cannot take inline become a text note. */
export function toContentPart(block: unknown): ContentPart {
  if (typeof block !== "object" || block === null) {
    return { type: "text", text: String(block) };
  }
  const b = block as Block;
  switch (b.type) {
    case "text":
      return { type: "text", text: str(b.text) ?? "" };
    case "image": {
      const data = str(b.data);
      const mimeType = str(b.mimeType);
      if (data !== undefined && mimeType !== undefined) return { type: "image", data, mimeType };
      return { type: "text", text: "[Image content without data]" };
    }
    case "audio":
      return {
        type: "text",
        text: `[Audio content (${str(b.mimeType) ?? "unknown type"}, ${base64Bytes(str(b.data))} bytes) omitted: audio is not supported]`,
      };
    case "resource_link": {
      const name = str(b.name) ?? str(b.title) ?? "";
      const uri = str(b.uri) ?? "";
      return { type: "text", text: `Resource link: ${name} ${uri}`.trim() };
    }
    case "resource": {
      const resource = (typeof b.resource === "object" && b.resource !== null ? b.resource : {}) as Block;
      const blob = str(resource.blob);
      const mimeType = str(resource.mimeType);
      // Text, or a blob that is text (JSON, CSV…), goes in under a line naming what it is.
      const text = str(resource.text) ?? (blob !== undefined && isTextType(mimeType) ? Buffer.from(blob, "base64").toString("utf8") : undefined);
      if (text !== undefined) return { type: "text", text: `[Resource ${str(resource.uri) ?? ""}${mimeType ? ` (${mimeType})` : ""}]\n${text}` };
      // An embedded image is still an image: the model can look at it.
      if (blob !== undefined && mimeType?.startsWith("image/")) return { type: "image", data: blob, mimeType };
      return {
        type: "text",
        text: `[Embedded binary resource ${str(resource.uri) ?? ""} (${str(resource.mimeType) ?? "unknown type"}, ${base64Bytes(str(resource.blob))} bytes) omitted]`,
      };
    }
    default:
      return { type: "text", text: `[Unsupported content type '${String(b.type)}' omitted]` };
  }
}

/** Decoded size, so the note tells the model how much it is missing. */
function base64Bytes(data: string | undefined): number {
  return data ? decodedBytes(data) : 0;
}

/** Media types whose bytes are text a model can read. */
export function isTextType(mimeType: string | undefined): boolean {
  return mimeType !== undefined && (/^text\//.test(mimeType) || /[/+](json|xml|yaml|csv)$/.test(mimeType) || mimeType === "application/javascript");
}

/** A block annotated for people alone (`audience: ["user"]`), which MCP says is not for the model. */
function forUserOnly(block: unknown): boolean {
  const audience = typeof block === "object" && block !== null ? ((block as Block).annotations as Block | undefined)?.audience : undefined;
  return Array.isArray(audience) && audience.length > 0 && !audience.includes("assistant");
}

export function toToolResult(result: McpCallToolResult): ToolResult {
  const blocks = result.content ?? [];
  const shown = blocks.filter((block) => !forUserOnly(block));
  const content = shown.map(toContentPart);
  if (shown.length === 0 && blocks.length > 0) content.push({ type: "text", text: "[The tool's result is addressed to the user only]" });
  if (result.content === undefined && result.toolResult !== undefined) {
    content.push({ type: "text", text: JSON.stringify(result.toolResult) });
  }
  const structured = result.structuredContent;
  // Models read content only. MCP asks servers to mirror structured output as text; when a result
  // has no text at all, the structured output goes in as JSON text so the model still sees it,
  // unless it only repeats the result's images (as base64, thousands of tokens of noise).
  if (structured !== undefined && !content.some((part) => part.type === "text")) {
    const json = JSON.stringify(structured);
    if (!content.some((part) => part.type === "image" && json.includes(part.data))) content.push({ type: "text", text: json });
  }
  const out: ToolResult = { content, isError: result.isError === true };
  // 2026-07-28 lets structured output be any JSON value; the run keeps objects, and the text has the rest.
  if (typeof structured === "object" && structured !== null && !Array.isArray(structured)) out.structuredContent = structured as Record<string, unknown>;
  return out;
}

const MAX_REPORTED_ERRORS = 10;

/** Ajv errors as "<field> <what was expected>" phrases, one per distinct problem. */
export function describeSchemaErrors(errors: readonly ErrorObject[]): string {
  const phrases: string[] = [];
  for (const error of errors) {
    const phrase = describeSchemaError(error);
    if (!phrases.includes(phrase)) phrases.push(phrase);
  }
  const shown = phrases.slice(0, MAX_REPORTED_ERRORS);
  if (phrases.length > shown.length) shown.push(`and ${phrases.length - shown.length} more`);
  return shown.join("; ");
}

function describeSchemaError(error: ErrorObject): string {
  const at = error.instancePath;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return `${at}/${String(params.missingProperty)} is required`;
    case "additionalProperties":
      return `${at}/${String(params.additionalProperty)} is not an allowed property`;
    case "enum": {
      const allowed = Array.isArray(params.allowedValues) ? params.allowedValues : [];
      return `${at || "arguments"} must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}`;
    }
    default:
      return `${at || "arguments"} ${error.message ?? `failed ${error.keyword}`}`;
  }
}
