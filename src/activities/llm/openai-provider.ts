/**
 * OpenAI Chat Completions behind the {@link LlmProvider} interface, streamed when the caller takes
 * text as it comes. Also serves any OpenAI-compatible server (Ollama, vLLM, llama.cpp) through a
 * custom `baseURL`.
 */
import OpenAI from "openai";
import { toStrictJsonSchema } from "openai/lib/transform";
import type { LlmRequest, LlmResponse, ResponseFormat, StopReason, TokenUsage, ToolSpec } from "../../common/llm.js";
import type { ContentPart, Message, ToolCall } from "../../common/messages.js";
import { textOf } from "../../common/messages.js";
import { IdleWatch } from "./idle-watch.js";
import { AnswerStalled, MalformedResponse, markCutOff, StreamIncomplete, withUniqueIds } from "./provider-errors.js";
import { forModel, type LlmProvider, type OnText } from "./provider.js";

type ChatMessageParam = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type ChatContentPart = OpenAI.Chat.Completions.ChatCompletionContentPart;
type ChatFunctionTool = OpenAI.Chat.Completions.ChatCompletionFunctionTool;
type ChatToolChoice = OpenAI.Chat.Completions.ChatCompletionToolChoiceOption;
type ChatCreateParams = OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming;
type ChatCompletion = OpenAI.Chat.Completions.ChatCompletion;
type ChatCompletionChunk = OpenAI.Chat.Completions.ChatCompletionChunk;
type ChatResponseFormat = NonNullable<ChatCreateParams["response_format"]>;

export const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";

/** The prefix a failed tool result gets, since Chat Completions has no error flag for tool messages. */
const OPENAI_TOOL_ERROR_PREFIX = "Error: ";

export interface OpenAIProviderOptions {
  /** The configured provider name, used in error messages. Defaults to `openai`. */
  name?: string;
  apiKey: string;
  /** Defaults to {@link OPENAI_DEFAULT_BASE_URL}. */
  baseURL?: string;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /**
   * Send the token limit as `max_tokens` instead of `max_completion_tokens`. OpenAI's reasoning
   * models reject `max_tokens`, while many compatible servers only know `max_tokens`.
   */
  legacyMaxTokens?: boolean;
  /** Per-request timeout; the activity's start-to-close timeout is the real bound. */
  timeoutMs?: number;
  /** Stream answers (`stream: true` with usage); false for compatible servers that cannot. Default true. */
  stream?: boolean;
}

export class OpenAIProvider implements LlmProvider {
  readonly name: string;
  readonly baseURL: string;
  private readonly client: OpenAI;
  private readonly legacyMaxTokens: boolean;
  private readonly stream: boolean;

  constructor(options: OpenAIProviderOptions) {
    this.name = options.name ?? "openai";
    this.baseURL = options.baseURL ?? OPENAI_DEFAULT_BASE_URL;
    this.legacyMaxTokens = options.legacyMaxTokens ?? false;
    this.stream = options.stream ?? true;
    this.client = new OpenAI({
      apiKey: options.apiKey,
      baseURL: this.baseURL,
      defaultHeaders: options.headers,
      // The executor owns retries, so that each attempt shows up in workflow history.
      maxRetries: 0,
      timeout: options.timeoutMs ?? 10 * 60 * 1000,
    });
  }

  async generate(request: LlmRequest, model: string, signal?: AbortSignal, onText?: OnText): Promise<LlmResponse> {
    const body = buildOpenAIRequest(request, model, { legacyMaxTokens: this.legacyMaxTokens });
    const idleMs = request.idleTimeoutMs;
    if (!onText || !this.stream) {
      // Nothing arrives before the whole answer: the SDK's own request timeout is the silence's bound.
      const completion = await this.client.chat.completions.create(body, idleMs === undefined ? { signal } : { signal, timeout: idleMs }).catch((error: unknown) => {
        throw idleMs !== undefined && error instanceof OpenAI.APIConnectionTimeoutError ? new AnswerStalled(this.name, idleMs) : error;
      });
      return parseOpenAIResponse(completion, model, this.name);
    }
    const watch = idleMs === undefined ? undefined : new IdleWatch(this.name, idleMs, signal);
    try {
      // The raw stream, not the SDK's `stream()` helper: the helper starts each call after a timer,
      // which cost 1.5 ms of every streamed call (2.1 against 0.6 ms p50 on loopback).
      const { data: stream, response } = await this.client.chat.completions
        .create({ ...body, stream: true, stream_options: { include_usage: true } }, { signal: watch?.signal ?? signal })
        .withResponse();
      watch?.touch();
      if (/\bjson\b/i.test(response.headers.get("content-type") ?? "")) {
        // A compatible server that ignores `stream: true` answers with the whole completion: take it
        // (the stream object has not read the body), and show its text at once.
        const whole = parseOpenAIResponse((await response.json()) as CompletionParts, model, this.name);
        if (whole.message.content !== "") onText(whole.message.content);
        return whole;
      }
      const completion = new CompletionFromChunks();
      for await (const chunk of stream) {
        watch?.touch();
        const delta = completion.add(chunk);
        if (delta) onText(delta);
      }
      // The SDK ends an aborted stream's loop quietly: cut after its finish reason, it would pass for a whole answer without usage.
      if (watch?.signal.aborted) throw watch.stalled() ?? watch.signal.reason;
      signal?.throwIfAborted();
      return parseOpenAIResponse(completion.finish(this.name), model, this.name);
    } catch (error) {
      throw watch?.stalled() ?? error;
    } finally {
      watch?.stop();
    }
  }
}

/** Assembles streamed chunks into the completion a non-streaming call returns (first choice only: we ask for one). */
class CompletionFromChunks {
  private id = "";
  private model = "";
  private content = "";
  private refusal: string | null = null;
  private finishReason: ChatCompletion["choices"][number]["finish_reason"] | null = null;
  private usage: ChatCompletion["usage"];
  // By the index the stream gives each call; a call's arguments arrive in pieces.
  private readonly toolCalls: { id: string; type: "function"; function: { name: string; arguments: string } }[] = [];

  /** Takes one chunk; returns its text, if any. */
  add(chunk: ChatCompletionChunk): string | undefined {
    this.id ||= chunk.id;
    this.model ||= chunk.model;
    if (chunk.usage) this.usage = chunk.usage;
    const choice = (chunk.choices ?? []).find((candidate) => candidate.index === 0);
    if (!choice) return undefined;
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
    const { delta } = choice;
    if (delta.refusal) this.refusal = (this.refusal ?? "") + delta.refusal;
    for (const piece of delta.tool_calls ?? []) {
      // Some compatible servers leave out `index`: a piece with a new id starts a call, any other continues the latest.
      const latest = this.toolCalls.length - 1;
      const index = typeof piece.index === "number" ? piece.index : latest < 0 || (piece.id && piece.id !== this.toolCalls[latest]?.id) ? latest + 1 : latest;
      const call = (this.toolCalls[index] ??= { id: "", type: "function", function: { name: "", arguments: "" } });
      if (piece.id) call.id = piece.id;
      if (piece.function?.name) call.function.name = piece.function.name;
      if (piece.function?.arguments) call.function.arguments += piece.function.arguments;
    }
    if (!delta.content) return undefined;
    this.content += delta.content;
    return delta.content;
  }

  finish(provider: string): CompletionParts {
    if (!this.finishReason) throw new StreamIncomplete(provider, "it ended before a finish reason");
    // The usage chunk comes after the finish reason; a stream that ended cleanly without it is a
    // whole answer from a server that does not report usage (as with a non-streamed completion
    // without usage, its tokens count as 0 and the call as unreported). A connection cut before
    // it is an error, not an end.
    const toolCalls = this.toolCalls.filter((call) => call !== undefined);
    return {
      id: this.id,
      model: this.model,
      usage: this.usage,
      choices: [{ finish_reason: this.finishReason, message: { role: "assistant", content: this.content || null, refusal: this.refusal, ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}) } }],
    };
  }
}

/** The complete Chat Completions request body for one neutral request. */
function buildOpenAIRequest(
  request: LlmRequest,
  model: string,
  options: { legacyMaxTokens?: boolean } = {},
): ChatCreateParams {
  const body: ChatCreateParams = {
    model,
    messages: convertToOpenAIMessages(request.system, request.messages),
  };
  const tools = prepareOpenAITools(request.tools);
  if (tools) {
    body.tools = tools;
    // OpenAI rejects tool_choice without tools.
    const toolChoice = convertToOpenAIToolChoice(request.toolChoice);
    if (toolChoice !== undefined) body.tool_choice = toolChoice;
    // Like tool_choice, refused without tools.
    if (request.parallelToolCalls !== undefined) body.parallel_tool_calls = request.parallelToolCalls;
  }
  if (request.responseFormat) body.response_format = convertToOpenAIResponseFormat(request.responseFormat);
  if (request.maxTokens !== undefined) {
    if (options.legacyMaxTokens) body.max_tokens = request.maxTokens;
    else body.max_completion_tokens = request.maxTokens;
  }
  if (request.temperature !== undefined) body.temperature = request.temperature;
  return body;
}

function convertToOpenAIMessages(system: string | undefined, messages: Message[]): ChatMessageParam[] {
  const result: ChatMessageParam[] = [];
  if (system !== undefined && system !== "") result.push({ role: "system", content: system });
  // Tool messages are text-only, so their images follow in one user message after the last tool
  // message of the turn (tool messages must directly follow the assistant's tool calls).
  let toolImages: ChatContentPart[] = [];
  const flushToolImages = () => {
    if (toolImages.length === 0) return;
    result.push({ role: "user", content: toolImages });
    toolImages = [];
  };
  for (const message of messages) {
    if (message.role !== "tool") flushToolImages();
    switch (message.role) {
      case "system":
        result.push({ role: "system", content: message.content });
        break;
      case "user":
        result.push({
          role: "user",
          content: typeof message.content === "string" ? message.content : message.content.map(forModel).map(convertToOpenAIContentPart),
        });
        break;
      case "assistant": {
        const toolCalls = message.toolCalls ?? [];
        if (toolCalls.length === 0) {
          result.push({ role: "assistant", content: message.content });
          break;
        }
        result.push({
          role: "assistant",
          // null is the documented "no text" value next to tool_calls.
          content: message.content === "" ? null : message.content,
          tool_calls: toolCalls.map((call) => ({
            id: call.id,
            type: "function",
            function: { name: call.name, arguments: call.arguments },
          })),
        });
        break;
      }
      case "tool": {
        const content = message.content.map(forModel);
        result.push({ role: "tool", tool_call_id: message.toolCallId, content: toolResultText(content, message.isError) });
        const images = content.filter((part) => part.type === "image");
        if (images.length > 0) {
          toolImages.push({ type: "text", text: `Images returned by tool call ${message.toolCallId} (${message.toolName}):` });
          toolImages.push(...images.map(convertToOpenAIContentPart));
        }
        break;
      }
    }
  }
  flushToolImages();
  return result;
}

function convertToOpenAIContentPart(part: ContentPart): ChatContentPart {
  if (part.type === "text") return { type: "text", text: part.text };
  return { type: "image_url", image_url: { url: `data:${part.mimeType};base64,${part.data}` } };
}

/** Tool messages carry text only; their images travel in the user message that follows. */
function toolResultText(content: ContentPart[], isError: boolean | undefined): string {
  let text = textOf(content);
  const images = content.filter((part) => part.type === "image").length;
  if (images > 0) {
    const note = `[${images} image${images === 1 ? "" : "s"} attached in the next message]`;
    text = text === "" ? note : `${text}\n${note}`;
  }
  return isError ? `${OPENAI_TOOL_ERROR_PREFIX}${text}` : text;
}

function prepareOpenAITools(tools: ToolSpec[] | undefined): ChatFunctionTool[] | undefined {
  if (!tools || tools.length === 0) return undefined;
  return tools.map((tool) => ({
    type: "function",
    function: {
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description } : {}),
      parameters: tool.inputSchema,
    },
  }));
}

function convertToOpenAIToolChoice(choice: LlmRequest["toolChoice"]): ChatToolChoice | undefined {
  if (choice === undefined) return undefined;
  if (choice === "auto" || choice === "none") return choice;
  return { type: "function", function: { name: choice.name } };
}

function convertToOpenAIResponseFormat(format: ResponseFormat): ChatResponseFormat {
  return { type: "json_schema", json_schema: { name: format.name, ...strictWherePossible(format.schema) } };
}

/**
 * Strict mode makes the model's answer fit the schema, but takes only a subset of JSON Schema
 * (every field required, objects closed, no tuples or defaults). The SDK's own conversion,
 * which its zod helper uses, closes plain objects and refuses the rest; a schema it refuses goes
 * as it is, unenforced, and the workflow's validation and repair round still hold it.
 */
function strictWherePossible(schema: Record<string, unknown>): { schema: Record<string, unknown>; strict: boolean } {
  try {
    return { schema: toStrictJsonSchema(schema) as Record<string, unknown>, strict: true };
  } catch {
    return { schema, strict: false };
  }
}

function mapOpenAIFinishReason(reason: string | null | undefined): StopReason {
  switch (reason) {
    case "stop":
      return "end";
    case "length":
      return "max_tokens";
    case "tool_calls":
    case "function_call":
      return "tool_calls";
    case "content_filter":
      return "content_filter";
    default:
      return "other";
  }
}

/** What a response is read from: a non-streaming completion, or one assembled from chunks. */
type CompletionParts = Pick<ChatCompletion, "id" | "model" | "usage"> & { choices: Pick<ChatCompletion["choices"][number], "message" | "finish_reason">[] };

/**
 * Translates a completion; a body without the fields the format promises (only a broken server or
 * proxy sends one) is a {@link MalformedResponse} that says which field, not a TypeError.
 */
function parseOpenAIResponse(completion: CompletionParts, requestedModel: string, provider: string): LlmResponse {
  if (!isObject(completion)) throw new MalformedResponse(provider, `the chat completion is ${JSON.stringify(completion)?.slice(0, 80) ?? "empty"}, not an object`);
  if (!Array.isArray(completion.choices) || completion.choices.length === 0) throw new MalformedResponse(provider, "the chat completion has no choices");
  const choice = completion.choices[0]!;
  if (!isObject(choice.message)) throw new MalformedResponse(provider, "the chat completion's choice has no message");
  const toolCalls: ToolCall[] = [];
  for (const call of choice.message.tool_calls ?? []) {
    if (!isObject(call)) throw new MalformedResponse(provider, "a tool call in the message is not an object");
    const named = call.type === "custom" ? { name: call.custom?.name, arguments: call.custom?.input } : { name: call.function?.name, arguments: call.function?.arguments };
    if (typeof named.name !== "string" || named.name === "") throw new MalformedResponse(provider, "a tool call in the message has no function name");
    toolCalls.push({ id: call.id, name: named.name, arguments: typeof named.arguments === "string" ? named.arguments : JSON.stringify(named.arguments ?? {}) });
  }
  withUniqueIds(toolCalls);
  let stopReason = mapOpenAIFinishReason(choice.finish_reason);
  // Some compatible servers (Ollama among them) report "stop" next to tool calls.
  if (toolCalls.length > 0 && stopReason === "end") stopReason = "tool_calls";
  markCutOff(toolCalls, stopReason);
  return {
    message: {
      role: "assistant",
      content: (typeof choice.message.content === "string" ? choice.message.content : undefined) ?? choice.message.refusal ?? "",
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
    },
    stopReason,
    usage: openAIUsage(completion.usage),
    model: completion.model || requestedModel,
    ...(typeof completion.id === "string" && completion.id !== "" ? { id: completion.id } : {}),
  };
}

/** prompt_tokens counts every prompt token, the cached ones (prompt_tokens_details.cached_tokens) among them. */
function openAIUsage(usage: ChatCompletion["usage"]): TokenUsage {
  if (!isObject(usage)) return { inputTokens: 0, outputTokens: 0, unreportedCalls: 1 };
  const cached = usage?.prompt_tokens_details?.cached_tokens;
  return {
    inputTokens: usage?.prompt_tokens ?? 0,
    outputTokens: usage?.completion_tokens ?? 0,
    ...(typeof cached === "number" && cached > 0 ? { cachedInputTokens: cached } : {}),
  };
}

function isObject(value: unknown): value is Record<string, unknown> & object {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
