/**
 * The memory engine's executor: calls the activity functions in this process, with Temporal's
 * retry semantics, so that tests and local work run the very code a worker would.
 * It plays the part that InMemoryTransport plays in the MCP SDK: real behaviour, no server.
 */
import { randomUUID } from "node:crypto";
import { CancelledFailure } from "@temporalio/common";
import type { DuragentActivities } from "../common/activities.js";
import type { RunChannel, ServerRequestAnswer } from "../common/server-requests.js";
import type { ApprovalDecision, HumanAnswer } from "../common/run-status.js";
import type { RunSettings } from "../common/run-settings.js";
import { BaseExecutor, type ActivityInvoker } from "../workflows/base-executor.js";
import type { DuragentWorkflow } from "../workflows/define-workflow.js";
import type { RunLogger } from "../workflows/executor.js";
import { runWithRetry } from "./retry.js";

/**
 * Activities as the memory engine calls them: with a signal that aborts a timed-out attempt, and
 * the run's channel for a tool call's requests to a person and its progress.
 */
export type InProcessActivities = {
  [K in keyof DuragentActivities]: (
    ...args: [...Parameters<DuragentActivities[K]>, AbortSignal?, RunChannel?]
  ) => ReturnType<DuragentActivities[K]>;
};

interface Waiter {
  predicate: () => boolean;
  resolve: (met: boolean) => void;
  reject: (error: unknown) => void;
  timer?: NodeJS.Timeout;
}

export class MemoryExecutor extends BaseExecutor {
  readonly engine = "memory" as const;
  private readonly waiters = new Set<Waiter>();
  private readonly cancellation: AbortController;

  constructor(
    private readonly activities: InProcessActivities,
    settings: RunSettings,
    readonly log: RunLogger,
    runId: string = randomUUID(),
    /** Finds the workflows that `executeChild` may start, by their registered name. */
    private readonly workflows: (name: string) => DuragentWorkflow | undefined = () => undefined,
    /** A parent's cancellation reaches its children. */
    parentCancellation?: AbortSignal,
  ) {
    super(runId, settings);
    this.cancellation = new AbortController();
    parentCancellation?.addEventListener("abort", () => this.cancel(), { once: true });
  }

  protected invoke: ActivityInvoker = (name, args, settings) => {
    if (this.cancellation.signal.aborted) return Promise.reject(new CancelledFailure("the run was cancelled")) as never;
    const activity = this.activities[name] as unknown as (...values: unknown[]) => Promise<unknown>;
    const result = runWithRetry(settings, (signal) => activity(...args, signal, this.runChannel), this.cancellation.signal);
    return result as unknown as ReturnType<DuragentActivities[typeof name]>;
  };

  /**
   * What Temporal's workflow handlers do for a tool call's server requests, in-process: the run's
   * control keeps the keyed requests and answers, so a retried attempt is answered from it.
   */
  private readonly runChannel: RunChannel = {
    ask: async (request, signal) => {
      const known = this.control.openServerRequest(request);
      if (known) return known;
      this.notify();
      const answer = (): ServerRequestAnswer | null => this.control.serverAnswer(request.key);
      const aborted = new Promise<never>((_, reject) => {
        const onAbort = () => reject(signal.reason);
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      });
      aborted.catch(() => undefined); // observed by the race only
      // A timed-out attempt stops waiting; the request stays open for the retry, keyed the same.
      await Promise.race([this.waitUntil(() => answer() !== null), aborted]);
      return answer()!;
    },
    progress: (progress) => this.control.recordProgress(progress),
  };

  protected waitUntil(predicate: () => boolean, timeoutMs?: number): Promise<boolean> {
    if (this.cancellation.signal.aborted) return Promise.reject(new CancelledFailure("the run was cancelled"));
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { predicate, resolve, reject };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.waiters.delete(waiter);
          resolve(predicate());
        }, timeoutMs);
      }
      this.waiters.add(waiter);
    });
  }

  /** Re-checks every wait after the run's state changed from outside. */
  private notify(): void {
    for (const waiter of [...this.waiters]) {
      if (!waiter.predicate()) continue;
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(true);
    }
  }

  // What a Temporal client would send, delivered in-process.

  signal(name: string, payload: unknown): void {
    this.inbox.push(name, payload);
    this.notify();
  }

  answer(answer: HumanAnswer): void {
    this.control.applyAnswer(answer);
    this.notify();
  }

  decide(decision: ApprovalDecision): void {
    this.control.applyDecision(decision);
    this.notify();
  }

  pause(): void {
    this.control.pause();
  }

  resume(): void {
    this.control.resume();
    this.notify();
  }

  /** Aborts in-flight steps and waits; the run then fails with a CancelledFailure. */
  cancel(): void {
    if (this.cancellation.signal.aborted) return;
    this.cancellation.abort();
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new CancelledFailure("the run was cancelled"));
    }
    this.waiters.clear();
  }

  executeChild<O>(workflowName: string, input: unknown, options: { idSuffix: string }): Promise<O> {
    const workflow = this.workflows(workflowName);
    if (!workflow) return Promise.reject(new Error(`No workflow is registered as '${workflowName}'.`));
    const child = new MemoryExecutor(
      this.activities,
      this.settings,
      this.log,
      `${this.runId}/${options.idSuffix}`,
      this.workflows,
      this.cancellation.signal,
    );
    return workflow.body(child, input) as Promise<O>;
  }

  now(): number {
    return Date.now();
  }

  random(): number {
    return Math.random();
  }

  uuid(): string {
    return randomUUID();
  }

  sleep(ms: number): Promise<void> {
    return this.waitUntil(() => false, ms).then(() => undefined);
  }
}
