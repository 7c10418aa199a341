/**
 * Wraps each effect in a span and a measurement: model calls as OpenTelemetry GenAI client spans
 * (`chat <model>`), MCP operations as MCP client spans (`tools/call <tool>`). Spans go to the
 * global tracer provider, a no-op unless tracing.ts registered one, so this costs next to nothing
 * with telemetry off. Prompts, completions, tool arguments and results go on spans only when
 * content capture is on.
 */
import { SpanKind, SpanStatusCode, trace, type Attributes, type Span } from "@opentelemetry/api";
import type { EffectContext, EffectImplementations, EffectInput, EffectName, EffectOutput } from "../common/effects.js";
import { parseModelRef, type LlmRequest, type LlmResponse, type StopReason } from "../common/llm.js";
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

export function instrumentEffects(effects: EffectImplementations, options: InstrumentOptions = {}): EffectImplementations {
  const tracer = trace.getTracer("duragent", duragentVersion);
  const capture = options.captureContent ?? false;
  const servers = new Map<string, Attributes>();
  const serverOf = (provider: string): Attributes => {
    let attributes = servers.get(provider);
    if (!attributes) {
      attributes = serverAttributes(options.baseURLOf?.(provider));
      servers.set(provider, attributes);
    }
    return attributes;
  };

  const callLlm: EffectImplementations["callLlm"] = (request, context) => {
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
        const response = await effects.callLlm(request, context);
        // A scripted stand-in's answer is counted (and priced) under its own key, at nothing.
        // A call whose provider reported no usage has no token counts or cost to give, not zeros.
        const reported = !response.usage.unreportedCalls;
        const cost = reported ? costOf(usageKey(request.model, response.model), response.usage, options.prices) : undefined;
        span.setAttributes({
          "gen_ai.response.model": response.model,
          ...(response.id !== undefined ? { "gen_ai.response.id": response.id } : {}),
          "gen_ai.response.finish_reasons": [finishReasons[response.stopReason]],
          ...(reported ? { "gen_ai.usage.input_tokens": response.usage.inputTokens, "gen_ai.usage.output_tokens": response.usage.outputTokens } : { "duragent.usage.unreported": true }),
          ...(response.usage.cachedInputTokens !== undefined ? { "gen_ai.usage.cache_read.input_tokens": response.usage.cachedInputTokens } : {}),
          ...(cost !== undefined ? { "duragent.cost.usd": cost } : {}),
          ...(capture ? { "gen_ai.output.messages": JSON.stringify([response.message]) } : {}),
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

  const mcpEndpoints = new Map<string, Attributes>();
  const mcpServerOf = (server: string): Attributes => {
    let attributes = mcpEndpoints.get(server);
    if (!attributes) {
      const entry = options.mcpServers && Object.hasOwn(options.mcpServers, server) ? options.mcpServers[server] : undefined;
      // A stdio server is a child process on the other end of a pipe; an HTTP one, a TCP peer.
      attributes = entry === undefined ? {} : entry.url === undefined ? { "network.transport": "pipe" } : { "network.transport": "tcp", ...serverAttributes(entry.url) };
      mcpEndpoints.set(server, attributes);
    }
    return attributes;
  };

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
    callLlm,
    listTools: mcp("listTools"),
    callTool: mcp("callTool"),
    listPrompts: mcp("listPrompts"),
    getPrompt: mcp("getPrompt"),
    listResources: mcp("listResources"),
    listResourceTemplates: mcp("listResourceTemplates"),
    readResource: mcp("readResource"),
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

function contentOfRequest(request: LlmRequest): Attributes {
  return {
    ...(request.system ? { "gen_ai.system_instructions": request.system } : {}),
    "gen_ai.input.messages": JSON.stringify(request.messages),
  };
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
