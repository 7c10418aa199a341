/**
 * What a server may ask of us during a call: sampling (answered by our configured models through
 * the same provider layer as agents) and elicitation (answered by a person through the run), and
 * the log messages it sends. Pure decisions and mapping; ./server-request-relay.ts does the asking.
 */
import type {
  CreateMessageRequest,
  CreateMessageResult,
  ElicitRequest,
  LoggingLevel,
  ModelPreferences,
} from "@modelcontextprotocol/client";
import type { LlmRequest, LlmResponse } from "../../common/llm.js";
import type { ContentPart, Message } from "../../common/messages.js";
import type { ServerRequest, ServerRequestAnswer } from "../../common/server-requests.js";
import type { McpServerConfig } from "../../config/schema.js";

export interface SamplingPlan {
  /** The model that answers. */
  model: string;
  /** When a person must accept the request first: what they are shown, given the tool in flight. */
  approval?: (tool: string) => string;
}

/** How a server's sampling request is answered, from the server's `sampling` settings: which model, and whether a person approves. */
export function samplingPlan(
  server: string,
  settings: Exclude<McpServerConfig["sampling"], false>,
  defaultModel: string,
  params: CreateMessageRequest["params"],
): SamplingPlan {
  const fallback = settings?.model ?? defaultModel;
  const model = chooseSamplingModel(params.modelPreferences, [...(settings?.models ?? []), fallback, defaultModel], fallback);
  return settings?.approval ? { model, approval: (tool) => samplingApprovalMessage(server, tool, model, params) } : { model };
}

/**
 * Picks the model for a sampling request: the first hint that names one of the candidates (exact
 * match of the whole reference or of the part after `provider:`, then a substring match) wins;
 * otherwise `fallback`. Hints are advisory in MCP, so an unknown hint never fails the request.
 */
export function chooseSamplingModel(preferences: ModelPreferences | undefined, candidates: string[], fallback: string): string {
  const models = [...new Set(candidates)];
  const bare = (ref: string): string => ref.slice(ref.indexOf(":") + 1).toLowerCase();
  for (const hint of preferences?.hints ?? []) {
    const name = hint.name?.trim().toLowerCase();
    if (!name) continue;
    const exact = models.find((ref) => ref.toLowerCase() === name || bare(ref) === name);
    if (exact) return exact;
    const partial = models.find((ref) => bare(ref).includes(name));
    if (partial) return partial;
  }
  return fallback;
}

type SamplingBlock = Record<string, unknown>;

function samplingPart(block: SamplingBlock): ContentPart {
  switch (block.type) {
    case "text":
      return { type: "text", text: String(block.text ?? "") };
    case "image":
      return { type: "image", data: String(block.data ?? ""), mimeType: String(block.mimeType ?? "image/png") };
    default:
      // Audio and tool blocks need capabilities we do not declare; say what was left out.
      return { type: "text", text: `[${String(block.type)} content omitted: not supported for sampling]` };
  }
}

/** A server's `sampling/createMessage` as one of our model requests. */
export function toSamplingLlmRequest(params: CreateMessageRequest["params"], model: string): LlmRequest {
  const messages: Message[] = params.messages.map((message) => {
    const blocks = (Array.isArray(message.content) ? message.content : [message.content]) as SamplingBlock[];
    const parts = blocks.map(samplingPart);
    if (message.role === "assistant") {
      return { role: "assistant", content: parts.map((part) => (part.type === "text" ? part.text : "[image]")).join("\n") };
    }
    return { role: "user", content: parts };
  });
  // Dropped: stopSequences and metadata (no neutral field), includeContext (we share no context).
  return {
    model,
    messages,
    maxTokens: params.maxTokens,
    ...(params.systemPrompt !== undefined ? { system: params.systemPrompt } : {}),
    ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
  };
}

/** Our model's answer as the server expects it. */
export function toSamplingResult(response: LlmResponse, model: string): CreateMessageResult {
  const stopReason = response.stopReason === "end" ? "endTurn" : response.stopReason === "max_tokens" ? "maxTokens" : response.stopReason;
  return {
    role: "assistant",
    content: { type: "text", text: response.message.content },
    model: response.model || model,
    stopReason,
  };
}

/**
 * The question a person answers before a server's sampling request goes to the model: a form of
 * one yes-or-no field, so a person's "no" (or false, or n) refuses it as a decline does, and an
 * answer that is neither is refused by the run rather than taken for a yes.
 */
export const samplingApprovalSchema = {
  type: "object",
  properties: {
    approve: { type: "boolean", title: "Send it to the model?", description: "yes sends the request to the model; no refuses it" },
  },
  required: ["approve"],
} as const satisfies Record<string, unknown>;

/** Whether a person's answer to a sampling approval lets the request go to the model: only a yes. */
export function samplingApproved(answer: ServerRequestAnswer): boolean {
  return answer.action === "accept" && answer.content?.approve === true;
}

/** What a person is shown before a sampling request goes to the model. */
function samplingApprovalMessage(server: string, tool: string, model: string, params: CreateMessageRequest["params"]): string {
  const last = params.messages.at(-1);
  const blocks = (last ? (Array.isArray(last.content) ? last.content : [last.content]) : []) as SamplingBlock[];
  const text = blocks.map((block) => (block.type === "text" ? String(block.text ?? "") : `[${String(block.type)}]`)).join(" ");
  const preview = text.length > 500 ? `${text.slice(0, 500)}…` : text;
  return `MCP server '${server}' (during ${tool}) asks to send this to ${model} (up to ${params.maxTokens} tokens): "${preview}". Answer yes to send it, or no to refuse it.`;
}

/** A server's `elicitation/create`, keyed for the run. */
export function toServerRequest(
  params: ElicitRequest["params"],
  context: { key: string; callId: string; server: string; tool: string },
): ServerRequest {
  if (params.mode === "url") {
    return { ...context, kind: "elicitation", mode: "url", message: params.message, url: params.url, elicitationId: params.elicitationId };
  }
  return {
    ...context,
    kind: "elicitation",
    mode: "form",
    message: params.message,
    requestedSchema: params.requestedSchema as Record<string, unknown>,
  };
}

export type PoolLogLevel = "debug" | "info" | "warn" | "error";

/** MCP's syslog levels onto pino's. */
export function logLevelOf(level: LoggingLevel): PoolLogLevel {
  switch (level) {
    case "debug":
      return "debug";
    case "info":
    case "notice":
      return "info";
    case "warning":
      return "warn";
    default:
      return "error";
  }
}
