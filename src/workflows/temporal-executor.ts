/**
 * The Temporal engine's executor: every effect becomes an activity, a timer or a signal wait,
 * so that a replayed workflow gets the recorded results instead of repeating the effects.
 * Runs inside the workflow sandbox; imports activity types only.
 */
import * as workflow from "@temporalio/workflow";
import { ActivityName } from "../common/activity-names.js";
import type { DuragentActivities } from "../common/activities.js";
import { nonRetryableFailureTypes } from "../common/failures.js";
import type { LlmRequest, LlmResponse } from "../common/llm.js";
import type { ActivitySettings, RunSettings } from "../common/run-settings.js";
import type { ToolCallRequest, ToolDefinition, ToolResult } from "../common/tools.js";
import type { Executor, RunLogger } from "./executor.js";
import { SignalInbox } from "./signal-inbox.js";

function activityOptions(settings: ActivitySettings, summary: string): workflow.ActivityOptions {
  const { retry } = settings;
  return {
    summary,
    startToCloseTimeout: settings.startToCloseTimeoutMs,
    heartbeatTimeout: settings.heartbeatTimeoutMs,
    retry: {
      maximumAttempts: retry.maximumAttempts,
      initialInterval: retry.initialIntervalMs,
      backoffCoefficient: retry.backoffCoefficient,
      maximumInterval: retry.maximumIntervalMs,
      nonRetryableErrorTypes: nonRetryableFailureTypes,
    },
  };
}

export class TemporalExecutor implements Executor {
  readonly engine = "temporal" as const;
  readonly runId: string;
  readonly log: RunLogger = workflow.log;
  private readonly inbox = new SignalInbox();

  constructor(readonly settings: RunSettings) {
    this.runId = workflow.workflowInfo().workflowId;
    // Signals sent before their wait starts are queued rather than dropped.
    workflow.setDefaultSignalHandler((name, ...args) => this.inbox.push(name, args[0]));
  }

  // Each call gets its own proxy so the Web UI shows what that step did.
  private activities(settings: ActivitySettings, summary: string): DuragentActivities {
    return workflow.proxyActivities<DuragentActivities>(activityOptions(settings, summary));
  }

  callLlm(request: LlmRequest): Promise<LlmResponse> {
    const activities = this.activities(this.settings.llm, `llm ${request.model}`);
    return activities[ActivityName.callLlm](request);
  }

  listTools(server: string): Promise<ToolDefinition[]> {
    const activities = this.activities(this.settings.tools, `tools ${server}`);
    return activities[ActivityName.listTools](server);
  }

  callTool(request: ToolCallRequest): Promise<ToolResult> {
    const activities = this.activities(this.settings.tools, `tool ${request.server}/${request.tool}`);
    return activities[ActivityName.callTool](request);
  }

  executeChild<O>(workflowName: string, input: unknown, options: { idSuffix: string; summary?: string }): Promise<O> {
    return workflow.executeChild(workflowName, {
      workflowId: `${this.runId}/${options.idSuffix}`,
      args: [{ input, settings: this.settings }],
      staticSummary: options.summary,
    }) as Promise<O>;
  }

  now(): number {
    return Date.now();
  }

  random(): number {
    return Math.random();
  }

  uuid(): string {
    return workflow.uuid4();
  }

  sleep(ms: number): Promise<void> {
    return workflow.sleep(ms);
  }

  async waitForSignal<T>(name: string, timeoutMs?: number): Promise<T | undefined> {
    const ready = () => this.inbox.has(name);
    if (timeoutMs === undefined) await workflow.condition(ready);
    else if (!(await workflow.condition(ready, timeoutMs))) return undefined;
    return this.inbox.take(name) as T;
  }
}
