/**
 * The memory engine's executor: calls the activity functions in this process, with Temporal's
 * retry semantics, so that tests and local work run the very code a worker would.
 * It plays the part that InMemoryTransport plays in the MCP SDK: real behaviour, no server.
 */
import { randomUUID } from "node:crypto";
import type { DuragentActivities } from "../common/activities.js";
import type { LlmRequest, LlmResponse } from "../common/llm.js";
import type { RunSettings } from "../common/run-settings.js";
import type { ToolCallRequest, ToolDefinition, ToolResult } from "../common/tools.js";
import type { DuragentWorkflow } from "../workflows/define-workflow.js";
import type { Executor, RunLogger } from "../workflows/executor.js";
import { SignalInbox } from "../workflows/signal-inbox.js";
import { runWithRetry } from "./retry.js";

/** Activities as the memory engine calls them: with a signal that aborts a timed-out attempt. */
export type InProcessActivities = {
  [K in keyof DuragentActivities]: (
    ...args: [...Parameters<DuragentActivities[K]>, AbortSignal?]
  ) => ReturnType<DuragentActivities[K]>;
};

export class MemoryExecutor implements Executor {
  readonly engine = "memory" as const;
  private readonly inbox = new SignalInbox();
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly activities: InProcessActivities,
    readonly settings: RunSettings,
    readonly log: RunLogger,
    readonly runId: string = randomUUID(),
    /** Finds the workflows that `executeChild` may start, by their registered name. */
    private readonly workflows: (name: string) => DuragentWorkflow | undefined = () => undefined,
  ) {}

  callLlm(request: LlmRequest): Promise<LlmResponse> {
    return runWithRetry(this.settings.llm, (signal) => this.activities.callLlm(request, signal));
  }

  listTools(server: string): Promise<ToolDefinition[]> {
    return runWithRetry(this.settings.tools, (signal) => this.activities.listTools(server, signal));
  }

  callTool(request: ToolCallRequest): Promise<ToolResult> {
    return runWithRetry(this.settings.tools, (signal) => this.activities.callTool(request, signal));
  }

  executeChild<O>(workflowName: string, input: unknown, options: { idSuffix: string }): Promise<O> {
    const workflow = this.workflows(workflowName);
    if (!workflow) return Promise.reject(new Error(`No workflow is registered as '${workflowName}'.`));
    const child = new MemoryExecutor(this.activities, this.settings, this.log, `${this.runId}/${options.idSuffix}`, this.workflows);
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
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  /** Delivers a payload to the named signal, as a Temporal client's signal would. */
  signal(name: string, payload: unknown): void {
    this.inbox.push(name, payload);
    for (const wake of this.waiters) wake();
  }

  async waitForSignal<T>(name: string, timeoutMs?: number): Promise<T | undefined> {
    if (!this.inbox.has(name)) {
      const arrived = await new Promise<boolean>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const wake = () => {
          if (!this.inbox.has(name)) return;
          this.waiters.delete(wake);
          clearTimeout(timer);
          resolve(true);
        };
        this.waiters.add(wake);
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => {
            this.waiters.delete(wake);
            resolve(false);
          }, timeoutMs);
        }
      });
      if (!arrived) return undefined;
    }
    return this.inbox.take(name) as T;
  }
}
