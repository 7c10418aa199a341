/**
 * The worker side of every effect. `createActivities(deps)` builds the functions a Temporal
 * worker registers and the memory engine calls directly; both get the same code.
 */
import { Context } from "@temporalio/activity";
import { ApplicationFailure } from "@temporalio/common";
import { FailureType } from "../common/failures.js";
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
import { historyLimitDefaults } from "../common/run-settings.js";
import type { ResolveTranscript } from "./llm/transcript-resolver.js";
import { limitToolResult } from "./result-limits.js";

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
  /** Expands a model call's transcript reference into messages; required for runs that send references. */
  resolveTranscript?: ResolveTranscript;
  /** The cap on tool results for calls that do not carry the run's own (`maxResultBytes`). */
  maxToolResultBytes?: number;
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
  const resolveTranscript: ResolveTranscript =
    deps.resolveTranscript ??
    (async (request) => {
      if (!request.transcriptReference) return request;
      throw ApplicationFailure.nonRetryable(
        "This model call refers to its run's transcript, but the activities were built without a transcript resolver. Pass `resolveTranscript` to createActivities (openActivityRuntime does).",
        FailureType.configuration,
      );
    });
  return {
    callLlm: (request, signal?: AbortSignal) =>
      withCancellation(signal, async (abort) => deps.callLlm(await resolveTranscript(request), abort)),
    listTools: (server) => withCancellation(undefined, () => deps.mcp.listTools(server)),
    callTool: (request, signal?: AbortSignal, channel?: RunChannel) => {
      // The run's channel: passed in by the memory engine, built from the activity context on Temporal.
      const context = channel ? undefined : activityContext();
      const temporal: TemporalRunChannel | undefined = context ? temporalRunChannel(context) : undefined;
      const run: RunChannel | undefined = channel ?? temporal;
      const step = `tool ${request.server}/${request.tool}`;
      return withCancellation(signal, async (abort) => {
        const { maxResultBytes, ...call } = request;
        const callId = call.callId;
        const result = await deps.mcp.callTool(call, {
          ...(abort ? { signal: abort } : {}),
          ...(run && callId ? { askPerson: (ask, askSignal) => run.ask(ask, askSignal) } : {}),
          ...(run && callId ? { onProgress: (progress) => run.progress({ callId, step, ...progress }) } : {}),
        });
        // Cut here, on the worker, so an oversized result never becomes a history payload.
        return limitToolResult(result, maxResultBytes ?? deps.maxToolResultBytes ?? historyLimitDefaults.maxToolResultBytes);
      }, temporal?.details);
    },
    listPrompts: (server) => withCancellation(undefined, () => deps.mcp.listPrompts(server)),
    getPrompt: (request, signal?: AbortSignal) => withCancellation(signal, (abort) => deps.mcp.getPrompt(request, abort ? { signal: abort } : {})),
    listResources: (server) => withCancellation(undefined, () => deps.mcp.listResources(server)),
    listResourceTemplates: (server) => withCancellation(undefined, () => deps.mcp.listResourceTemplates(server)),
    readResource: (request, signal?: AbortSignal) =>
      withCancellation(signal, (abort) => deps.mcp.readResource(request, abort ? { signal: abort } : {})),
  };
}
