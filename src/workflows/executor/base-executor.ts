/**
 * What both executors share. Every effect is a step through `perform`: it waits while the run is
 * paused, becomes the run's current step, and runs through the engine's `invoke` with the policy
 * the effect table names. The executor's effect methods are made by one loop over that table (at
 * the end of this file); a model call and a tool call add the run's own bookkeeping around it. Questions, approvals and
 * signal waits are built on the engine's `waitUntil`. Subclasses supply the engine itself.
 */
import type { ApplicationFailure } from "@temporalio/common";
import { effectNames, effects, type EffectInput, type EffectMethods, type EffectName, type EffectOutput } from "../../common/effects.js";
import { attemptsRanOut, costBudgetSpent, formatMs, stepGaveUp, stepTimedOut, stepTimeoutOf, tokenBudgetSpent, unpricedUnderBudget } from "../../common/failures.js";
import { priceOf } from "../../common/pricing.js";
import type { LlmRequest, LlmResponse, TokenUsage } from "../../common/llm.js";
import { usageKey } from "../../common/usage.js";
import { historyLimitDefaults, type ActivitySettings, type RunSettings } from "../../common/run-settings.js";
import type { RunPhase } from "../../common/run-status.js";
import type { ToolCallRequest, ToolResult } from "../../common/tools.js";
import type { Answered, ApprovalCall, ApprovalOutcome, EngineName, Executor, MessageHandlers, Question, RunContext, RunLogger } from "./executor.js";
import { callAsync } from "../../common/call-async.js";
import { RunControl } from "./run-control.js";
import { SignalInbox } from "./signal-inbox.js";

/** Where each kind of step's policy is set, as its failures name it. */
const kindSettings = { llm: "execution.llm", tools: "execution.tools" } as const;
type StepKind = keyof typeof kindSettings;

export interface BaseExecutor extends EffectMethods {}

export abstract class BaseExecutor implements Executor {
  abstract readonly engine: EngineName;
  abstract readonly log: RunLogger;
  /** The run's state. Engine code changes it (answers, pause, the end); agent code reads it through `run`. */
  readonly control: RunControl;
  private runContext?: RunContext;
  private messageHandlers?: MessageHandlers;
  protected readonly inbox = new SignalInbox();
  /** Numbers tool calls in the order the run makes them, which replays identically. */
  private toolCallCount = 0;

  protected constructor(
    readonly runId: string,
    readonly settings: RunSettings,
  ) {
    this.control = new RunControl(
      runId,
      (predicate, timeoutMs) => this.waitUntil(predicate, timeoutMs),
      () => Date.now(),
      (phase) => this.phaseChanged(phase),
      () => this.stateChanged(),
    );
  }

  // Made on first use: most runs never ask for them, and each is a handful of closures.
  get run(): RunContext {
    const control = this.control;
    this.runContext ??= {
      id: this.runId,
      engine: this.engine,
      settings: this.settings,
      status: () => control.status(),
      addToTranscript: (messages, agent) => control.recordMessages(messages, agent),
      addUsage: (model, usage) => control.recordUsage(model, usage),
      waitingFor: (what) => control.setWaitingFor(what),
      continueAsNewSuggested: () => this.continueAsNewSuggested(),
      countStepsFrom: (steps) => control.countStepsFrom(steps),
    };
    return this.runContext;
  }

  get messages(): MessageHandlers {
    this.messageHandlers ??= {
      onUpdate: (name, handler, options) => this.setUpdateHandler(name, handler, options),
      onQuery: (name, handler) => this.setQueryHandler(name, handler),
      onSignal: (name, handler) => this.setSignalHandler(name, handler),
      nextSignal: (name, timeoutMs) => this.nextSignal(name, timeoutMs),
      allFinished: () => this.allHandlersFinished(),
    };
    return this.messageHandlers;
  }

  /** What a model call's step sends: the request as it is; Temporal's executor refers to what the run holds. */
  protected prepareModelCall(request: LlmRequest): LlmRequest {
    return request;
  }

  /**
   * Whether nobody watches the run, so that its model calls make plain requests: streaming costs
   * CPU for every piece of text. On Temporal the run's state says (`RunStatus.unwatched`).
   */
  protected unwatched(): boolean {
    return this.control.unwatched;
  }

  /** The model call's step input: the request with its id, how long the provider may be silent, and whether its text need not stream. */
  private modelCallInput(request: LlmRequest, callId: string): LlmRequest {
    const { idleTimeoutMs } = this.settings.llm;
    const input: LlmRequest = idleTimeoutMs === undefined ? { ...request, callId } : { ...request, callId, idleTimeoutMs };
    if (this.unwatched()) input.unwatched = true;
    return this.prepareModelCall(input);
  }

  /** Hook for engines that publish the phase (Temporal's search attribute). */
  protected phaseChanged(_phase: RunPhase): void {}

  /** After any change of phase, step or pending requests. */
  protected stateChanged(): void {}

  /**
   * The run failed or was cancelled, with `error`: its parent run gets no result to read its usage
   * from, so a Temporal child hands it over here (the memory engine's parent reads its child's
   * state). A promise only when there is something to wait for: an await costs a promise turn,
   * and turns order commands, so a run with nothing to tell ends in the turns it always took.
   */
  endedShort(_error: unknown): Promise<void> | undefined {
    return undefined;
  }

  /** Resolves true once `predicate` holds (re-checked whenever run state changes), false on timeout. */
  protected abstract waitUntil(predicate: () => boolean, timeoutMs?: number): Promise<boolean>;
  /** Runs one effect with the given policy; the label names the step in the Web UI. */
  protected abstract invoke<K extends EffectName>(name: K, input: EffectInput<K>, settings: ActivitySettings, label: string): Promise<EffectOutput<K>>;
  protected abstract setUpdateHandler<A, R>(name: string, handler: (arg: A) => Promise<R> | R, options?: { validator?: (arg: A) => void }): void;
  protected abstract setQueryHandler<A, R>(name: string, handler: (arg: A) => R): void;
  protected abstract setSignalHandler<A>(name: string, handler: (arg: A) => void): void;
  protected abstract allHandlersFinished(): boolean;
  protected abstract continueAsNewSuggested(): boolean;

  abstract executeChild<O>(workflowName: string, input: unknown, options: { idSuffix: string; summary?: string }): Promise<O>;
  abstract uuid(): string;
  /** The engine's own timer: Temporal's, durable, or the memory engine's. */
  protected abstract timer(ms: number): Promise<void>;

  /** A durable sleep, which the run's status names while it lasts (`waitingFor`). */
  sleep(ms: number): Promise<void> {
    const waiting = `a timer of ${formatMs(ms)}, until ${new Date(Date.now() + ms).toISOString()}`;
    this.control.setWaitingFor(waiting);
    const timer = this.timer(ms);
    // Beside the caller's continuation, not before it: a sleep takes the turns it always took.
    const ended = () => this.control.stopWaitingFor(waiting);
    timer.then(ended, ended);
    return timer;
  }
  abstract continueAsNew(input: unknown): Promise<never>;

  condition(predicate: () => boolean, timeoutMs?: number): Promise<boolean> {
    return this.waitUntil(predicate, timeoutMs);
  }

  ask<T = string>(question: Question<T>): Promise<Answered<T>> {
    return this.control.ask(question);
  }

  requestApproval(call: ApprovalCall): Promise<ApprovalOutcome> {
    return this.control.requestApproval(call);
  }

  /**
   * Whether steps go through the fewest promises. In Temporal's sandbox each promise costs the
   * worker tens of µs (its stack-trace hook), but the turns they take order commands that are
   * made in one activation, so runs that began before keep theirs (`RunSettings.fewerTurns`).
   * Read from the settings, as `AgentLlm` reads it, not `patched()`: a patch adds a marker and a
   * search attribute upsert (a visibility write) to every new run's history.
   */
  private fewerTurns(): boolean {
    return this.settings.fewerTurns === true;
  }

  /** One effect as a step: waits while paused, becomes the current step, records a failure. */
  protected perform<K extends EffectName>(name: K, input: EffectInput<K>): Promise<EffectOutput<K>> {
    if (!this.fewerTurns()) return this.performAsRecorded(name, input);
    const effect = effects[name];
    const label = (effect.label as (input: EffectInput<K>) => string)(input);
    const server = this.ownPolicyServer(name, input);
    const settings = this.settingsOf(effect.settings, server);
    const scheduled = name === "callTool" ? withAnswerWait(settings) : settings;
    // A step scheduled for a person's answer too: the worker holds the call's own work to its limit.
    const sent = scheduled === settings ? input : ({ ...(input as ToolCallRequest), workLimitMs: settings.startToCloseTimeoutMs } as EffectInput<K>);
    const step = (): Promise<EffectOutput<K>> =>
      callAsync(() => this.invoke(name, sent, scheduled, label)).then(
        (output) => {
          this.control.endStep(label);
          return output;
        },
        (error: unknown) => {
          const failure = this.stepFailure(error, label, effect.settings, server, settings, scheduled);
          this.control.endStep(label);
          throw failure;
        },
      );
    const unpaused = this.control.beginStep(label);
    return unpaused ? unpaused.then(step) : step();
  }

  /** The MCP server whose own policy (`mcp.servers.<name>.execution`) the step runs under, if it has one. */
  private ownPolicyServer<K extends EffectName>(name: K, input: EffectInput<K>): string | undefined {
    const { servers } = this.settings;
    if (servers === undefined) return undefined;
    const server = (effects[name] as { server?: (input: EffectInput<K>) => string }).server?.(input);
    return server !== undefined && Object.hasOwn(servers, server) ? server : undefined;
  }

  /** The policy of a step of `kind`: its server's own when it has one, else the kind's. */
  private settingsOf(kind: StepKind, server: string | undefined): ActivitySettings {
    return server === undefined ? this.settings[kind] : this.settings.servers![server]!;
  }

  /** The failure people see: a timeout names the step and its knob, attempts run out say so. Recorded as the run's last error. */
  private stepFailure(error: unknown, label: string, kind: StepKind, server: string | undefined, settings: ActivitySettings, scheduled = settings): unknown {
    const timeout = stepTimeoutOf(error, settings.startToCloseTimeoutMs, settings.heartbeatTimeoutMs, scheduled.startToCloseTimeoutMs);
    const setting = server === undefined ? kindSettings[kind] : `mcp.servers.${server}.execution`;
    const policy = { setting, maximumAttempts: settings.retry.maximumAttempts };
    const failure = timeout
      ? stepTimedOut(label, timeout, policy, error as Error)
      : policy.maximumAttempts > 1 && attemptsRanOut(error)
        ? stepGaveUp(policy, error as Error)
        : error;
    this.control.recordError(failure, label);
    return failure;
  }

  /** The settings a child run starts with: the run's, with what is left of its budgets. */
  protected childSettings(): RunSettings {
    const { tokenBudget, costBudget, prices } = this.settings;
    if (tokenBudget === undefined && costBudget === undefined) return this.settings;
    return {
      ...this.settings,
      ...(tokenBudget !== undefined ? { tokenBudget: Math.max(0, tokenBudget - this.control.tokensUsed()) } : {}),
      ...(costBudget !== undefined && prices !== undefined ? { costBudget: Math.max(0, costBudget - this.control.costSpent(prices)) } : {}),
    };
  }

  /** A model call, counting its tokens in the run's usage. */
  callLlm(request: LlmRequest): Promise<LlmResponse> {
    if (!this.fewerTurns()) return this.callLlmAsRecorded(request);
    const failure = this.budgetFailure(request.model);
    if (failure) {
      this.control.recordError(failure);
      return Promise.reject(failure);
    }
    const callId = this.control.nextModelCallId();
    return callAsync(() => this.perform("callLlm", this.modelCallInput(request, callId))).then(
      (response) => this.modelCallEnded(request, callId, response),
      (error: unknown) => {
        // A call that failed for good leaves no text behind that looks still streaming.
        this.control.dropText(callId);
        throw error;
      },
    );
  }

  /** Why the run makes no more model calls: a budget spent, or a model its cost budget has no price for. */
  private budgetFailure(model: string): ApplicationFailure | undefined {
    const { tokenBudget, costBudget, prices } = this.settings;
    if (tokenBudget !== undefined && this.control.tokensUsed() >= tokenBudget) return tokenBudgetSpent(this.control.tokensUsed(), tokenBudget);
    if (costBudget === undefined || prices === undefined) return undefined;
    if (priceOf(model, prices, {}) === undefined) return unpricedUnderBudget(model);
    const spent = this.control.costSpent(prices);
    return spent >= costBudget ? costBudgetSpent(spent, costBudget) : undefined;
  }

  private modelCallEnded(request: LlmRequest, callId: string, response: LlmResponse): LlmResponse {
    this.control.recordUsage(usageKey(request.model, response.model), response.usage, request.agent);
    // Watchers end with the recorded answer, never with a stream's last piece they happened to see.
    this.control.finishText({ id: callId, step: effects.callLlm.label(request), ...(request.agent ? { agent: request.agent } : {}), text: response.message.content });
    return response;
  }

  /** A tool call, with the run's id for it and its cap on the result's size. */
  callTool(request: ToolCallRequest): Promise<ToolResult> {
    if (!this.fewerTurns()) return this.callToolAsRecorded(request);
    // The id keys the server's requests for a person during this call (see ToolCallRequest.callId).
    const callId = request.callId ?? `call-${++this.toolCallCount}`;
    // The cap travels with the call, so the worker cuts big results before they enter history.
    const maxResultBytes = this.settings.maxToolResultBytes ?? historyLimitDefaults.maxToolResultBytes;
    return callAsync(() => this.perform("callTool", this.withToolContext({ ...request, callId, maxResultBytes }))).then(
      (result) => {
        const ended = this.toolCallEnded(result);
        this.control.endToolCall(callId);
        return ended;
      },
      (error: unknown) => {
        this.control.endToolCall(callId);
        throw error;
      },
    );
  }

  /** The call with the run's tool context, unless its caller gave its own. */
  private withToolContext(request: ToolCallRequest): ToolCallRequest {
    const { toolContext } = this.settings;
    return toolContext === undefined || request.toolContext !== undefined ? request : { ...request, toolContext };
  }

  /** Sampling during the call was paid for by the run, so its status counts it. */
  private toolCallEnded(result: ToolResult): ToolResult {
    for (const [model, usage] of Object.entries(result.samplingUsage ?? {})) this.control.recordUsage(model, usage as TokenUsage);
    return result;
  }

  // How steps went before `fewerTurns`, turn for turn, for the runs that began then. Keep them
  // until no such run can be open (README, "Changing workflow code safely").

  private async performAsRecorded<K extends EffectName>(name: K, input: EffectInput<K>): Promise<EffectOutput<K>> {
    const effect = effects[name];
    const label = (effect.label as (input: EffectInput<K>) => string)(input);
    const unpaused = this.control.beginStep(label);
    if (unpaused) await unpaused;
    // Temporal runs have always taken one turn here, and recorded histories replay only if they still do.
    else if (this.engine === "temporal") await undefined;
    const server = this.ownPolicyServer(name, input);
    const settings = this.settingsOf(effect.settings, server);
    try {
      return await this.invoke(name, input, settings, label);
    } catch (error) {
      throw this.stepFailure(error, label, effect.settings, server, settings);
    } finally {
      this.control.endStep(label);
    }
  }

  private async callLlmAsRecorded(request: LlmRequest): Promise<LlmResponse> {
    const callId = this.control.nextModelCallId();
    const response = await this.performAsRecorded("callLlm", this.modelCallInput(request, callId)).catch((error: unknown) => {
      this.control.dropText(callId);
      throw error;
    });
    return this.modelCallEnded(request, callId, response);
  }

  private async callToolAsRecorded(request: ToolCallRequest): Promise<ToolResult> {
    const callId = request.callId ?? `call-${++this.toolCallCount}`;
    const maxResultBytes = this.settings.maxToolResultBytes ?? historyLimitDefaults.maxToolResultBytes;
    try {
      return this.toolCallEnded(await this.performAsRecorded("callTool", this.withToolContext({ ...request, callId, maxResultBytes })));
    } finally {
      this.control.endToolCall(callId);
    }
  }

  private async nextSignal<T>(name: string, timeoutMs?: number): Promise<T | undefined> {
    if (!(await this.waitUntil(() => this.inbox.has(name), timeoutMs))) return undefined;
    return this.inbox.take(name) as T;
  }
}

/**
 * A tool call's step as scheduled: its own limit and the time it may wait for a person's answer to
 * its server's question (`answerWaitMs`), as an attempt's limit cannot stand still while it waits.
 */
function withAnswerWait(settings: ActivitySettings): ActivitySettings {
  if (settings.answerWaitMs === undefined) return settings;
  let scheduled = answerWaitSettings.get(settings);
  if (!scheduled) answerWaitSettings.set(settings, (scheduled = { ...settings, startToCloseTimeoutMs: settings.startToCloseTimeoutMs + settings.answerWaitMs }));
  return scheduled;
}
// One per policy, as runs share their settings objects: no object per tool call.
const answerWaitSettings = new WeakMap<ActivitySettings, ActivitySettings>();

// The executor's method for each effect, from the table, made once on the prototype. The model
// call and the tool call are written out above: they add the run's bookkeeping around the step.
for (const name of effectNames) {
  if (Object.hasOwn(BaseExecutor.prototype, name)) continue;
  Object.defineProperty(BaseExecutor.prototype, name, {
    value(this: BaseExecutor, input: EffectInput<typeof name>) {
      return this.perform(name, input);
    },
    writable: true,
    configurable: true,
  });
}
