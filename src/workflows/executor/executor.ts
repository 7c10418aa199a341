/**
 * The executor is the one seam between agent logic and the engine that runs it.
 *
 * Agent and pattern code reaches the world only through this interface, so the same code runs
 * on Temporal (./temporal-executor.ts turns each effect into an activity, and waits into timers
 * and handlers) and in memory (./memory-executor.ts calls the effects' implementations
 * in-process, with the same retry policies). What both share is in ./base-executor.ts.
 *
 * Implementations keep every method deterministic from the caller's point of view: the results
 * of effects are recorded by the engine, never recomputed. Agent code may use `Date.now()` and
 * `Math.random()`: Temporal's sandbox replays them identically.
 */
import type { Message } from "../../common/messages.js";
import type { EffectMethods } from "../../common/effects.js";
import type { TokenUsage } from "../../common/llm.js";
import type { RunStatus } from "../../common/run-status.js";
import type { RunSettings } from "../../common/run-settings.js";
import type { z } from "zod";

export type EngineName = "memory" | "temporal";

/** A tool call held for a person's approval. */
export interface ApprovalCall {
  server: string;
  tool: string;
  arguments: Record<string, unknown>;
  inputSchema?: Record<string, unknown>;
}

/**
 * One method per effect in src/common/effects.ts (`callLlm`, `listTools`, `callTool`, MCP
 * prompts and resources), each a durable step: retried by the engine according to the run's
 * settings, waiting first while the run is paused, and shown as the run's current step.
 */
export interface Executor extends EffectMethods {
  /** This run: its id, engine and settings, its status, and what agent code adds to it. */
  readonly run: RunContext;
  /** A logger that stays quiet during Temporal replay. */
  readonly log: RunLogger;

  /**
   * A durable wait for a person's answer, validated by `schema`. On Temporal the answer arrives by
   * an Update whose validator refuses invalid answers to the sender, leaving the run untouched.
   */
  ask<T = string>(question: Question<T>): Promise<Answered<T>>;
  /**
   * A durable wait for a person to approve (possibly with edited arguments) or reject a tool call.
   * With the tool's `inputSchema`, edited arguments that do not fit it are refused to the sender.
   */
  requestApproval(call: ApprovalCall): Promise<ApprovalOutcome>;

  /**
   * Runs a registered duragent workflow as a child run and waits for its result. On Temporal it
   * is a child workflow with its own history (shown as a tree in the Web UI); in memory, a call.
   * `idSuffix` makes the child's id readable: `<parent id>/<idSuffix>`. What a child that fails
   * or is cancelled spent is added to this run's usage; a completed child's comes in its result,
   * for the caller to add (`run.addUsage`), as nested patterns do.
   */
  executeChild<O = unknown>(workflowName: string, input: unknown, options: { idSuffix: string; summary?: string }): Promise<O>;
  /** A durable sleep: on Temporal a timer that survives worker restarts. */
  sleep(ms: number): Promise<void>;
  /**
   * Resolves true once `predicate` holds, or false when `timeoutMs` passes first. The predicate
   * is re-checked whenever the run's state may have changed (Temporal's `condition`).
   */
  condition(predicate: () => boolean, timeoutMs?: number): Promise<boolean>;
  /** A random UUID, replayed identically on Temporal. */
  uuid(): string;

  /** Messages from outside the run: updates, queries and signals. */
  readonly messages: MessageHandlers;
  /**
   * Ends this run and starts the same workflow afresh, with `input`, the same settings and the
   * same run id: on Temporal continue-as-new (a new run with an empty history); in memory the
   * engine restarts the body on a fresh executor. Never returns. Whatever the next run needs
   * (a conversation, counters) must travel in `input`.
   */
  continueAsNew(input: unknown): Promise<never>;
}

/** The run, as agent code sees it: read-only but for what agent code itself contributes. */
export interface RunContext {
  /** The run's id: the workflow id on Temporal, the same across continue-as-new. */
  readonly id: string;
  /** Which engine runs this code. */
  readonly engine: EngineName;
  /** Defaults and bounds fixed when the run started. */
  readonly settings: RunSettings;
  /** Phase, steps, pending requests, usage: what `duragent status` shows. */
  status(): RunStatus;
  /** Adds agent messages to the run's transcript: what `duragent history` shows (by `agent`, when given), and what model calls refer to. */
  addToTranscript(messages: readonly Message[], agent?: string): void;
  /** Counts tokens spent for the run elsewhere (by a child run), so its status shows the whole tree's. */
  addUsage(model: string, usage: TokenUsage): void;
  /**
   * Says what the run waits for until its next step (a chat: `the next message`), so that its
   * status does not read as busy with its last step; the next step, or `undefined`, clears it.
   */
  waitingFor(what: string | undefined): void;
  /**
   * True when the engine suggests continuing as new because this run's history is getting long
   * (Temporal's `continueAsNewSuggested`); always false in memory, which keeps no history.
   */
  continueAsNewSuggested(): boolean;
  /**
   * Numbers this run's steps on from `steps`, those of the runs before it: a run that continues
   * an earlier one's work as new calls it before its first step, so `status` and `watch` count on.
   */
  countStepsFrom(steps: number): void;
}

export interface MessageHandlers {
  /**
   * Handles the named update: a request from outside that may change the run and answers its
   * sender. On Temporal it is a Temporal Update, and a `validator` that throws refuses it before
   * anything is written to history; in memory the client calls it. The handler may wait, e.g.
   * until the run's main loop has produced the answer.
   */
  onUpdate<A, R>(name: string, handler: (arg: A) => Promise<R> | R, options?: { validator?: (arg: A) => void }): void;
  /** Answers the named query: a read of the run's state that changes nothing and writes no history. */
  onQuery<A, R>(name: string, handler: (arg: A) => R): void;
  /** Handles the named signal (fire and forget). Signals without a handler queue for `nextSignal`. */
  onSignal<A>(name: string, handler: (arg: A) => void): void;
  /**
   * Waits for the next payload sent to the named signal. Resolves `undefined` when `timeoutMs`
   * passes first. Payloads sent before the wait are queued, never lost.
   */
  nextSignal<T = unknown>(name: string, timeoutMs?: number): Promise<T | undefined>;
  /**
   * True when no update or signal handler is still running. Wait for it before ending the run or
   * continuing as new, so that no sender is left without an answer.
   */
  allFinished(): boolean;
}

export interface Question<T> {
  prompt: string;
  /** Validates (and may transform) the answer; a string when absent. */
  schema?: z.ZodType<T>;
  /** Gives up after this long, returning `{ status: "timed_out" }`. */
  timeoutMs?: number;
}

export type Answered<T> = { status: "answered"; value: T } | { status: "timed_out" };

/** `edited` when the person approved the call with arguments other than the model's. */
export type ApprovalOutcome = { approved: true; arguments: Record<string, unknown>; edited?: true } | { approved: false; reason: string };

export interface RunLogger {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}
