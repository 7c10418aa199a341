/** Runs agents and workflows in this process, with the same activities a worker would use. */
import { randomUUID } from "node:crypto";
import { openActivityRuntime, type ActivityRuntime } from "../activities/activity-runtime.js";
import type { RunSettings } from "../common/run-settings.js";
import type { DuragentConfig } from "../config/schema.js";
import type { Logger } from "../logger.js";
import * as builtinWorkflows from "../workflows/builtin-workflows.js";
import { isDuragentWorkflow, runToEnd, type DuragentWorkflow } from "../workflows/define-workflow.js";
import { ContinueAsNewRequest } from "../workflows/executor/continue-as-new.js";
import {
  newRunId,
  rootCause,
  RunAlreadyEnded,
  RunFailed,
  RunNotFound,
  runHandle,
  targetInput,
  workflowType,
  type Engine,
  type RunHandle,
  type RunSummary,
  type StartOptions,
} from "./engine.js";
import { isCancellation } from "@temporalio/workflow";
import { MemoryExecutor } from "../workflows/executor/memory-executor.js";
import { loadRunTargets, type RunTarget } from "./run-targets.js";

interface MemoryRun {
  handle: RunHandle;
  /** Stops the run's steps, whatever its phase; for closing the engine. */
  stop(): void;
  type: string;
  startedAt: string;
}

export class MemoryEngine implements Engine {
  readonly name = "memory" as const;
  private readonly runtime: ActivityRuntime;
  private readonly runs = new Map<string, MemoryRun>();
  private workflowRegistry?: Promise<Map<string, DuragentWorkflow>>;

  constructor(
    private readonly config: DuragentConfig,
    private readonly settings: RunSettings,
    private readonly logger: Logger,
  ) {
    this.runtime = openActivityRuntime(config, logger);
  }

  async start(target: RunTarget, input: unknown, options: StartOptions = {}): Promise<RunHandle> {
    const runId = options.runId ?? newRunId(target, randomUUID());
    if (this.runs.has(runId)) throw new Error(`A run '${runId}' already exists in this process; choose another id.`);
    const registry = await this.workflows();
    const type = workflowType(target);
    const workflow = registry.get(type);
    if (!workflow) throw new Error(`No workflow is registered as '${type}'.`);
    const newExecutor = () =>
      new MemoryExecutor(this.runtime.effects, this.settings, this.logger.child({ runId }), runId, (name) => registry.get(name));
    // The executor of the current run: continue-as-new replaces it, and the handle follows.
    let executor = newExecutor();
    let ended = false;
    const outcome = (async () => {
      let next = targetInput(target, input);
      for (;;) {
        try {
          return await runToEnd(executor, workflow.body, next);
        } catch (error) {
          if (!(error instanceof ContinueAsNewRequest)) throw error;
          next = error.input;
          executor = newExecutor();
        }
      }
    })()
      .catch((error: unknown) => {
        throw new RunFailed(runId, isCancellation(error) ? "cancelled" : "failed", rootCause(error), error);
      })
      .finally(() => {
        ended = true;
      });
    outcome.catch(() => undefined); // observed through result()
    // A message sent while the run is between two executors waits for the next one.
    const current = async (): Promise<MemoryExecutor> => {
      while (!executor.acceptsMessages && !ended) await new Promise((resolve) => setImmediate(resolve));
      if (ended) throw new RunNotFound(runId, "that is still running");
      return executor;
    };
    const handle = runHandle({
      runId,
      result: () => outcome,
      status: async () => executor.control.status(),
      transcript: async () => [...executor.control.transcript],
      // A refusal (InvalidRunMessage) reaches the caller as the rejection, as a Temporal update's would.
      answer: async (answer) => executor.answer(answer),
      decide: async (decision) => executor.decide(decision),
      pause: async () => executor.pause(),
      resume: async () => executor.resume(),
      cancel: async () => {
        if (ended) throw new RunAlreadyEnded(runId, executor.control.status().phase);
        executor.cancel();
      },
      update: async <R>(name: string, payload?: unknown) => {
        return (await current()).update<R>(name, payload);
      },
      signal: async (name, payload) => (await current()).signal(name, payload),
      query: async <R>(name: string, payload?: unknown) => (await current()).query<R>(name, payload),
    });
    this.runs.set(runId, { handle, stop: () => executor.cancel(), type, startedAt: new Date().toISOString() });
    return handle;
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
    const run = this.runs.get(runId);
    if (!run) throw new RunNotFound(runId, "in this process (memory runs live only as long as their process)");
    return run.handle;
  }

  async list(limit: number): Promise<RunSummary[]> {
    const runs = [...this.runs.values()].reverse().slice(0, limit);
    return Promise.all(
      runs.map(async (run) => ({
        runId: run.handle.runId,
        type: run.type,
        phase: (await run.handle.status()).phase,
        startedAt: run.startedAt,
      })),
    );
  }

  async startWarning(): Promise<string | undefined> {
    return undefined; // the run's steps run in this process, at once
  }

  async close(): Promise<void> {
    for (const run of this.runs.values()) run.stop();
    await this.runtime.close();
  }
}
