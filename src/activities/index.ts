/**
 * The worker side of every effect. `createActivities(deps)` builds the functions a Temporal
 * worker registers and the memory engine calls directly; both get the same code.
 */
import { Context } from "@temporalio/activity";
import type { DuragentActivities } from "../common/activities.js";
import type { LlmRequest, LlmResponse } from "../common/llm.js";
import type {
  PromptInfo,
  PromptRequest,
  PromptResult,
  ResourceInfo,
  ResourceRequest,
  ResourceResult,
  ResourceTemplateInfo,
} from "../common/mcp-context.js";
import type { RunChannel } from "../common/server-requests.js";
import type { ToolCallRequest, ToolDefinition, ToolResult } from "../common/tools.js";
import type { InProcessActivities } from "../engines/memory-executor.js";
import type { McpCallOptions } from "./mcp/connection-pool.js";
import { temporalRunChannel, type TemporalRunChannel } from "./temporal-run-channel.js";

export interface ActivityDependencies {
  callLlm(request: LlmRequest, signal?: AbortSignal): Promise<LlmResponse>;
  mcp: {
    listTools(server: string): Promise<ToolDefinition[]>;
    callTool(request: ToolCallRequest, options?: McpCallOptions): Promise<ToolResult>;
    listPrompts(server: string): Promise<PromptInfo[]>;
    getPrompt(request: PromptRequest, options?: { signal?: AbortSignal }): Promise<PromptResult>;
    listResources(server: string): Promise<ResourceInfo[]>;
    listResourceTemplates(server: string): Promise<ResourceTemplateInfo[]>;
    readResource(request: ResourceRequest, options?: { signal?: AbortSignal }): Promise<ResourceResult>;
  };
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined; // called in-process by the memory engine
  }
}

// Temporal delivers cancellation only to an activity that heartbeats; the SDK throttles the calls.
const HEARTBEAT_EVERY_MS = 1_000;

/**
 * Runs an effect with the right abort signal: the activity's cancellation on Temporal (kept alive
 * by heartbeats), or the one the memory engine passes.
 */
async function withCancellation<T>(
  explicit: AbortSignal | undefined,
  run: (signal?: AbortSignal) => Promise<T>,
  /** The details every heartbeat carries (a tool call's latest progress), so none erases them. */
  details?: () => unknown,
): Promise<T> {
  const context = activityContext();
  if (!context) return run(explicit);
  const heartbeat = setInterval(() => context.heartbeat(details?.()), HEARTBEAT_EVERY_MS);
  try {
    return await run(context.cancellationSignal);
  } finally {
    clearInterval(heartbeat);
  }
}

export function createActivities(deps: ActivityDependencies): DuragentActivities & InProcessActivities {
  return {
    callLlm: (request, signal?: AbortSignal) => withCancellation(signal, (abort) => deps.callLlm(request, abort)),
    listTools: (server) => withCancellation(undefined, () => deps.mcp.listTools(server)),
    callTool: (request, signal?: AbortSignal, channel?: RunChannel) => {
      // The run's channel: passed in by the memory engine, built from the activity context on Temporal.
      const context = channel ? undefined : activityContext();
      const temporal: TemporalRunChannel | undefined = context ? temporalRunChannel(context) : undefined;
      const run: RunChannel | undefined = channel ?? temporal;
      const step = `tool ${request.server}/${request.tool}`;
      const callId = request.callId;
      return withCancellation(
        signal,
        (abort) =>
          deps.mcp.callTool(request, {
            ...(abort ? { signal: abort } : {}),
            ...(run && callId ? { askPerson: (ask, askSignal) => run.ask(ask, askSignal) } : {}),
            ...(run && callId ? { onProgress: (progress) => run.progress({ callId, step, ...progress }) } : {}),
          }),
        temporal?.details,
      );
    },
    listPrompts: (server) => withCancellation(undefined, () => deps.mcp.listPrompts(server)),
    getPrompt: (request, signal?: AbortSignal) => withCancellation(signal, (abort) => deps.mcp.getPrompt(request, abort ? { signal: abort } : {})),
    listResources: (server) => withCancellation(undefined, () => deps.mcp.listResources(server)),
    listResourceTemplates: (server) => withCancellation(undefined, () => deps.mcp.listResourceTemplates(server)),
    readResource: (request, signal?: AbortSignal) =>
      withCancellation(signal, (abort) => deps.mcp.readResource(request, abort ? { signal: abort } : {})),
  };
}
