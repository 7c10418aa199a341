/**
 * What both executors share: every step passes through the run's control (pause, step count,
 * usage, last error), and human requests and signal waits are built on the engine's `waitUntil`.
 * Subclasses supply the effects themselves.
 */
import type { LlmRequest, LlmResponse } from "../common/llm.js";
import { historyLimitDefaults, type ActivitySettings, type RunSettings } from "../common/run-settings.js";
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
import type { DuragentActivities } from "../common/activities.js";
import type { RunPhase } from "../common/run-status.js";
import type { EngineName, Executor, RunLogger } from "./executor.js";
import { RunControl, type ApprovalOutcome, type HumanInputOptions, type HumanInputResult } from "./run-control.js";
import { SignalInbox } from "./signal-inbox.js";
import { TranscriptReferencer, type TranscriptLocation } from "./transcript-references.js";

export type ActivityInvoker = <K extends keyof DuragentActivities>(
  name: K,
  args: Parameters<DuragentActivities[K]>,
  settings: ActivitySettings,
  summary: string,
) => ReturnType<DuragentActivities[K]>;

export abstract class BaseExecutor implements Executor {
  abstract readonly engine: EngineName;
  abstract readonly log: RunLogger;
  readonly control: RunControl;
  protected readonly inbox = new SignalInbox();
  /** Numbers tool calls in the order the run makes them, which replays identically. */
  private toolCallCount = 0;
  /** Turns large model calls into references to this run's state; also answers what they refer to. */
  protected readonly references: TranscriptReferencer;

  protected constructor(
    readonly runId: string,
    readonly settings: RunSettings,
  ) {
    this.control = new RunControl(
      runId,
      (predicate, timeoutMs) => this.waitUntil(predicate, timeoutMs),
      () => this.now(),
      (phase) => this.phaseChanged(phase),
    );
    this.references = new TranscriptReferencer(
      this.control.transcript,
      () => this.transcriptLocation(),
      settings.transcriptReferenceBytes ?? historyLimitDefaults.transcriptReferenceBytes,
    );
  }

  /** Where this run's transcript can be asked for, by the activities that resolve references to it. */
  protected abstract transcriptLocation(): TranscriptLocation;

  /** Hook for engines that publish the phase (Temporal's search attribute). */
  protected phaseChanged(_phase: RunPhase): void {}

  /** Resolves true once `predicate` holds (re-checked whenever run state changes), false on timeout. */
  protected abstract waitUntil(predicate: () => boolean, timeoutMs?: number): Promise<boolean>;
  /** Runs one activity with the given policy; the summary labels it in the Web UI. */
  protected abstract invoke: ActivityInvoker;

  abstract executeChild<O>(workflowName: string, input: unknown, options: { idSuffix: string; summary?: string }): Promise<O>;
  abstract now(): number;
  abstract random(): number;
  abstract uuid(): string;
  abstract sleep(ms: number): Promise<void>;
  abstract setUpdateHandler<A, R>(name: string, handler: (arg: A) => Promise<R> | R, options?: { validator?: (arg: A) => void }): void;
  abstract setSignalHandler<A>(name: string, handler: (arg: A) => void): void;
  abstract setQueryHandler<A, R>(name: string, handler: (arg: A) => R): void;
  abstract allHandlersFinished(): boolean;
  abstract continueAsNewSuggested(): boolean;
  abstract continueAsNew(input: unknown): Promise<never>;

  condition(predicate: () => boolean, timeoutMs?: number): Promise<boolean> {
    return this.waitUntil(predicate, timeoutMs);
  }

  private async step<T>(label: string, run: () => Promise<T>): Promise<T> {
    await this.control.beginStep(label);
    try {
      return await run();
    } catch (error) {
      this.control.recordError(error);
      throw error;
    }
  }

  async callLlm(request: LlmRequest): Promise<LlmResponse> {
    const label = `llm ${request.model}`;
    const input = this.references.reference(request);
    const response = await this.step(label, () => this.invoke("callLlm", [input], this.settings.llm, label));
    this.control.recordUsage(request.model, response.usage);
    return response;
  }

  listTools(server: string): Promise<ToolDefinition[]> {
    const label = `tools ${server}`;
    return this.step(label, () => this.invoke("listTools", [server], this.settings.tools, label));
  }

  async callTool(request: ToolCallRequest): Promise<ToolResult> {
    const label = `tool ${request.server}/${request.tool}`;
    // The id keys the server's requests for a person during this call (see ToolCallRequest.callId).
    const callId = request.callId ?? `call-${++this.toolCallCount}`;
    // The cap travels with the call, so the worker cuts big results before they enter history.
    const input: ToolCallRequest = {
      ...request,
      callId,
      maxResultBytes: this.settings.maxToolResultBytes ?? historyLimitDefaults.maxToolResultBytes,
    };
    try {
      const result = await this.step(label, () => this.invoke("callTool", [input], this.settings.tools, label));
      // Sampling during the call was paid for by the run, so its status counts it.
      for (const [model, usage] of Object.entries(result.samplingUsage ?? {})) this.control.recordUsage(model, usage);
      return result;
    } finally {
      this.control.endToolCall(callId);
    }
  }

  listPrompts(server: string): Promise<PromptInfo[]> {
    const label = `prompts ${server}`;
    return this.step(label, () => this.invoke("listPrompts", [server], this.settings.tools, label));
  }

  getPrompt(request: PromptRequest): Promise<PromptResult> {
    const label = `prompt ${request.server}/${request.name}`;
    return this.step(label, () => this.invoke("getPrompt", [request], this.settings.tools, label));
  }

  listResources(server: string): Promise<ResourceInfo[]> {
    const label = `resources ${server}`;
    return this.step(label, () => this.invoke("listResources", [server], this.settings.tools, label));
  }

  listResourceTemplates(server: string): Promise<ResourceTemplateInfo[]> {
    const label = `resource-templates ${server}`;
    return this.step(label, () => this.invoke("listResourceTemplates", [server], this.settings.tools, label));
  }

  readResource(request: ResourceRequest): Promise<ResourceResult> {
    const label = `resource ${request.server}/${request.uri}`;
    return this.step(label, () => this.invoke("readResource", [request], this.settings.tools, label));
  }

  askHuman<T = string>(options: HumanInputOptions<T>): Promise<HumanInputResult<T>> {
    return this.control.askHuman(options);
  }

  requestApproval(call: { server: string; tool: string; arguments: Record<string, unknown> }): Promise<ApprovalOutcome> {
    return this.control.requestApproval(call);
  }

  async waitForSignal<T>(name: string, timeoutMs?: number): Promise<T | undefined> {
    if (!(await this.waitUntil(() => this.inbox.has(name), timeoutMs))) return undefined;
    return this.inbox.take(name) as T;
  }
}
