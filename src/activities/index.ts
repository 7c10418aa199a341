/**
 * The worker side of every effect. `createEffects(deps)` implements each effect of the table in
 * src/common/effects.ts; the memory engine calls the implementations in-process, and
 * `temporalActivities` wraps them, by one loop, as the activities a Temporal worker registers.
 */
import { randomUUID } from "node:crypto";
import { Context } from "@temporalio/activity";
import { ApplicationFailure, CancelledFailure } from "@temporalio/common";
import {
  effectNames,
  effects,
  type DuragentActivities,
  type EffectContext,
  type EffectImplementations,
  type EffectInput,
  type EffectName,
  type EffectOutput,
} from "../common/effects.js";
import { FailureType, nextAttemptPromises } from "../common/failures.js";
import type { LlmRequest } from "../common/llm.js";
import { historyLimitDefaults } from "../common/run-settings.js";
import { withServerTools } from "../common/tool-catalog.js";
import type { ResolveTranscript } from "./llm/transcript-resolver.js";
import type { ProviderWait } from "./llm/rate-limits.js";
import type { CallLlm } from "./llm/call-llm.js";
import { maxStepLogChars, type StepLog } from "../common/server-requests.js";
import type { McpConnectionPool } from "./mcp/connection-pool.js";
import type { McpLogMessage } from "./mcp/server-request-relay.js";
import { limitToolResult } from "./result-limits.js";
import type { ToolResult } from "../common/tools.js";
import { fitToolLoop } from "../common/tool-result-clearing.js";
import { temporalRunChannel } from "./temporal-run-channel.js";
import { jsonBytes, jsonBytesBound } from "../common/transcript-reference.js";

export interface EffectDependencies {
  callLlm: CallLlm;
  mcp: Pick<McpConnectionPool, "listTools" | "callTool" | "listPrompts" | "getPrompt" | "listResources" | "listResourceTemplates" | "readResource">;
  /** Expands a model call's transcript reference into messages; required for runs that send references. */
  resolveTranscript?: ResolveTranscript;
  /** The cap on tool results for calls that do not carry the run's own (`maxResultBytes`). */
  maxToolResultBytes?: number;
}

export function createEffects(deps: EffectDependencies): EffectImplementations {
  const resolveTranscript: ResolveTranscript =
    deps.resolveTranscript ??
    (async (request) => {
      if (!request.transcriptReference) return request;
      throw ApplicationFailure.nonRetryable(
        "This model call refers to its run's transcript, but the effects were built without a transcript resolver. Pass `resolveTranscript` to createEffects (openActivityRuntime does).",
        FailureType.configuration,
      );
    });
  const { mcp } = deps;
  return {
    callLlm: async (request, { signal, run, deadline }) => {
      const step = effects.callLlm.label(request);
      const onText = run?.text && !request.unwatched
        ? (delta: string) => run.text!({ ...(request.callId ? { id: request.callId } : {}), step, ...(request.agent ? { agent: request.agent } : {}), delta })
        : undefined;
      // An agent's first call lists its servers' tools; the pool keeps each list, so that is a lookup.
      const toolLists = request.toolServers?.length ? await Promise.all(request.toolServers.map((server) => mcp.listTools(server))) : undefined;
      // Most calls carry their messages: no resolver, and no turn, for them.
      const resolved = request.transcriptReference ? await resolveTranscript(request, signal) : request;
      const fitted = fitContext(resolved);
      // A busy provider's wait is told as the call's progress: `status`, events and the CLI's spinner say it.
      const onWait = run && request.callId ? (wait: ProviderWait) => run.progress({ callId: request.callId!, step, progress: 0, message: waitMessage(wait) }) : undefined;
      const options = onWait || deadline !== undefined ? { ...(onWait ? { onWait } : {}), ...(deadline !== undefined ? { deadline } : {}) } : undefined;
      const response = await deps.callLlm(toolLists ? withServerTools(fitted, toolLists) : fitted, signal, onText, options);
      return toolLists ? { ...response, toolLists } : response;
    },
    listTools: (server) => mcp.listTools(server),
    callTool: (request, { signal, run, step: attempt }) => {
      const { maxResultBytes, workLimitMs, ...call } = request;
      const { callId } = call;
      const step = `tool ${request.server}/${request.tool}`;
      // Cut here, on the worker, so an oversized result never becomes a history payload.
      const limit = maxResultBytes ?? deps.maxToolResultBytes ?? historyLimitDefaults.maxToolResultBytes;
      return mcp
        .callTool(call, {
          ...(signal ? { signal } : {}),
          ...(workLimitMs !== undefined ? { workLimitMs } : {}),
          ...(attempt ? { step: attempt } : {}),
          ...(run && callId ? { askPerson: (ask, askSignal) => run.ask(ask, askSignal) } : {}),
          ...(run && callId ? { onProgress: (progress) => run.progress({ callId, step, ...progress }) } : {}),
          ...(run?.log && callId ? { onLog: logTo(run.log.bind(run), { callId, step, server: request.server }) } : {}),
        })
        .then((result) => limitToolResult(call.modelCallId !== undefined ? forModel(result) : result, limit));
    },
    listPrompts: (server) => mcp.listPrompts(server),
    getPrompt: (request, { signal }) => mcp.getPrompt(request, signal ? { signal } : {}),
    listResources: (server) => mcp.listResources(server),
    listResourceTemplates: (server) => mcp.listResourceTemplates(server),
    readResource: (request, { signal }) => mcp.readResource(request, signal ? { signal } : {}),
  };
}

/** A model call's wait for its busy provider, as its progress says it. */
function waitMessage({ waitMs, reason, over }: ProviderWait): string {
  if (over) return `asked the provider again after waiting ${Math.ceil(waitMs / 1000)} s, as it asked`;
  return `waiting ${Math.ceil(waitMs / 1000)} s for the provider, as it asked, within this attempt: ${reason}`;
}

/** Numbers a tool call's server log messages for its run: ids unique across calls and their attempts. */
function logTo(publish: (entry: StepLog) => void, call: { callId: string; step: string; server: string }): (message: McpLogMessage) => void {
  // Made at the first message: most calls log nothing, and every tool call would pay for it.
  let attempt: string | undefined;
  let count = 0;
  return (message) => {
    attempt ??= randomUUID().slice(0, 8);
    publish({ kind: "log", id: `${call.callId}.${attempt}.${++count}`, ...call, ...message, data: boundedLogData(message.data) });
  };
}

function boundedLogData(data: unknown): unknown {
  const text = typeof data === "string" ? data : (JSON.stringify(data) ?? String(data));
  return text.length <= maxStepLogChars ? data : `${text.slice(0, maxStepLogChars)}... (${text.length} characters, cut)`;
}

/** The SDK's own cancel of a step still running when the worker's grace time ends. */
function isWorkerShutdown(reason: unknown): boolean {
  return reason instanceof CancelledFailure && reason.message === "WORKER_SHUTDOWN";
}

// Temporal delivers cancellation only to an activity that heartbeats; the SDK throttles the calls.
const HEARTBEAT_EVERY_MS = 1_000;

/**
 * The effects as Temporal activities. Each takes its context from the activity's: the
 * cancellation signal (kept alive by heartbeats) and a channel to its own workflow run, whose
 * latest progress every heartbeat carries.
 */
export function temporalActivities(implementations: EffectImplementations, options: { stopping?: AbortSignal } = {}): DuragentActivities {
  const { stopping } = options;
  const activity =
    <K extends EffectName>(name: K) =>
    async (input: EffectInput<K>): Promise<EffectOutput<K>> => {
      const context = Context.current();
      const run = temporalRunChannel(context);
      // A local activity has no heartbeat: it lives inside its workflow task.
      const heartbeat = context.info.isLocal ? undefined : setInterval(() => context.heartbeat(run?.details()), HEARTBEAT_EVERY_MS);
      // The SDK cancels the activities running when its worker begins to stop, but not one handed
      // over while it stops; that one could wait on its own run, whose workflows no longer run here.
      const { signal, release } = stopping ? eitherSignal(context.cancellationSignal, stopping) : { signal: context.cancellationSignal, release: undefined };
      let result: EffectOutput<K>;
      try {
        const { workflowExecution, activityId, attempt, startToCloseTimeoutMs, currentAttemptScheduledTimestampMs } = context.info;
        result = await (implementations[name] as (input: EffectInput<K>, context: EffectContext) => Promise<EffectOutput<K>>)(input, {
          signal,
          ...(run ? { run } : {}),
          // As in memory: a tool call is told its step (the execution's run id too: a continued run
          // numbers its steps again), a model call its attempt's deadline; other effects neither.
          ...(name === "callTool" && workflowExecution ? { step: { runId: workflowExecution.workflowId, key: `${workflowExecution.workflowId}/${workflowExecution.runId}/${activityId}`, attempt } } : {}),
          ...(name === "callLlm" && startToCloseTimeoutMs > 0 ? { deadline: currentAttemptScheduledTimestampMs + startToCloseTimeoutMs } : {}),
        });
      } catch (error) {
        if (stopping?.aborted && (!context.cancellationSignal.aborted || isWorkerShutdown(context.cancellationSignal.reason))) {
          throw ApplicationFailure.retryable(`This worker stopped during ${effects[name].label(input as never)}; ${nextAttemptPromises.workerStopping}.`, FailureType.workerStopping);
        }
        throw error;
      } finally {
        clearInterval(heartbeat);
        release?.();
      }
      // After the worker-stopping check: no retry makes a result smaller.
      checkResultSize(result, () => effects[name].label(input as never));
      return result;
    };
  return Object.fromEntries(effectNames.map((name) => [name, activity(name)])) as DuragentActivities;
}

/** What a step's result may hold: Temporal refuses a payload over 2 MB, leaving room for the rest of it. */
const maxResultBytes = 2 * 1024 * 1024 - 16 * 1024;

/**
 * A result Temporal would refuse fails its step at once, saying what and why, instead of the
 * SDK's payload-size error after every retry. (Tool results are cut well before this.)
 */
function checkResultSize(result: unknown, label: () => string): void {
  if (jsonBytesBound(result, maxResultBytes) <= maxResultBytes) return;
  const bytes = jsonBytes(result);
  if (bytes <= maxResultBytes) return;
  const step = label();
  const mb = (n: number) => `${(n / (1024 * 1024)).toFixed(1)} MB`;
  throw ApplicationFailure.nonRetryable(
    `The result of ${step} is ${mb(bytes)}; Temporal records at most 2 MB in a step's result. ` +
      (step.startsWith("llm ")
        ? "Ask the model for a shorter answer (a lower maxTokens), or have it write long output to a file through an MCP tool."
        : step.startsWith("tool ")
          ? "Tool results are cut to execution.maxToolResultBytes (64 KiB unless set) before this: set it well under 2 MB."
          : "Have the step return less."),
    FailureType.resultTooLarge,
  );
}

/**
 * A signal that aborts with whichever of two aborts first. Unlike `AbortSignal.any`, its listeners
 * are removed by `release()`, so a worker-long signal holds nothing of the activities that ended.
 */
function eitherSignal(first: AbortSignal, second: AbortSignal): { signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const abort = () => controller.abort(first.aborted ? first.reason : second.reason);
  const release = () => {
    first.removeEventListener("abort", abort);
    second.removeEventListener("abort", abort);
  };
  if (first.aborted || second.aborted) abort();
  else {
    first.addEventListener("abort", abort, { once: true });
    second.addEventListener("abort", abort, { once: true });
  }
  return { signal: controller.signal, release };
}

/** The request with old tool results cleared, then old turns left out, once its messages are large (`clearToolResults`). */
function fitContext(request: LlmRequest): LlmRequest {
  const messages = fitToolLoop(request.messages, request.clearToolResults);
  return messages === request.messages ? request : { ...request, messages };
}

/**
 * A result for a model's call without its structured copy: models read `content` (which MCP asks
 * servers to mirror it in), and the copy would double what the call puts in history.
 */
function forModel(result: ToolResult): ToolResult {
  if (result.structuredContent === undefined) return result;
  const { structuredContent: _copy, ...rest } = result;
  return rest;
}
