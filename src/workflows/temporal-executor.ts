/**
 * The Temporal engine's executor: every effect becomes an activity, a timer or a handler, so a
 * replayed workflow gets the recorded results instead of repeating the effects. People reach the
 * run through the handlers registered here (status query, input and approval updates, pause).
 * Runs inside the workflow sandbox; imports activity types only.
 */
import * as workflow from "@temporalio/workflow";
import type { DuragentActivities } from "../common/activities.js";
import { nonRetryableFailureTypes } from "../common/failures.js";
import { RunMessages, type ApprovalDecision, type HumanAnswer, type RunStatus } from "../common/run-status.js";
import type { ActivitySettings, RunSettings } from "../common/run-settings.js";
import type { Message } from "../common/messages.js";
import type { LlmSetup } from "../common/llm.js";
import { llmSetupQuery, transcriptSliceQuery, type TranscriptSlice } from "../common/transcript-reference.js";
import type { RunPhase } from "../common/run-status.js";
import { phaseSearchAttribute } from "../common/search-attributes.js";
import { ServerRequestSchema, type ServerRequest, type ServerRequestAnswer } from "../common/server-requests.js";
import { BaseExecutor, type ActivityInvoker } from "./base-executor.js";
import type { RunLogger } from "./executor.js";
import type { TranscriptLocation } from "./transcript-references.js";
import type { WorkflowRunInput } from "./define-workflow.js";

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

export const statusQuery = workflow.defineQuery<RunStatus>(RunMessages.status);
export const transcriptQuery = workflow.defineQuery<Message[]>(RunMessages.transcript);
/** Asked by the `callLlm` activity to resolve a transcript reference; cheap, and never in history. */
export const transcriptSliceQueryDefinition = workflow.defineQuery<Message[], [TranscriptSlice]>(transcriptSliceQuery);
export const llmSetupQueryDefinition = workflow.defineQuery<LlmSetup | null, [number]>(llmSetupQuery);
export const inputUpdate = workflow.defineUpdate<void, [HumanAnswer]>(RunMessages.input);
export const inputSignal = workflow.defineSignal<[HumanAnswer]>(RunMessages.input);
export const decideUpdate = workflow.defineUpdate<void, [ApprovalDecision]>(RunMessages.decide);
export const pauseSignal = workflow.defineSignal(RunMessages.pause);
export const resumeSignal = workflow.defineSignal(RunMessages.resume);
export const serverRequestUpdate = workflow.defineUpdate<ServerRequestAnswer | null, [ServerRequest]>(RunMessages.serverRequest);
export const serverAnswerQuery = workflow.defineQuery<ServerRequestAnswer | null, [string]>(RunMessages.serverAnswer);

export class TemporalExecutor extends BaseExecutor {
  readonly engine = "temporal" as const;
  readonly log: RunLogger = workflow.log;

  constructor(settings: RunSettings) {
    super(workflow.workflowInfo().workflowId, settings);
    const control = this.control;
    workflow.setHandler(statusQuery, () => control.status());
    workflow.setHandler(transcriptQuery, () => control.transcript);
    workflow.setHandler(transcriptSliceQueryDefinition, ({ from, to }) => control.transcript.slice(from, to));
    workflow.setHandler(llmSetupQueryDefinition, (index) => this.references.setup(index) ?? null);
    // Validators run before anything is written to history, so a bad answer leaves no trace.
    workflow.setHandler(inputUpdate, (answer) => control.applyAnswer(answer), {
      validator: (answer) => control.validateAnswer(answer),
    });
    workflow.setHandler(decideUpdate, (decision) => control.applyDecision(decision), {
      validator: (decision) => control.validateDecision(decision),
    });
    // The fire-and-forget variant: an invalid answer cannot be refused, so it is logged and dropped.
    workflow.setHandler(inputSignal, (answer) => {
      try {
        control.applyAnswer(answer);
      } catch (error) {
        workflow.log.warn("ignored an invalid answer sent by signal", { error: (error as Error).message });
      }
    });
    // A tool-call activity reports a server's request for a person and polls for the answer; the
    // answer lives in workflow state, so it survives the worker and a retried call reuses it.
    workflow.setHandler(serverRequestUpdate, (request) => control.openServerRequest(request), {
      validator: (request) => void ServerRequestSchema.parse(request),
    });
    workflow.setHandler(serverAnswerQuery, (key) => control.serverAnswer(key));
    workflow.setHandler(pauseSignal, () => control.pause());
    workflow.setHandler(resumeSignal, () => control.resume());
    // Other signals are queued for waitForSignal rather than dropped.
    workflow.setDefaultSignalHandler((name, ...args) => this.inbox.push(name, args[0]));
  }

  protected override phaseChanged(phase: RunPhase): void {
    if (this.settings.searchAttributes) workflow.upsertSearchAttributes([{ key: phaseSearchAttribute, value: phase }]);
  }

  protected transcriptLocation(): TranscriptLocation {
    const { workflowId, runId } = workflow.workflowInfo();
    return { workflowId, runId };
  }

  setUpdateHandler<A, R>(name: string, handler: (arg: A) => Promise<R> | R, options: { validator?: (arg: A) => void } = {}): void {
    const definition = workflow.defineUpdate<R, [A]>(name);
    workflow.setHandler(definition, async (arg: A) => handler(arg), options.validator ? { validator: options.validator } : {});
  }

  setSignalHandler<A>(name: string, handler: (arg: A) => void): void {
    workflow.setHandler(workflow.defineSignal<[A]>(name), handler);
  }

  setQueryHandler<A, R>(name: string, handler: (arg: A) => R): void {
    workflow.setHandler(workflow.defineQuery<R, [A]>(name), handler);
  }

  allHandlersFinished(): boolean {
    return workflow.allHandlersFinished();
  }

  continueAsNewSuggested(): boolean {
    return workflow.workflowInfo().continueAsNewSuggested;
  }

  continueAsNew(input: unknown): Promise<never> {
    // Same workflow type, task queue and search attributes; only the input changes.
    return workflow.continueAsNew<(run: WorkflowRunInput<unknown>) => Promise<unknown>>({ input, settings: this.settings });
  }

  protected invoke: ActivityInvoker = (name, args, settings, summary) => {
    const activities = workflow.proxyActivities<DuragentActivities>(activityOptions(settings, summary));
    const activity = activities[name] as unknown as (...values: typeof args) => ReturnType<DuragentActivities[typeof name]>;
    return activity(...args);
  };

  protected async waitUntil(predicate: () => boolean, timeoutMs?: number): Promise<boolean> {
    if (timeoutMs === undefined) {
      await workflow.condition(predicate);
      return true;
    }
    return workflow.condition(predicate, timeoutMs);
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
}
