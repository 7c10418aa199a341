/**
 * The executor is the one seam between agent logic and the engine that runs it.
 *
 * Agent and pattern code reaches the world only through this interface, so the same code runs
 * in memory (src/engines/memory-executor.ts calls the activity functions in-process) and on
 * Temporal (./temporal-executor.ts turns each call into an activity, timer or handler).
 * Implementations must keep every method deterministic from the caller's point of view: the
 * results of effects are recorded by the engine, never recomputed.
 */
import type { LlmRequest, LlmResponse } from "../common/llm.js";
import type { RunSettings } from "../common/run-settings.js";
import type { ToolCallRequest, ToolDefinition, ToolResult } from "../common/tools.js";
import type {
  PromptInfo,
  PromptRequest,
  PromptResult,
  ResourceInfo,
  ResourceRequest,
  ResourceResult,
  ResourceTemplateInfo,
} from "../common/mcp-context.js";
import type { ApprovalOutcome, HumanInputOptions, HumanInputResult, RunControl } from "./run-control.js";

export type EngineName = "memory" | "temporal";

export interface Executor {
  /** Which engine runs this code. */
  readonly engine: EngineName;
  /** The run's id: the workflow id on Temporal, a generated id in memory. */
  readonly runId: string;
  /** Defaults and bounds fixed when the run started. */
  readonly settings: RunSettings;

  /** The run's observable state: phase, steps, pending requests, usage, transcript. */
  readonly control: RunControl;

  /** One model turn. Retried by the engine according to `settings.llm`. Waits first while paused. */
  callLlm(request: LlmRequest): Promise<LlmResponse>;
  /** The tools one MCP server offers, as the worker's configuration filters them. */
  listTools(server: string): Promise<ToolDefinition[]>;
  /** One tool call. Tool-level failures come back as `isError` results, not exceptions. */
  callTool(request: ToolCallRequest): Promise<ToolResult>;
  /** The prompts one MCP server offers. Step label `prompts <server>`. */
  listPrompts(server: string): Promise<PromptInfo[]>;
  /** One prompt filled in with its arguments, as messages for `generate`. Step label `prompt <server>/<name>`. */
  getPrompt(request: PromptRequest): Promise<PromptResult>;
  /** The resources one MCP server lists. Step label `resources <server>`. */
  listResources(server: string): Promise<ResourceInfo[]>;
  /** The resource templates one MCP server lists. Step label `resource-templates <server>`. */
  listResourceTemplates(server: string): Promise<ResourceTemplateInfo[]>;
  /** One resource's contents (see `resourceMessage`). Step label `resource <server>/<uri>`. */
  readResource(request: ResourceRequest): Promise<ResourceResult>;

  /**
   * A durable wait for a person's answer, validated by `schema`. On Temporal the answer arrives by
   * an Update whose validator rejects invalid answers to the sender, leaving the run untouched.
   */
  askHuman<T = string>(options: HumanInputOptions<T>): Promise<HumanInputResult<T>>;
  /** A durable wait for a person to approve (possibly with edited arguments) or reject a tool call. */
  requestApproval(call: { server: string; tool: string; arguments: Record<string, unknown> }): Promise<ApprovalOutcome>;

  /**
   * Runs a registered duragent workflow as a child run and waits for its result. On Temporal it
   * is a child workflow with its own history (shown as a tree in the Web UI); in memory, a call.
   * `idSuffix` makes the child's id readable: `<parent id>/<idSuffix>`.
   */
  executeChild<O = unknown>(workflowName: string, input: unknown, options: { idSuffix: string; summary?: string }): Promise<O>;

  /** The current time in ms; on Temporal, the time of the current workflow task. */
  now(): number;
  /** A random number in [0, 1), replayed identically on Temporal. */
  random(): number;
  /** A random UUID, replayed identically on Temporal. */
  uuid(): string;
  /** A durable sleep: on Temporal a timer that survives worker restarts. */
  sleep(ms: number): Promise<void>;
  /**
   * Waits for the next payload sent to the named signal. Resolves `undefined` when `timeoutMs`
   * passes first. Payloads sent before the wait are queued, never lost.
   */
  waitForSignal<T = unknown>(name: string, timeoutMs?: number): Promise<T | undefined>;
  /**
   * Resolves true once `predicate` holds, or false when `timeoutMs` passes first. The predicate
   * is re-checked whenever the run's state may have changed (Temporal's `condition`).
   */
  condition(predicate: () => boolean, timeoutMs?: number): Promise<boolean>;

  // Long-lived runs: messages from outside, and continuing as a new run.

  /**
   * Handles the named update: a request from outside that may change the run and answers its
   * sender. On Temporal it is a Temporal Update, and a `validator` that throws refuses it before
   * anything is written to history; in memory, `RunHandle.update` calls it. The handler may wait,
   * e.g. until the run's main loop has produced the answer.
   */
  setUpdateHandler<A, R>(name: string, handler: (arg: A) => Promise<R> | R, options?: { validator?: (arg: A) => void }): void;
  /** Answers the named query: a read of the run's state that changes nothing and writes no history. */
  setQueryHandler<A, R>(name: string, handler: (arg: A) => R): void;
  /** Handles the named signal (fire and forget). Signals without a handler queue for `waitForSignal`. */
  setSignalHandler<A>(name: string, handler: (arg: A) => void): void;
  /**
   * True when no update or signal handler is still running. Wait for it before ending the run or
   * continuing as new, so that no sender is left without an answer.
   */
  allHandlersFinished(): boolean;
  /**
   * True when the engine suggests continuing as new because this run's history is getting long
   * (Temporal's `continueAsNewSuggested`); always false in memory, which keeps no history.
   */
  continueAsNewSuggested(): boolean;
  /**
   * Ends this run and starts the same workflow afresh, with `input`, the same settings and the
   * same `runId`: on Temporal continue-as-new (a new run with an empty history); in memory the
   * engine restarts the body on a fresh executor. Never returns. Whatever the next run needs
   * (a conversation, counters) must travel in `input`.
   */
  continueAsNew(input: unknown): Promise<never>;

  /** A logger that stays quiet during Temporal replay. */
  readonly log: RunLogger;
}

export interface RunLogger {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}
