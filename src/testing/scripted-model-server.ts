/**
 * A scripted stand-in for a model vendor: a loopback HTTP server that speaks both the OpenAI
 * Chat Completions and the Anthropic Messages wire formats (non-streaming), so tests and the
 * offline demo run the real SDKs end to end without network access or API keys.
 *
 * Point a provider at it with `baseURL: server.openaiBaseURL` or `server.anthropicBaseURL`.
 * Each request consumes one {@link ScriptedTurn}, written once in a provider-neutral form and
 * rendered in whichever wire format was asked.
 */
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { StopReason } from "../common/llm.js";
import type { ContentPart, Message, ToolCall } from "../common/messages.js";

export interface ScriptedToolCall {
  name: string;
  /** An object (sent as JSON) or raw argument text, e.g. deliberately broken JSON. */
  arguments: unknown;
  /** Defaults to `call_<n>` (OpenAI) or `toolu_<n>` (Anthropic), counted per server. */
  id?: string;
}

export interface ScriptedTurn {
  text?: string;
  toolCalls?: ScriptedToolCall[];
  /**
   * Defaults to a rough estimate (characters / 4) of the request and the answer. `cachedInputTokens`
   * (part of `inputTokens`) is sent as each wire reports prompt-cache reads. `null` reports none,
   * as some compatible servers and gateways do (the answer has no usage, a stream no usage event).
   */
  usage?: { inputTokens: number; outputTokens: number; cachedInputTokens?: number } | null;
  /** Wait this long before answering, e.g. to observe concurrency or timeouts. */
  delayMs?: number;
  /** Answer with this HTTP error, in the wire format's own error body shape. */
  error?: { status: number; message: string; headers?: Record<string, string> };
  /** Overrides the stop reason otherwise derived from the presence of tool calls. */
  stopReason?: StopReason;
  /**
   * When the request asks to stream (`stream: true`): the text's pieces, one per event (default:
   * word by word), sent `chunkDelayMs` apart; `breakAfterChunks` drops the connection after that
   * many text pieces, as a failing network would.
   */
  chunks?: string[];
  chunkDelayMs?: number;
  breakAfterChunks?: number;
}

export type Wire = "openai" | "anthropic";

/** A request as a function script sees it, translated back to the neutral message format. */
export interface ScriptedCall {
  /** 0-based position among the model requests this server received. */
  index: number;
  wire: Wire;
  model: string;
  system?: string;
  messages: Message[];
  /** Names of the tools offered. */
  tools: string[];
  /**
   * Whether structured output was asked for: `response_format` on OpenAI, an answer tool on
   * Anthropic (forced by `tool_choice.type === "tool"`, or the last tool under `"any"`). A text
   * answer to such an Anthropic request is sent as that tool's input when it parses as a JSON object.
   */
  responseFormat?: boolean;
  /** The JSON Schema the structured output must satisfy, when the request gave one. */
  responseSchema?: Record<string, unknown>;
  /** The request body as received. */
  raw: unknown;
}

export type ModelScript = ScriptedTurn[] | ((call: ScriptedCall) => ScriptedTurn | Promise<ScriptedTurn>);

export interface RecordedRequest {
  method: string;
  /** Without the query string. */
  path: string;
  /** Lower-case names, as Node reports them. */
  headers: Record<string, string>;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  body: unknown;
  /** What the server answered, once it has. */
  response?: { status: number; body: unknown };
}

export interface ScriptedModelServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `url + "/v1"`, the OpenAI SDK's `baseURL`. */
  readonly openaiBaseURL: string;
  /** `url`, the Anthropic SDK's `baseURL`. */
  readonly anthropicBaseURL: string;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Problems with the script or the requests (exhausted script, a throwing script). Empty in a healthy run. */
  readonly errors: string[];
  /** Model requests being handled right now. */
  readonly inFlight: number;
  /** The most model requests ever handled at once. */
  readonly maxInFlight: number;
  close(): Promise<void>;
}

export interface ScriptedModelServerOptions {
  /** Defaults to an ephemeral port. */
  port?: number;
  /** Do not report script problems on stderr (they are still in `errors` and the responses). */
  quiet?: boolean;
}

export async function startScriptedModelServer(
  script: ModelScript,
  options: ScriptedModelServerOptions = {},
): Promise<ScriptedModelServer> {
  const requests: RecordedRequest[] = [];
  const errors: string[] = [];
  let calls = 0;
  let generatedIds = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const pendingDelays = new Set<() => void>();

  const nextId = (prefix: string) => `${prefix}_${++generatedIds}`;

  const reportProblem = (message: string) => {
    errors.push(message);
    if (!options.quiet) process.stderr.write(`${message}\n`);
  };

  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        pendingDelays.delete(finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      pendingDelays.add(finish);
    });

  const nextTurn = async (call: ScriptedCall): Promise<ScriptedTurn> => {
    if (typeof script === "function") {
      try {
        const turn: unknown = await script(call);
        if (isRecord(turn)) return turn as ScriptedTurn;
        const message = `scripted model: the script returned no turn for request #${call.index + 1}`;
        reportProblem(message);
        return { error: { status: 400, message } };
      } catch (error) {
        const message = `scripted model: the script threw for request #${call.index + 1}: ${error instanceof Error ? error.message : String(error)}`;
        reportProblem(message);
        return { error: { status: 400, message } };
      }
    }
    const turn = script[call.index];
    if (turn) return turn;
    const message = `scripted model: no turn scripted for request #${call.index + 1} (the script has ${script.length} turn${script.length === 1 ? "" : "s"})`;
    reportProblem(message);
    // 400 rather than 5xx: a script bug must fail the run, not be retried.
    return { error: { status: 400, message } };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, record: RecordedRequest, rawText: string) => {
    const wire: Wire | undefined =
      req.method === "POST" && record.path === "/v1/chat/completions"
        ? "openai"
        : req.method === "POST" && record.path === "/v1/messages"
          ? "anthropic"
          : undefined;
    if (!wire) {
      reply(res, record, 404, openAIError(404, `scripted model: no route for ${req.method ?? "?"} ${record.path}`));
      return;
    }
    const body = record.body;
    if (!isRecord(body)) {
      const message = "scripted model: the request body is not a JSON object";
      reportProblem(message);
      reply(res, record, 400, errorBody(wire, 400, message));
      return;
    }

    const index = calls++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const call = wire === "openai" ? fromOpenAIRequest(body, index) : fromAnthropicRequest(body, index);
      const turn = await nextTurn(call);
      if (turn.delayMs !== undefined && turn.delayMs > 0) await delay(turn.delayMs);
      if (turn.error) {
        reply(res, record, turn.error.status, errorBody(wire, turn.error.status, turn.error.message), turn.error.headers);
        return;
      }
      const usage = turn.usage === null ? null : (turn.usage ?? estimateUsage(rawText, turn));
      const answer =
        wire === "openai"
          ? toOpenAIResponse(turn, call, usage, () => nextId("call"))
          : toAnthropicResponse(turn, call, body, usage, () => nextId("toolu"));
      if (body.stream === true) await streamAnswer(res, record, wire, answer, turn, delay);
      else reply(res, record, 200, answer);
    } finally {
      inFlight--;
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const rawText = Buffer.concat(chunks).toString("utf8");
      const record: RecordedRequest = {
        method: req.method ?? "",
        path: (req.url ?? "/").split("?")[0] ?? "/",
        headers: flattenHeaders(req.headers),
        body: parseJson(rawText),
      };
      requests.push(record);
      handle(req, res, record, rawText).catch((error: unknown) => {
        const message = `scripted model: internal error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`;
        reportProblem(message);
        if (!res.headersSent) reply(res, record, 500, openAIError(500, message));
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    openaiBaseURL: `${url}/v1`,
    anthropicBaseURL: url,
    requests,
    errors,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    close() {
      for (const finish of [...pendingDelays]) finish();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // SDK clients keep connections alive, which would hold close() open.
        server.closeAllConnections();
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Requests, translated to the neutral format

function fromOpenAIRequest(body: Record<string, unknown>, index: number): ScriptedCall {
  const systemParts: string[] = [];
  const messages: Message[] = [];
  const toolNames = new Map<string, string>();
  for (const item of asArray(body.messages)) {
    if (!isRecord(item)) continue;
    switch (item.role) {
      case "system":
      case "developer":
        systemParts.push(openAIText(item.content));
        break;
      case "user":
        messages.push({
          role: "user",
          content: typeof item.content === "string" ? item.content : asArray(item.content).flatMap(openAIPart),
        });
        break;
      case "assistant": {
        const toolCalls: ToolCall[] = [];
        for (const call of asArray(item.tool_calls)) {
          if (!isRecord(call) || !isRecord(call.function)) continue;
          const id = asString(call.id);
          const name = asString(call.function.name);
          toolNames.set(id, name);
          toolCalls.push({ id, name, arguments: asString(call.function.arguments) });
        }
        messages.push({ role: "assistant", content: openAIText(item.content), ...(toolCalls.length > 0 ? { toolCalls } : {}) });
        break;
      }
      case "tool": {
        const toolCallId = asString(item.tool_call_id);
        messages.push({
          role: "tool",
          toolCallId,
          toolName: toolNames.get(toolCallId) ?? "",
          content: [{ type: "text", text: openAIText(item.content) }],
        });
        break;
      }
    }
  }
  const format = isRecord(body.response_format) ? body.response_format.type : undefined;
  return {
    index,
    wire: "openai",
    model: asString(body.model),
    ...(systemParts.length > 0 ? { system: systemParts.join("\n\n") } : {}),
    messages,
    tools: asArray(body.tools).flatMap((tool) => (isRecord(tool) && isRecord(tool.function) ? [asString(tool.function.name)] : [])),
    responseFormat: format === "json_schema" || format === "json_object",
    ...(isRecord(body.response_format) && isRecord(body.response_format.json_schema) && isRecord(body.response_format.json_schema.schema)
      ? { responseSchema: body.response_format.json_schema.schema }
      : {}),
    raw: body,
  };
}

function openAIText(content: unknown): string {
  if (typeof content === "string") return content;
  return asArray(content)
    .flatMap((part) => (isRecord(part) && typeof part.text === "string" ? [part.text] : []))
    .join("\n");
}

function openAIPart(part: unknown): ContentPart[] {
  if (!isRecord(part)) return [];
  if (part.type === "text") return [{ type: "text", text: asString(part.text) }];
  if (part.type === "image_url" && isRecord(part.image_url)) {
    const match = /^data:([^;,]+);base64,(.*)$/s.exec(asString(part.image_url.url));
    if (match?.[1] !== undefined && match[2] !== undefined) return [{ type: "image", mimeType: match[1], data: match[2] }];
  }
  return [];
}

function fromAnthropicRequest(body: Record<string, unknown>, index: number): ScriptedCall {
  const messages: Message[] = [];
  const toolNames = new Map<string, string>();
  for (const item of asArray(body.messages)) {
    if (!isRecord(item)) continue;
    if (item.role === "assistant") {
      if (typeof item.content === "string") {
        messages.push({ role: "assistant", content: item.content });
        continue;
      }
      const texts: string[] = [];
      const toolCalls: ToolCall[] = [];
      for (const block of asArray(item.content)) {
        if (!isRecord(block)) continue;
        if (block.type === "text") texts.push(asString(block.text));
        if (block.type === "tool_use") {
          const id = asString(block.id);
          const name = asString(block.name);
          toolNames.set(id, name);
          toolCalls.push({ id, name, arguments: JSON.stringify(block.input ?? {}) });
        }
      }
      messages.push({ role: "assistant", content: texts.join(""), ...(toolCalls.length > 0 ? { toolCalls } : {}) });
    } else if (item.role === "user") {
      if (typeof item.content === "string") {
        messages.push({ role: "user", content: item.content });
        continue;
      }
      const parts: ContentPart[] = [];
      for (const block of asArray(item.content)) {
        if (!isRecord(block)) continue;
        if (block.type === "tool_result") {
          const toolCallId = asString(block.tool_use_id);
          messages.push({
            role: "tool",
            toolCallId,
            toolName: toolNames.get(toolCallId) ?? "",
            content: typeof block.content === "string" ? [{ type: "text", text: block.content }] : asArray(block.content).flatMap(anthropicPart),
            ...(block.is_error === true ? { isError: true } : {}),
          });
        } else {
          parts.push(...anthropicPart(block));
        }
      }
      if (parts.length > 0) messages.push({ role: "user", content: parts });
    }
  }
  const system =
    typeof body.system === "string"
      ? body.system
      : Array.isArray(body.system)
        ? body.system.flatMap((block) => (isRecord(block) && typeof block.text === "string" ? [block.text] : [])).join("\n\n")
        : undefined;
  return {
    index,
    wire: "anthropic",
    model: asString(body.model),
    ...(system !== undefined ? { system } : {}),
    messages,
    tools: asArray(body.tools).flatMap((tool) => (isRecord(tool) ? [asString(tool.name)] : [])),
    responseFormat: answerTool(body) !== undefined,
    ...answerToolSchema(body),
    raw: body,
  };
}

/**
 * Structured output over Anthropic is a tool whose input is the answer: forced by name when it is
 * the only tool, else the last of the tools offered with `tool_choice: any` (duragent puts it last).
 */
function answerTool(body: Record<string, unknown>): string | undefined {
  if (!isRecord(body.tool_choice)) return undefined;
  if (body.tool_choice.type === "tool") return asString(body.tool_choice.name);
  const last = asArray(body.tools).at(-1);
  return body.tool_choice.type === "any" && isRecord(last) ? asString(last.name) : undefined;
}

/** The answer tool's input schema: the structured output's. */
function answerToolSchema(body: Record<string, unknown>): { responseSchema?: Record<string, unknown> } {
  const name = answerTool(body);
  const tool = asArray(body.tools).find((candidate) => isRecord(candidate) && candidate.name === name);
  return isRecord(tool) && isRecord(tool.input_schema) ? { responseSchema: tool.input_schema } : {};
}

function anthropicPart(block: unknown): ContentPart[] {
  if (!isRecord(block)) return [];
  if (block.type === "text") return [{ type: "text", text: asString(block.text) }];
  if (block.type === "image" && isRecord(block.source) && block.source.type === "base64") {
    return [{ type: "image", mimeType: asString(block.source.media_type), data: asString(block.source.data) }];
  }
  return [];
}

// ---------------------------------------------------------------------------------------------
// Responses, in each wire format

type Usage = { inputTokens: number; outputTokens: number; cachedInputTokens?: number };

function toOpenAIResponse(turn: ScriptedTurn, call: ScriptedCall, usage: Usage | null, nextId: () => string): unknown {
  const toolCalls = (turn.toolCalls ?? []).map((toolCall) => ({
    id: toolCall.id ?? nextId(),
    type: "function",
    function: { name: toolCall.name, arguments: argumentsText(toolCall.arguments) },
  }));
  const finishReasons: Record<StopReason, string> = {
    end: "stop",
    tool_calls: "tool_calls",
    max_tokens: "length",
    content_filter: "content_filter",
    other: "stop",
  };
  const stopReason = turn.stopReason ?? (toolCalls.length > 0 ? "tool_calls" : "end");
  return {
    id: `chatcmpl-scripted-${call.index + 1}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: call.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: turn.text ?? (toolCalls.length > 0 ? null : ""),
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: finishReasons[stopReason],
        logprobs: null,
      },
    ],
    ...(usage
      ? {
          usage: {
            prompt_tokens: usage.inputTokens,
            completion_tokens: usage.outputTokens,
            total_tokens: usage.inputTokens + usage.outputTokens,
            // OpenAI counts cached tokens inside prompt_tokens.
            ...(usage.cachedInputTokens !== undefined ? { prompt_tokens_details: { cached_tokens: usage.cachedInputTokens } } : {}),
          },
        }
      : {}),
  };
}

function toAnthropicResponse(
  turn: ScriptedTurn,
  call: ScriptedCall,
  body: Record<string, unknown>,
  usage: Usage | null,
  nextId: () => string,
): unknown {
  const content: unknown[] = [];
  const toolCalls = turn.toolCalls ?? [];
  const answerName = answerTool(body);
  const structured = answerName !== undefined && toolCalls.length === 0 && turn.text !== undefined ? parseJson(turn.text) : undefined;
  if (answerName !== undefined && isRecord(structured)) {
    // Structured output over Anthropic is a call of the answer tool; the neutral turn just gives the JSON text.
    content.push({ type: "tool_use", id: nextId(), name: answerName, input: structured });
  } else if (turn.text !== undefined && turn.text !== "") {
    content.push({ type: "text", text: turn.text });
  }
  for (const toolCall of toolCalls) {
    // The wire carries objects; raw text that is not JSON travels as a JSON string.
    const input = typeof toolCall.arguments === "string" ? parseJson(toolCall.arguments) : (toolCall.arguments ?? {});
    content.push({ type: "tool_use", id: toolCall.id ?? nextId(), name: toolCall.name, input });
  }
  const stopReasons: Record<StopReason, string> = {
    end: "end_turn",
    tool_calls: "tool_use",
    max_tokens: "max_tokens",
    content_filter: "refusal",
    other: "end_turn",
  };
  const usesTools = content.some((block) => isRecord(block) && block.type === "tool_use");
  const stopReason = turn.stopReason ?? (usesTools ? "tool_calls" : "end");
  return {
    id: `msg_scripted_${call.index + 1}`,
    type: "message",
    role: "assistant",
    model: call.model,
    content,
    stop_reason: stopReasons[stopReason],
    stop_sequence: null,
    ...(usage
      ? {
          usage: {
            // Anthropic's input_tokens leaves out the tokens read from the cache.
            input_tokens: usage.inputTokens - (usage.cachedInputTokens ?? 0),
            output_tokens: usage.outputTokens,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: usage.cachedInputTokens ?? 0,
          },
        }
      : {}),
  };
}

function errorBody(wire: Wire, status: number, message: string): unknown {
  return wire === "openai" ? openAIError(status, message) : anthropicError(status, message);
}

function openAIError(status: number, message: string): unknown {
  const type = status === 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error";
  const code = status === 429 ? "rate_limit_exceeded" : status === 401 ? "invalid_api_key" : null;
  return { error: { message, type, param: null, code } };
}

function anthropicError(status: number, message: string): unknown {
  const types: Record<number, string> = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
  };
  return { type: "error", error: { type: types[status] ?? (status >= 500 ? "api_error" : "invalid_request_error"), message } };
}

function reply(res: ServerResponse, record: RecordedRequest, status: number, body: unknown, headers: Record<string, string> = {}): void {
  record.response = { status, body };
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The same answer as server-sent events in the wire's own streaming format, cut from the complete
 * response object, so that a client that assembles the stream gets exactly the non-streaming answer.
 */
async function streamAnswer(res: ServerResponse, record: RecordedRequest, wire: Wire, answer: unknown, turn: ScriptedTurn, delay: (ms: number) => Promise<void>): Promise<void> {
  record.response = { status: 200, body: answer };
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const events = wire === "openai" ? openAIStreamEvents(answer as OpenAIAnswer, turn) : anthropicStreamEvents(answer as AnthropicAnswer, turn);
  let pieces = 0;
  for (const event of events) {
    if (event.textPiece) {
      if (turn.breakAfterChunks !== undefined && pieces >= turn.breakAfterChunks) {
        res.destroy();
        return;
      }
      if (pieces > 0 && turn.chunkDelayMs) await delay(turn.chunkDelayMs);
      pieces++;
    }
    res.write(event.data);
  }
  res.end();
}

interface StreamEvent {
  data: string;
  /** One piece of the answer's text (the ones delays fall between). */
  textPiece?: boolean;
}

type OpenAIAnswer = {
  id: string;
  created: number;
  model: string;
  choices: { message: { content: string | null; tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[] }; finish_reason: string }[];
  usage?: unknown;
};

function textPieces(text: string, turn: ScriptedTurn): string[] {
  if (turn.chunks) return turn.chunks;
  return text.match(/\S+\s*|\s+/g) ?? [];
}

function openAIStreamEvents(answer: OpenAIAnswer, turn: ScriptedTurn): StreamEvent[] {
  const choice = answer.choices[0]!;
  const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}): StreamEvent => ({
    data: `data: ${JSON.stringify({ id: answer.id, object: "chat.completion.chunk", created: answer.created, model: answer.model, choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }], ...extra })}\n\n`,
  });
  const events: StreamEvent[] = [chunk({ role: "assistant", content: "" })];
  for (const piece of textPieces(choice.message.content ?? "", turn)) events.push({ ...chunk({ content: piece }), textPiece: true });
  (choice.message.tool_calls ?? []).forEach((call, index) => {
    events.push(chunk({ tool_calls: [{ index, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }] }));
    events.push(chunk({ tool_calls: [{ index, function: { arguments: call.function.arguments } }] }));
  });
  events.push(chunk({}, choice.finish_reason));
  // stream_options.include_usage: a last chunk with no choices carries the usage.
  if (answer.usage !== undefined) events.push({ data: `data: ${JSON.stringify({ id: answer.id, object: "chat.completion.chunk", created: answer.created, model: answer.model, choices: [], usage: answer.usage })}\n\n` });
  events.push({ data: "data: [DONE]\n\n" });
  return events;
}

type AnthropicAnswer = {
  id: string;
  model: string;
  content: ({ type: "text"; text: string } | { type: "tool_use"; id: string; name: string; input: unknown })[];
  stop_reason: string;
  usage?: { input_tokens: number; output_tokens: number; [key: string]: unknown };
};

function anthropicStreamEvents(answer: AnthropicAnswer, turn: ScriptedTurn): StreamEvent[] {
  const event = (type: string, data: Record<string, unknown>): StreamEvent => ({ data: `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n` });
  const events: StreamEvent[] = [
    event("message_start", { message: { ...answer, content: [], stop_reason: null, ...(answer.usage ? { usage: { ...answer.usage, output_tokens: 0 } } : {}) } }),
  ];
  answer.content.forEach((block, index) => {
    if (block.type === "text") {
      events.push(event("content_block_start", { index, content_block: { type: "text", text: "" } }));
      for (const piece of textPieces(block.text, turn)) events.push({ ...event("content_block_delta", { index, delta: { type: "text_delta", text: piece } }), textPiece: true });
    } else {
      events.push(event("content_block_start", { index, content_block: { ...block, input: {} } }));
      events.push(event("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: JSON.stringify(block.input) } }));
    }
    events.push(event("content_block_stop", { index }));
  });
  events.push(event("message_delta", { delta: { stop_reason: answer.stop_reason, stop_sequence: null }, ...(answer.usage ? { usage: { output_tokens: answer.usage.output_tokens } } : {}) }));
  events.push(event("message_stop", {}));
  return events;
}

function estimateUsage(rawRequest: string, turn: ScriptedTurn): Usage {
  const answerChars =
    (turn.text ?? "").length + (turn.toolCalls ?? []).reduce((sum, call) => sum + call.name.length + argumentsText(call.arguments).length, 0);
  return { inputTokens: Math.max(1, Math.ceil(rawRequest.length / 4)), outputTokens: Math.max(1, Math.ceil(answerChars / 4)) };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function argumentsText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value ?? {});
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function flattenHeaders(headers: IncomingMessage["headers"]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) result[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return result;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function asString(value: unknown): string {
  return typeof value === "string" ? value : "";
}
