/**
 * The worker side of every effect. `createActivities(deps)` builds the functions a Temporal
 * worker registers and the memory engine calls directly; both get the same code.
 */
import { Context } from "@temporalio/activity";
import type { DuragentActivities } from "../common/activities.js";
import type { LlmRequest, LlmResponse } from "../common/llm.js";
import type { ToolCallRequest, ToolDefinition, ToolResult } from "../common/tools.js";
import type { InProcessActivities } from "../engines/memory-executor.js";

export interface ActivityDependencies {
  callLlm(request: LlmRequest, signal?: AbortSignal): Promise<LlmResponse>;
  mcp: {
    listTools(server: string): Promise<ToolDefinition[]>;
    callTool(request: ToolCallRequest, options?: { signal?: AbortSignal }): Promise<ToolResult>;
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
async function withCancellation<T>(explicit: AbortSignal | undefined, run: (signal?: AbortSignal) => Promise<T>): Promise<T> {
  const context = activityContext();
  if (!context) return run(explicit);
  const heartbeat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
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
    callTool: (request, signal?: AbortSignal) =>
      withCancellation(signal, (abort) => deps.mcp.callTool(request, { signal: abort })),
  };
}
