/**
 * Spans and measurements: model calls as OpenTelemetry GenAI client spans (`chat <model>`), MCP
 * operations as MCP client spans (`tools/call <tool>`). Spans go to the global tracer provider, a
 * no-op unless tracing.ts registered one. Prompts, completions, tool arguments and results go on
 * spans only when content capture is on, in the GenAI conventions' message shape.
 */
import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from "@opentelemetry/api";
import type { EffectContext, EffectImplementations, EffectInput, EffectName, EffectOutput } from "../common/effects.js";
import type { CallLlm } from "../activities/llm/call-llm.js";
import { parseModelRef, type LlmRequest, type LlmResponse, type StopReason } from "../common/llm.js";
import type { ContentPart, Message } from "../common/messages.js";
import { costOf, type PriceTable } from "../common/pricing.js";
import { usageKey } from "../common/usage.js";
import { duragentVersion } from "../package-info.js";

/** Our stop reasons in the words of OpenTelemetry's GenAI conventions (their `FinishReason`). */
const finishReasons: Record<StopReason, string> = { end: "stop", tool_calls: "tool_call", max_tokens: "length", content_filter: "content_filter", other: "other" };

/** Where measurements go (the worker's Prometheus metrics); every method is optional to call. */
export interface EffectMeter {
  modelCall(call: { model: string; agent: string; ms: number; response?: LlmResponse; cost?: number; error?: string }): void;
  mcpCall(call: { server: string; method: string; tool?: string; ms: number; error?: string }): void;
}

export interface InstrumentOptions {
  /** Puts message and tool content on spans. */
  captureContent?: boolean;
  /** Provider name → kind (`openai`, `anthropic`), for gen_ai.provider.name. */
  providerKinds?: Record<string, string>;
  /** Provider name → the base URL its requests go to, for server.address and server.port. */
  baseURLOf?: (provider: string) => string | undefined;
  /** MCP server name → how it is reached, for network.transport, server.address and server.port. */
  mcpServers?: Record<string, { transport?: string; url?: string }>;
  prices?: PriceTable;
  meter?: EffectMeter;
}

const mcpMethods: Record<Exclude<EffectName, "callLlm">, string> = {
  listTools: "tools/list",
  callTool: "tools/call",
  listPrompts: "prompts/list",
  getPrompt: "prompts/get",
  listResources: "resources/list",
  listResourceTemplates: "resources/templates/list",
  readResource: "resources/read",
};

/**
 * Wraps the model calls themselves (agents' and MCP servers' sampling requests alike), where the
 * request is whole: a call that refers to its run's transcript has had it expanded by then.
 */
export function instrumentModelCalls(callLlm: CallLlm, options: InstrumentOptions = {}): CallLlm {
  const tracer = trace.getTracer("duragent", duragentVersion);
  const capture = options.captureContent ?? false;
  const serverOf = memoized((provider) => serverAttributes(options.baseURLOf?.(provider)));

  return (request, signal, onText, callOptions) => {
    const { provider, model } = parseModelRef(request.model);
    const started = performance.now();
    const attributes: Attributes = {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": options.providerKinds?.[provider] ?? provider,
      "gen_ai.request.model": model,
      ...serverOf(provider),
      ...(request.agent ? { "gen_ai.agent.name": request.agent } : {}),
      ...(request.maxTokens ? { "gen_ai.request.max_tokens": request.maxTokens } : {}),
      ...(request.temperature !== undefined ? { "gen_ai.request.temperature": request.temperature } : {}),
      ...(capture ? contentOfRequest(request) : {}),
    };
    return tracer.startActiveSpan(`chat ${model}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
      try {
        const response = await callLlm(request, signal, onText, callOptions);
        // A call whose provider reported no usage has no token counts or cost to give, not zeros.
        const reported = !response.usage.unreportedCalls;
        // A scripted stand-in's answer is counted (and priced) under its own key, at nothing.
        const cost = reported ? costOf(usageKey(request.model, response.model), response.usage, options.prices) : undefined;
        span.setAttributes({
          "gen_ai.response.model": response.model,
          ...(response.id !== undefined ? { "gen_ai.response.id": response.id } : {}),
          "gen_ai.response.finish_reasons": [finishReasons[response.stopReason]],
          ...(reported ? { "gen_ai.usage.input_tokens": response.usage.inputTokens, "gen_ai.usage.output_tokens": response.usage.outputTokens } : { "duragent.usage.unreported": true }),
          ...(response.usage.cachedInputTokens !== undefined ? { "gen_ai.usage.cache_read.input_tokens": response.usage.cachedInputTokens } : {}),
          ...(cost !== undefined ? { "duragent.cost.usd": cost } : {}),
          ...(capture ? { "gen_ai.output.messages": JSON.stringify([{ ...conventionMessage(response.message), finish_reason: finishReasons[response.stopReason] }]) } : {}),
        });
        // Labelled as usage is: a stand-in model (`scripted:…`) under its own name, not the one it stood in for.
        options.meter?.modelCall({ model: usageKey(request.model, response.model), agent: request.agent ?? "", ms: performance.now() - started, response, ...(cost !== undefined ? { cost } : {}) });
        return response;
      } catch (error) {
        failed(span, error);
        options.meter?.modelCall({ model: request.model, agent: request.agent ?? "", ms: performance.now() - started, error: errorType(error) });
        throw error;
      } finally {
        span.end();
      }
    });
  };
}

/** Wraps each MCP effect; model calls are wrapped where they are made ({@link instrumentModelCalls}). */
export function instrumentEffects(effects: EffectImplementations, options: InstrumentOptions = {}): EffectImplementations {
  const tracer = trace.getTracer("duragent", duragentVersion);
  const capture = options.captureContent ?? false;
  const mcpServerOf = memoized((server) => {
    const entry = options.mcpServers && Object.hasOwn(options.mcpServers, server) ? options.mcpServers[server] : undefined;
    // A stdio server is a child process on the other end of a pipe; an HTTP one, a TCP peer.
    return entry === undefined ? {} : entry.url === undefined ? { "network.transport": "pipe" } : { "network.transport": "tcp", ...serverAttributes(entry.url) };
  });

  const mcp = <K extends Exclude<EffectName, "callLlm">>(name: K) => {
    const method = mcpMethods[name];
    const run = effects[name] as (input: EffectInput<K>, context: EffectContext) => Promise<EffectOutput<K>>;
    return (input: EffectInput<K>, context: EffectContext): Promise<EffectOutput<K>> => {
      const server = typeof input === "string" ? input : (input as { server: string }).server;
      const call = name === "callTool" ? (input as EffectInput<"callTool">) : undefined;
      const target = call?.tool ?? (name === "getPrompt" ? (input as EffectInput<"getPrompt">).name : undefined);
      // The model's id joins the span to the answer that asked for the call; the run's key otherwise.
      const toolCallId = call?.modelCallId ?? call?.callId;
      const attributes: Attributes = {
        "mcp.method.name": method,
        "mcp.server.name": server,
        ...mcpServerOf(server),
        ...(call ? { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": call.tool, ...(toolCallId ? { "gen_ai.tool.call.id": toolCallId } : {}) } : {}),
        ...(name === "getPrompt" ? { "gen_ai.prompt.name": target } : {}),
        ...(name === "readResource" ? { "mcp.resource.uri": (input as EffectInput<"readResource">).uri } : {}),
        ...(capture && call ? { "gen_ai.tool.call.arguments": JSON.stringify(call.arguments) } : {}),
      };
      const started = performance.now();
      return tracer.startActiveSpan(target ? `${method} ${target}` : method, { kind: SpanKind.CLIENT, attributes }, async (span) => {
        try {
          const output = await run(input, context);
          const isError = name === "callTool" && (output as EffectOutput<"callTool">).isError;
          if (isError) span.setAttributes({ "error.type": "tool_error" });
          if (capture && call) span.setAttribute("gen_ai.tool.call.result", JSON.stringify((output as EffectOutput<"callTool">).content));
          options.meter?.mcpCall({ server, method, ...(call ? { tool: call.tool } : {}), ms: performance.now() - started, ...(isError ? { error: "tool_error" } : {}) });
          return output;
        } catch (error) {
          failed(span, error);
          options.meter?.mcpCall({ server, method, ...(call ? { tool: call.tool } : {}), ms: performance.now() - started, error: errorType(error) });
          throw error;
        } finally {
          span.end();
        }
      });
    };
  };

  return {
    callLlm: effects.callLlm,
    listTools: mcp("listTools"),
    callTool: mcp("callTool"),
    listPrompts: mcp("listPrompts"),
    getPrompt: mcp("getPrompt"),
    listResources: mcp("listResources"),
    listResourceTemplates: mcp("listResourceTemplates"),
    readResource: mcp("readResource"),
  };
}

/** A server's attributes, worked out once per name: every call asks. */
function memoized(attributesOf: (name: string) => Attributes): (name: string) => Attributes {
  const known = new Map<string, Attributes>();
  return (name) => {
    let attributes = known.get(name);
    if (!attributes) known.set(name, (attributes = attributesOf(name)));
    return attributes;
  };
}

/** A base URL as the conventions' server.address and server.port (the scheme's port when it names none). */
function serverAttributes(baseURL: string | undefined): Attributes {
  if (baseURL === undefined) return {};
  try {
    const url = new URL(baseURL);
    const port = url.port !== "" ? Number(url.port) : url.protocol === "http:" ? 80 : url.protocol === "https:" ? 443 : undefined;
    return { "server.address": url.hostname.replace(/^\[|\]$/g, ""), ...(port !== undefined ? { "server.port": port } : {}) };
  } catch {
    return {};
  }
}

/** The request's instructions and messages as the GenAI conventions write them (`parts`). */
function contentOfRequest(request: LlmRequest): Attributes {
  return {
    ...(request.system ? { "gen_ai.system_instructions": JSON.stringify([{ type: "text", content: request.system }]) } : {}),
    "gen_ai.input.messages": JSON.stringify(request.messages.map(conventionMessage)),
  };
}

/** One message in the conventions' shape: a role and its parts (text, blobs, tool calls and their responses). */
function conventionMessage(message: Message): { role: string; parts: Record<string, unknown>[] } {
  switch (message.role) {
    case "system":
      return { role: "system", parts: [{ type: "text", content: message.content }] };
    case "user":
      return { role: "user", parts: typeof message.content === "string" ? [{ type: "text", content: message.content }] : message.content.map(conventionPart) };
    case "assistant":
      return {
        role: "assistant",
        parts: [
          ...(message.content !== "" ? [{ type: "text", content: message.content }] : []),
          ...(message.toolCalls ?? []).map((call) => ({ type: "tool_call", id: call.id, name: call.name, arguments: parsedOrText(call.arguments) })),
        ],
      };
    case "tool":
      return { role: "tool", parts: [{ type: "tool_call_response", id: message.toolCallId, response: message.content.map(conventionPart) }] };
  }
}

function conventionPart(part: ContentPart): Record<string, unknown> {
  return part.type === "text" ? { type: "text", content: part.text } : { type: "blob", modality: "image", mime_type: part.mimeType, content: part.data };
}

/** A tool call's arguments as the JSON they are, or their text when the model wrote something else. */
function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** A failure's type (Temporal's ApplicationFailure type, or the error's name): a bounded label, unlike its message. */
function errorType(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const type = (error as { type?: unknown }).type;
    if (typeof type === "string" && type) return type;
    const name = (error as { name?: unknown }).name;
    if (typeof name === "string" && name) return name;
  }
  return "Error";
}

function failed(span: Span, error: unknown): void {
  span.setAttribute("error.type", errorType(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}
