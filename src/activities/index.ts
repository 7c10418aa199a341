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

// On Temporal the signal is the activity's cancellation; in memory the engine passes one.
function cancellation(explicit: AbortSignal | undefined): AbortSignal | undefined {
  if (explicit) return explicit;
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

export function createActivities(deps: ActivityDependencies): DuragentActivities & InProcessActivities {
  return {
    callLlm: (request, signal?: AbortSignal) => deps.callLlm(request, cancellation(signal)),
    listTools: (server) => deps.mcp.listTools(server),
    callTool: (request, signal?: AbortSignal) => deps.mcp.callTool(request, { signal: cancellation(signal) }),
  };
}
