/** Runs agents and workflows in this process, with the same activities a worker would use. */
import { rootCause } from "../common/failures.js";
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import { duragentVersion } from "../package-info.js";
import { openActivityRuntime, type ActivityRuntime } from "../activities/activity-runtime.js";
import type { TranscriptMessage } from "../common/messages.js";
import type { RunStatus } from "../common/run-status.js";
import { phasesListed } from "../common/run-phases.js";
import type { RunSettings } from "../common/run-settings.js";
import type { DuragentConfig } from "../config/schema.js";
import type { Logger } from "../logger.js";
import * as builtinWorkflows from "../workflows/builtin-workflows.js";
import { isDuragentWorkflow, type DuragentWorkflow } from "../workflows/define-workflow.js";
import { ContinueAsNewRequest } from "../workflows/executor/continue-as-new.js";
import {
  InvalidRunMessage,
  newRunId,
  RunAlreadyEnded,
  memoryRetention,
  RunFailed,
  RunNotFound,
  runAlreadyExists,
  runHandle,
  startSettings,
  targetInput,
  workflowType,
  type Engine,
  type RunHandle,
  type ListOptions,
  type RunSummary,
  type StartOptions,
} from "./engine.js";
import { isCancellation } from "@temporalio/workflow";
import type { RunLogger } from "../workflows/executor/executor.js";
import { keepScopesIn } from "../workflows/executor/cancellation-scopes.js";
import { MemoryExecutor } from "../workflows/executor/memory-executor.js";
import { loadRunTargets, type RunTarget } from "./run-targets.js";

interface MemoryRun {
  handle: RunHandle;
  /** The run's status, read without making the run watched (see `watched`). */
  peek(): Promise<RunStatus>;
  /** Stops the run's steps, whatever its phase; for closing the engine. */
  stop(): void;
  /** A child run in flight (or among the last ended), by its full id, while the run itself is. */
  descendant(id: string): MemoryExecutor | undefined;
  /** When it ended, in ms since the epoch; until then it is kept whatever its age. */
  endedAt?: number;
  type: string;
  target: string;
  startedAt: string;
}

// A fan-out's cancellation scope follows its branches across awaits, as Temporal's does in the sandbox.
keepScopesIn(new AsyncLocalStorage());

export class MemoryEngine implements Engine {
  readonly name = "memory" as const;
  private readonly runtime: ActivityRuntime;
  private readonly runs = new Map<string, MemoryRun>();
  /** Ended runs in the order they ended: the first ones are forgotten first. */
  private readonly ended: string[] = [];
  private workflowRegistry?: Promise<Map<string, DuragentWorkflow>>;

  constructor(
    private readonly config: DuragentConfig,
    private readonly settings: RunSettings,
    private readonly logger: Logger,
    /** Draws the random part of generated run ids. */
    private readonly uuid: () => string = randomUUID,
    /** Set when tracing is on: each run is a span, and spans are sent before the engine closes; `captureContent` as the config and environment resolve it. */
    private readonly tracing?: { flush(): Promise<void>; captureContent: boolean },
  ) {
    this.runtime = openActivityRuntime(config, logger, tracing ? { traced: true, captureContent: tracing.captureContent } : {});
  }

  async start(target: RunTarget, input: unknown, options: StartOptions = {}): Promise<RunHandle> {
    // Refused at start, as on Temporal, rather than as a failed run.
    const first = targetInput(target, input);
    const runId = options.runId ?? this.unusedRunId(target, options);
    if (this.runs.has(runId)) throw runAlreadyExists(runId, "in this process");
    const registry = await this.workflows();
    const type = workflowType(target);
    const workflow = registry.get(type);
    if (!workflow) throw new Error(`No workflow is registered as '${type}'.`);
    const log = lazyChildLogger(this.logger, { runId });
    // Model calls stream only once someone reads the run's status (events(), a chat's onText, a
    // CLI on a terminal, serve's progress): a run nobody watches makes plain requests.
    let watched = options.watch === true;
    const settings = startSettings(this.settings, options, this.config.pricing);
    const newExecutor = () =>
      new MemoryExecutor(this.runtime.effects, settings, log, { runId, workflows: (name) => registry.get(name), streaming: () => watched });
    // The executor of the current run: continue-as-new replaces it, and the handle follows. Once
    // the run ends, only what can still be read of it is kept (see `ended`), not the executor.
    let executor: MemoryExecutor | undefined = newExecutor();
    let ended: { status: RunStatus; transcript: TranscriptMessage[]; withChildRuns?: TranscriptMessage[] } | undefined;
    // Past its end only messages name an action; the run's own reads never get here once it has ended.
    const live = (action = "go on with"): MemoryExecutor => executor ?? raise(new RunAlreadyEnded(runId, ended!.status.phase, action));
    // The run begins one turn of the event loop after start(), so a caller that watches right
    // away (`for await (… of handle.events())`) sees its first model call stream.
    const begun = new Promise((resolve) => setImmediate(resolve));
    // The run's end: its code's outcome, or a termination, which does not wait for the code.
    let settle!: { resolve: (value: unknown) => void; reject: (error: unknown) => void };
    const outcome = new Promise<unknown>((resolve, reject) => (settle = { resolve, reject }));
    let terminatedBy: string | undefined;
    let ending = false;
    // Keeps what can still be read of the run, then settles its outcome; the first end wins.
    const end = async (outcomeOf: (how: typeof settle) => void): Promise<void> => {
      if (ending) return;
      ending = true;
      // Read now: a termination that arrives while a finished run is put away changes nothing.
      const reason = terminatedBy;
      try {
        const last = live();
        const status = await last.statusWithChildren();
        ended = {
          status: reason === undefined ? status : { ...status, phase: "terminated", lastError: reason },
          transcript: last.transcript(),
          ...(last.hasChildRuns ? { withChildRuns: last.transcriptTree() } : {}),
        };
        executor = undefined;
        this.remember(runId);
      } finally {
        outcomeOf(settle);
      }
    };
    const body = async () => {
      await begun;
      let next = first;
      for (;;) {
        try {
          return await live().runBody(workflow.body, next);
        } catch (error) {
          if (!(error instanceof ContinueAsNewRequest) || terminatedBy !== undefined) throw error;
          next = error.input;
          executor = newExecutor();
        }
      }
    };
    void (this.tracing ? inRunSpan(runId, target, body) : body()).then(
      (result) => end(({ resolve }) => resolve(result)),
      (error: unknown) => end(({ reject }) => reject(new RunFailed(runId, isCancellation(error) ? "cancelled" : "failed", rootCause(error), error))),
    );
    outcome.catch(() => undefined); // observed through result()
    // A message waits for the run's handlers: until it has begun, or between two executors.
    const current = async (): Promise<MemoryExecutor> => {
      await begun;
      while (executor && !executor.acceptsMessages) await new Promise((resolve) => setImmediate(resolve));
      if (!executor) throw new RunNotFound(runId, "that is still running");
      return executor;
    };
    const peek = async () => ended?.status ?? live().statusWithChildren();
    const handle = runHandle({
      runId,
      result: () => outcome,
      status: (options = {}) => {
        if (options.watch !== false) watched = true;
        return peek();
      },
      transcript: async (options = {}) => {
        if (ended) return [...((options.childRuns ? ended.withChildRuns : undefined) ?? ended.transcript)];
        return options.childRuns ? live().transcriptTree() : live().transcript();
      },
      // A refusal (InvalidRunMessage) reaches the caller as the rejection, as a Temporal update's would.
      answer: async (answer) => live("answer").answer(answer),
      decide: async (decision) => live("approve or reject").decide(decision),
      pause: async () => live("pause").pause(),
      resume: async () => live("resume").resume(),
      cancel: async () => live("cancel").cancel(),
      terminate: async (reason = "terminated by duragent") => {
        const running = live("terminate");
        terminatedBy = reason;
        running.cancel();
        await end(({ reject }) => reject(new RunFailed(runId, "terminated", reason)));
      },
      update: async <R>(name: string, payload?: unknown) => (await current()).update<R>(name, payload),
      signal: async (name, payload) => (await current()).signal(name, payload),
      query: async <R>(name: string, payload?: unknown) => (await current()).query<R>(name, payload),
      child: async (id) => descendantToAnswer(runId, live("reach a child run of"), id),
    }, 30);
    this.runs.set(runId, { handle, peek, stop: () => executor?.cancel(), descendant: (id) => executor?.descendant(id), type, target: options.listedAs ?? target.name, startedAt: new Date().toISOString() });
    return handle;
  }

  /** A generated id no kept run holds: with 32 random bits, a long-lived process may draw one again. */
  private unusedRunId(target: RunTarget, options: StartOptions): string {
    let runId: string;
    do runId = newRunId(target, this.uuid(), options);
    while (this.runs.has(runId));
    return runId;
  }

  /**
   * A run that ended stays readable (status, transcript, result) for `memory.keepFinishedMs`, and
   * at most `memory.keepFinishedRuns` of them are kept, so a long-lived process (`duragent serve`)
   * does not grow without bound.
   */
  private remember(runId: string): void {
    const run = this.runs.get(runId);
    if (!run) return;
    run.endedAt = Date.now();
    this.ended.push(runId);
    this.forget();
  }

  private forget(): void {
    const { keepFinishedRuns, keepFinishedMs } = this.config.memory;
    const stale = Date.now() - keepFinishedMs;
    while (this.ended.length > 0 && (this.ended.length > keepFinishedRuns || (this.runs.get(this.ended[0]!)?.endedAt ?? 0) < stale)) {
      this.runs.delete(this.ended.shift()!);
    }
  }

  /** The workflows a Temporal worker would register: the built-in ones and the config's modules'. */
  private workflows(): Promise<Map<string, DuragentWorkflow>> {
    this.workflowRegistry ??= loadRunTargets(this.config).then((targets) => {
      const registry = new Map<string, DuragentWorkflow>();
      for (const [name, value] of Object.entries(builtinWorkflows)) {
        if (isDuragentWorkflow(value)) registry.set(name, value);
      }
      for (const target of targets.values()) if (target.kind === "workflow") registry.set(target.name, target.workflow);
      return registry;
    });
    return this.workflowRegistry;
  }

  async getHandle(runId: string): Promise<RunHandle> {
    this.forget();
    const run = this.runs.get(runId);
    if (run) return run.handle;
    // A child run (`<run>/<child>-1`, as a status lists it) is reached through its root run.
    const parts = runId.split("/");
    for (let length = parts.length - 1; length >= 1; length--) {
      const child = this.runs.get(parts.slice(0, length).join("/"))?.descendant(runId);
      if (child) return childHandle(runId, child);
    }
    throw new RunNotFound(runId, runId.includes("/") ? "in this process: a child run is found while its root run is in flight" : `in this process (${memoryRetention(this.config)})`);
  }

  async list(limit: number, options: ListOptions = {}): Promise<RunSummary[]> {
    this.forget();
    const matching = [...this.runs.values()].reverse().filter((run) => options.target === undefined || run.target === options.target);
    // Each status is read; without a phase to filter by, only the ones listed.
    const runs = options.phase === undefined ? matching.slice(0, limit) : matching;
    const listed = await Promise.all(
      runs.map(async (run) => {
        const status = await run.peek();
        return {
          runId: run.handle.runId,
          type: run.type,
          target: run.target,
          phase: status.phase,
          startedAt: run.startedAt,
          ...(options.usage ? { usage: status.usage, ...(status.pending.length > 0 ? { pending: status.pending } : {}) } : {}),
        };
      }),
    );
    const phases = options.phase === undefined ? undefined : phasesListed(options.phase);
    return listed.filter((run) => phases === undefined || phases.includes(run.phase)).slice(0, limit);
  }

  async workerWarning(): Promise<string | undefined> {
    return undefined; // the run's steps run in this process, at once
  }

  async close(): Promise<void> {
    for (const run of this.runs.values()) run.stop();
    await this.runtime.close();
    await this.tracing?.flush();
  }
}

/**
 * A run as the span its model and MCP calls' spans hang from, named as Temporal's interceptors
 * name a workflow's, so a trace reads the same from either engine.
 */
async function inRunSpan<T>(runId: string, target: RunTarget, body: () => Promise<T>): Promise<T> {
  const { trace, SpanStatusCode } = await import("@opentelemetry/api");
  return trace.getTracer("duragent", duragentVersion).startActiveSpan(`RunWorkflow:${workflowType(target)}`, { attributes: { "duragent.run_id": runId, "duragent.target": target.name } }, async (span) => {
    try {
      return await body();
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

function raise(error: Error): never {
  throw error;
}

/** A child logger made on first use: most runs never log, and pino's child costs a little every time. */
function lazyChildLogger(logger: Logger, bindings: Record<string, unknown>): RunLogger {
  let child: Logger | undefined;
  const get = () => (child ??= logger.child(bindings));
  return {
    debug: (message, attributes) => get().debug(attributes ?? {}, message),
    info: (message, attributes) => get().info(attributes ?? {}, message),
    warn: (message, attributes) => get().warn(attributes ?? {}, message),
    error: (message, attributes) => get().error(attributes ?? {}, message),
  };
}

/** A handle on a child run in memory: what its parent's handle offers, on the child's executor. */
function childHandle(runId: string, child: MemoryExecutor): RunHandle {
  return runHandle({
    runId,
    result: () => child.outcome ?? Promise.reject(new RunNotFound(runId, "with an outcome to wait for")),
    status: () => child.statusWithChildren(),
    transcript: async (options = {}) => (options.childRuns ? child.transcriptTree() : child.transcript()),
    answer: async (answer) => child.answer(answer),
    decide: async (decision) => child.decide(decision),
    pause: async () => child.pause(),
    resume: async () => child.resume(),
    cancel: async () => child.cancel(),
    // A child's code runs inside its parent's: it can only be stopped as a cancel stops it.
    terminate: async () => child.cancel(),
    update: async <R>(name: string, payload?: unknown) => child.update<R>(name, payload),
    signal: async (name, payload) => child.signal(name, payload),
    query: async <R>(name: string, payload?: unknown) => child.query<R>(name, payload),
    child: async (id) => descendantToAnswer(runId, child, id),
  }, 30);
}

/** A child run (or a child's child) of `run` that takes answers and decisions, as a handle routes them. */
function descendantToAnswer(runId: string, run: MemoryExecutor, id: string): Pick<RunHandle, "answer" | "decide"> {
  const descendant = run.descendant(id);
  if (!descendant) throw new InvalidRunMessage(`Run ${runId} has no child run ${id} in flight.`);
  return { answer: async (answer) => descendant.answer(answer), decide: async (decision) => descendant.decide(decision) };
}
