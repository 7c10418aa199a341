/**
 * Anthropic Messages API (non-streaming) behind the {@link LlmProvider} interface.
 */
import Anthropic from "@anthropic-ai/sdk";
import type { LlmRequest, LlmResponse, ResponseFormat, StopReason, ToolSpec } from "../../common/llm.js";
import type { ContentPart, Message, ToolCall, ToolMessage } from "../../common/messages.js";
import { IdleWatch } from "./idle-watch.js";
import { AnswerStalled, MalformedResponse, markCutOff, withUniqueIds } from "./provider-errors.js";
import { forModel, type LlmProvider, type OnText } from "./provider.js";

type MessageParam = Anthropic.Messages.MessageParam;
type ContentBlockParam = Anthropic.Messages.ContentBlockParam;
type TextBlockParam = Anthropic.Messages.TextBlockParam;
type ImageBlockParam = Anthropic.Messages.ImageBlockParam;
type ToolResultBlockParam = Anthropic.Messages.ToolResultBlockParam;
type Tool = Anthropic.Messages.Tool;
type ToolChoice = Anthropic.Messages.ToolChoice;
type CreateParams = Anthropic.Messages.MessageCreateParamsNonStreaming;
type AnthropicMessage = Anthropic.Messages.Message;
type ImageMediaType = Anthropic.Messages.Base64ImageSource["media_type"];

const ANTHROPIC_DEFAULT_BASE_URL = "https://api.anthropic.com";

/** Anthropic requires `max_tokens`; used when the request sets none. */
const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

export interface AnthropicProviderOptions {
  /** The configured provider name, used in error messages. Defaults to `anthropic`. */
  name?: string;
  apiKey: string;
  /** Defaults to {@link ANTHROPIC_DEFAULT_BASE_URL}. */
  baseURL?: string;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /** Per-request timeout; the activity's start-to-close timeout is the real bound. */
  timeoutMs?: number;
  /** Stream answers (the Messages API's events). Default true. */
  stream?: boolean;
}

export class AnthropicProvider implements LlmProvider {
  readonly name: string;
  readonly baseURL: string;
  private readonly client: Anthropic;
  private readonly stream: boolean;

  constructor(options: AnthropicProviderOptions) {
    this.name = options.name ?? "anthropic";
    this.baseURL = options.baseURL ?? ANTHROPIC_DEFAULT_BASE_URL;
    this.stream = options.stream ?? true;
    this.client = new Anthropic({
      apiKey: options.apiKey,
      baseURL: this.baseURL,
      defaultHeaders: options.headers,
      // The executor owns retries, so that each attempt shows up in workflow history.
      maxRetries: 0,
      // Explicit, or the SDK refuses large max_tokens without streaming.
      timeout: options.timeoutMs ?? 10 * 60 * 1000,
    });
  }

  async generate(request: LlmRequest, model: string, signal?: AbortSignal, onText?: OnText): Promise<LlmResponse> {
    const body = buildAnthropicRequest(request, model);
    const idleMs = request.idleTimeoutMs;
    if (!onText || !this.stream) {
      // Nothing arrives before the whole answer: the SDK's own request timeout is the silence's bound.
      const message = await this.client.messages.create(body, idleMs === undefined ? { signal } : { signal, timeout: idleMs }).catch((error: unknown) => {
        throw idleMs !== undefined && error instanceof Anthropic.APIConnectionTimeoutError ? new AnswerStalled(this.name, idleMs) : error;
      });
      return parseAnthropicResponse(message, request.responseFormat, model, this.name);
    }
    const watch = idleMs === undefined ? undefined : new IdleWatch(this.name, idleMs, signal);
    let message: AnthropicMessage;
    let stream: ReturnType<Anthropic["messages"]["stream"]> | undefined;
    try {
      // The SDK's stream helper assembles the events into the message a non-streaming call returns;
      // it rejects when the stream breaks or ends before message_stop.
      stream = this.client.messages.stream(body, { signal: watch?.signal ?? signal });
      const events = stream;
      if (watch) events.on("streamEvent", () => watch.touch());
      // Structured output arrives as a forced tool's input, not as text: nothing to show as it comes.
      if (!request.responseFormat) events.on("text", (delta: string) => onText(delta));
      message = await events.finalMessage();
    } catch (error) {
      const stalled = watch?.stalled();
      if (stalled) throw stalled;
      // The SDK's words for a 200 that carried no events: say what it was, and what to set.
      if (error instanceof Error && /without sending any chunks/.test(error.message)) {
        const type = stream?.response?.headers.get("content-type") ?? "no content type";
        throw new MalformedResponse(this.name, `it answered the streaming request with ${type} and no events; if this server cannot stream, set llm.providers.${this.name}.stream: false`);
      }
      // The SDK assembles the events into a message and trips on one that lacks what the format promises (usage, say).
      if (error instanceof TypeError && error.message !== "terminated") throw new MalformedResponse(this.name, `an event of its stream lacks a field the Messages API always sends (${error.message})`);
      throw error;
    } finally {
      watch?.stop();
    }
    return parseAnthropicResponse(message, request.responseFormat, model, this.name);
  }
}

/** The complete Messages API request body for one neutral request. */
function buildAnthropicRequest(request: LlmRequest, model: string): CreateParams {
  const { system, messages } = convertToAnthropicMessages(request.system, request.messages);
  const body: CreateParams = {
    model,
    max_tokens: request.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    messages,
  };
  if (system !== undefined) body.system = system;
  const tools = prepareAnthropicTools(request.tools) ?? [];
  let toolChoice = tools.length > 0 ? convertToAnthropicToolChoice(request.toolChoice) : undefined;
  if (request.responseFormat) {
    // Anthropic has no JSON-schema response mode; forcing a tool whose input is the schema is
    // the documented way to get schema-shaped output.
    // Forced when it is the only tool; beside the agent's own tools, any tool, so the model can
    // use them first and give its answer through this one when it is done.
    tools.push(structuredOutputTool(request.responseFormat));
    toolChoice = tools.length > 1 && request.toolChoice !== "none" ? { type: "any" } : { type: "tool", name: request.responseFormat.name };
  }
  if (tools.length > 0) body.tools = tools;
  // One call a turn is asked through tool_choice, which then must be given (`auto` by default).
  if (request.parallelToolCalls === false && tools.length > 0 && toolChoice?.type !== "none") toolChoice = { ...(toolChoice ?? { type: "auto" }), disable_parallel_tool_use: true };
  if (toolChoice !== undefined) body.tool_choice = toolChoice;
  // request.temperature is not sent: the Messages API dropped sampling parameters (SDK 1.x).
  return body;
}

/**
 * Anthropic keeps the system prompt outside the messages, so system messages are gathered into
 * it, and all tool results of one turn travel together in a single user message.
 */
function convertToAnthropicMessages(
  system: string | undefined,
  messages: Message[],
): { system: string | undefined; messages: MessageParam[] } {
  const systemParts = system !== undefined && system !== "" ? [system] : [];
  const result: MessageParam[] = [];
  let pendingResults: ToolResultBlockParam[] = [];
  const flushResults = () => {
    if (pendingResults.length === 0) return;
    result.push({ role: "user", content: pendingResults });
    pendingResults = [];
  };
  for (const message of messages) {
    if (message.role === "tool") {
      pendingResults.push(convertToolResult(message));
      continue;
    }
    flushResults();
    switch (message.role) {
      case "system":
        systemParts.push(message.content);
        break;
      case "user":
        result.push({
          role: "user",
          content: typeof message.content === "string" ? message.content : convertContentParts(message.content),
        });
        break;
      case "assistant": {
        const content: ContentBlockParam[] = [];
        if (message.content !== "") content.push({ type: "text", text: message.content });
        for (const call of message.toolCalls ?? []) {
          content.push({ type: "tool_use", id: call.id, name: call.name, input: parseToolInput(call.arguments) });
        }
        // Anthropic rejects empty assistant turns; an empty one says nothing anyway.
        if (content.length > 0) result.push({ role: "assistant", content });
        break;
      }
    }
  }
  flushResults();
  return { system: systemParts.length > 0 ? systemParts.join("\n\n") : undefined, messages: result };
}

function convertToolResult(message: ToolMessage): ToolResultBlockParam {
  const block: ToolResultBlockParam = {
    type: "tool_result",
    tool_use_id: message.toolCallId,
    is_error: message.isError === true,
  };
  const content = convertContentParts(message.content);
  if (content.length > 0) block.content = content;
  return block;
}

function convertContentParts(parts: ContentPart[]): Array<TextBlockParam | ImageBlockParam> {
  const blocks: Array<TextBlockParam | ImageBlockParam> = [];
  for (const part of parts.map(forModel)) {
    if (part.type === "text") {
      // Anthropic rejects empty text blocks.
      if (part.text !== "") blocks.push({ type: "text", text: part.text });
    } else {
      blocks.push({
        type: "image",
        source: { type: "base64", media_type: part.mimeType as ImageMediaType, data: part.data },
      });
    }
  }
  return blocks;
}

/**
 * tool_use input must be an object. Arguments that are not a JSON object (possible when the
 * conversation came from another provider) become `{}`; their tool result already tells the
 * model what went wrong.
 */
function parseToolInput(argumentsText: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(argumentsText);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  return {};
}

function prepareAnthropicTools(tools: ToolSpec[] | undefined): Tool[] | undefined {
  if (!tools || tools.length === 0) return undefined;
  return tools.map((tool) => ({
    name: tool.name,
    ...(tool.description !== undefined ? { description: tool.description } : {}),
    input_schema: toInputSchema(tool.inputSchema),
  }));
}

/** Anthropic insists on an object schema with an explicit `type`. */
function toInputSchema(schema: Record<string, unknown>): Anthropic.Messages.Tool.InputSchema {
  return { type: "object", ...schema } as Anthropic.Messages.Tool.InputSchema;
}

function structuredOutputTool(format: ResponseFormat): Tool {
  return {
    name: format.name,
    description: "Give your final answer by calling this tool; its input is the answer.",
    input_schema: toInputSchema(format.schema),
  };
}

function convertToAnthropicToolChoice(choice: LlmRequest["toolChoice"]): ToolChoice | undefined {
  if (choice === undefined) return undefined;
  if (choice === "auto") return { type: "auto" };
  if (choice === "none") return { type: "none" };
  return { type: "tool", name: choice.name };
}

function mapAnthropicStopReason(reason: string | null | undefined): StopReason {
  switch (reason) {
    case "end_turn":
    case "stop_sequence":
      return "end";
    case "tool_use":
      return "tool_calls";
    case "max_tokens":
    case "model_context_window_exceeded":
      return "max_tokens";
    case "refusal":
      return "content_filter";
    default:
      return "other";
  }
}

/**
 * Translates a Messages API answer. With a response format, the forced tool's input becomes the
 * message text, so callers parse structured output the same way for every provider.
 */
function parseAnthropicResponse(
  message: AnthropicMessage,
  responseFormat: ResponseFormat | undefined,
  requestedModel: string,
  provider: string,
): LlmResponse {
  // Only a broken server or proxy sends these; named as what they are, not as a TypeError.
  if (typeof message !== "object" || message === null) throw new MalformedResponse(provider, "the answer is not a message object");
  if (!Array.isArray(message.content)) throw new MalformedResponse(provider, "the message has no content list");
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  let structured: string | undefined;
  for (const block of message.content) {
    if (typeof block !== "object" || block === null) throw new MalformedResponse(provider, "a content block of the message is not an object");
    if (block.type === "text") {
      if (typeof block.text !== "string") throw new MalformedResponse(provider, "a text block of the message has no text");
      texts.push(block.text);
    } else if (block.type === "tool_use") {
      if (typeof block.name !== "string" || block.name === "") throw new MalformedResponse(provider, "a tool_use block of the message has no name");
      const argumentsText = JSON.stringify(block.input ?? {});
      if (responseFormat && block.name === responseFormat.name && structured === undefined) structured = argumentsText;
      else toolCalls.push({ id: block.id, name: block.name, arguments: argumentsText });
    }
  }
  withUniqueIds(toolCalls);
  let stopReason = mapAnthropicStopReason(message.stop_reason);
  if (structured !== undefined && stopReason === "tool_calls" && toolCalls.length === 0) stopReason = "end";
  markCutOff(toolCalls, stopReason);
  // A compatible server may report no usage (the call is then counted as unreported) or part of it
  // (what it leaves out counts as 0), as with OpenAI's.
  const reported = typeof message.usage === "object" && message.usage !== null;
  const usage: Partial<Anthropic.Messages.Usage> = reported ? message.usage : {};
  const tokens = (count: number | null | undefined): number => (typeof count === "number" && Number.isFinite(count) ? count : 0);
  return {
    message: {
      role: "assistant",
      content: structured ?? texts.join(""),
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
    },
    stopReason,
    usage: {
      // input_tokens leaves out the prompt tokens read from or written to the cache; inputTokens
      // counts every prompt token, as OpenAI's prompt_tokens does, so usage compares across providers.
      // Cache reads are also given apart, priced lower; cache writes (duragent sets no cache_control,
      // so there are none of its own) count as plain input.
      inputTokens: tokens(usage.input_tokens) + tokens(usage.cache_read_input_tokens) + tokens(usage.cache_creation_input_tokens),
      outputTokens: tokens(usage.output_tokens),
      ...(tokens(usage.cache_read_input_tokens) > 0 ? { cachedInputTokens: tokens(usage.cache_read_input_tokens) } : {}),
      ...(reported ? {} : { unreportedCalls: 1 }),
    },
    model: message.model || requestedModel,
    ...(typeof message.id === "string" && message.id !== "" ? { id: message.id } : {}),
  };
}
