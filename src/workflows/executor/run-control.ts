/**
 * A run's observable state and the requests it waits on, shared by both executors. It is plain,
 * deterministic state: on Temporal, queries read it and updates change it; in memory, the engine
 * calls the same methods. Waiting is delegated to the engine's `waitUntil`.
 */
import { isCancellation } from "@temporalio/workflow";
import { z } from "zod";
import { checkElicitationAnswer } from "../../common/elicitation-schema.js";
import { rootCause } from "../../common/failures.js";
import { InvalidRunMessage, severalPending } from "../../common/invalid-run-message.js";
import type { TokenUsage } from "../../common/llm.js";
import type { Message, TranscriptAgents } from "../../common/messages.js";
import { AnswerSchema, ApprovalDecisionSchema, maxRecentSteps, maxRecentToolCalls, maxSettledRequests, maxToolCallText, type Answer, type ApprovalDecision, type ApprovalRequest, type QuestionRequest, type PendingRequest, type RunPhase, type RunStatus } from "../../common/run-status.js";
import { appendStreamed, maxStepLogs, maxStreamedText, type ServerRequest, type ServerRequestAnswer, type StepLog, type StepProgress, type StepText } from "../../common/server-requests.js";
import { addUsage, type UsageByModel } from "../../common/usage.js";
import { costOf, type PriceTable } from "../../common/pricing.js";
import { jsonSchemaOf, zodOfJsonSchema } from "../structured-output.js";
import { formatZodError, inputPreview } from "../../errors/zod-issues.js";
import type { Answered, ApprovalCall, ApprovalOutcome, Question } from "./executor.js";
import { sameJson } from "../../common/tools.js";

/** Resolves true once `predicate` holds, or false when `timeoutMs` passes first. */
export type WaitUntil = (predicate: () => boolean, timeoutMs?: number) => Promise<boolean>;

type Pending =
  | { request: QuestionRequest; schema: z.ZodType; answer?: { value: unknown } }
  | { request: QuestionRequest; server: ServerRequest }
  | { request: ApprovalRequest; inputSchema?: Record<string, unknown>; decision?: ApprovalDecision };

/** A server's request as the run remembers it: pending until answered, then kept for retries. */
interface ServerRequestEntry {
  requestId: string;
  callId: string;
  answer?: ServerRequestAnswer;
}

/**
 * The most of a question's prompt a status shows: Temporal hands out at most 2 MB in a query's
 * answer, and a status over it could not be read at all, its questions with it.
 */
const maxShownPrompt = 256 * 1024;

function shownRequest(request: PendingRequest): PendingRequest {
  if (request.prompt.length <= maxShownPrompt) return request;
  return { ...request, prompt: `${request.prompt.slice(0, maxShownPrompt)}… (cut here: the whole prompt is ${request.prompt.length} characters)` };
}

export class RunControl {
  private readonly pending = new Map<string, Pending>();
  /** The latest requests no longer pending, oldest first. */
  private readonly settled: PendingRequest[] = [];
  private requestCount = 0;
  private paused = false;
  /** What the run's code waits for between steps (a chat: the next message); a step clears it. */
  private waitingFor: string | undefined;
  private finalPhase?: RunPhase;
  private stepCount = 0;
  private stepsBefore = 0;
  /** The latest steps' labels; the last is the current step. */
  private readonly recentSteps: string[] = [];
  private readonly toolCalls: NonNullable<RunStatus["toolCalls"]> = [];
  private readonly usageByAgent: Record<string, UsageByModel> = {};
  /** Tool calls seen so far: their numbers tell them apart where a provider reuses call ids. */
  private toolCallCount = 0;
  /** The labels of the steps started and not ended, oldest first: several in a fan-out. */
  private readonly stepsInFlight: string[] = [];
  private lastError?: { message: string; step?: string; error: unknown };
  /** The step in flight whose last attempt failed, while a retry is due (memory engine; Temporal reads it from the server). */
  private retrying?: RunStatus["retrying"];
  private readonly usage: UsageByModel = {};
  /** MCP server requests by key (`<callId>#<n>`), until their tool call ends. */
  private readonly serverRequests = new Map<string, ServerRequestEntry>();
  /** Model calls' text so far while they stream, by invocation (memory engine; Temporal reads heartbeats). */
  private readonly streamed = new Map<string, StepText>();
  /** The latest progress of each tool call in flight, by call id. */
  private readonly progress = new Map<string, StepProgress>();
  /** The run's latest MCP server log messages (memory engine; Temporal reads heartbeats). */
  private readonly logs: StepLog[] = [];
  /**
   * Child runs in flight, then the last few that ended, so a watcher gets their last text too; and
   * every terminated one (`kept`), whose usage only its own state holds.
   */
  private readonly children: { id: string; ended?: boolean; kept?: boolean }[] = [];
  /** Every message agents added, in order; readable even after a cancel. */
  readonly transcript: Message[] = [];
  /** Which agent wrote the transcript from where: kept beside it, so its messages stay what model calls refer to. */
  readonly transcriptAgents: TranscriptAgents[] = [];

  constructor(
    private readonly runId: string,
    private readonly waitUntil: WaitUntil,
    private readonly now: () => number,
    /** Told after every change that may move the phase, e.g. to keep a search attribute current. */
    private readonly onPhaseChange: (phase: RunPhase) => void = () => undefined,
    /** Told after every change of phase, step or pending requests, e.g. to keep the Web UI's current details. */
    private readonly onChange: () => void = () => undefined,
  ) {}

  // Runs start as `running` (the client tags them so), so only later changes are told.
  private lastPhase: RunPhase = "running";

  /** Nobody has watched the run since it started unwatched, so its model calls need not stream. */
  unwatched = false;

  /** Someone reads the run's status: its model calls stream from the next one. */
  watch(): void {
    if (!this.unwatched) return;
    this.unwatched = false;
    this.changed();
  }

  private changed(): void {
    this.onChange();
    const phase = this.phase();
    if (phase === this.lastPhase) return;
    this.lastPhase = phase;
    this.onPhaseChange(phase);
  }

  status(): RunStatus {
    return {
      runId: this.runId,
      phase: this.phase(),
      currentStep: this.recentSteps.at(-1),
      ...(this.waitingFor !== undefined ? { waitingFor: this.waitingFor } : {}),
      stepCount: this.stepCount,
      ...(this.recentSteps.length > 0 ? { recentSteps: [...this.recentSteps] } : {}),
      ...(this.toolCalls.length > 0 ? { toolCalls: this.toolCalls.map((call) => ({ ...call })) } : {}),
      ...(this.stepsInFlight.length > 1 ? { inFlight: [...this.stepsInFlight] } : {}),
      pending: [...this.pending.values()].map((entry) => shownRequest(entry.request)),
      ...(this.settled.length > 0 ? { settled: this.settled.map(shownRequest) } : {}),
      usage: this.usage,
      ...(Object.keys(this.usageByAgent).length > 0 ? { usageByAgent: this.usageByAgent } : {}),
      ...(this.lastError ? { lastError: this.lastError.message, ...(this.lastError.step ? { failedStep: this.lastError.step } : {}) } : {}),
      ...(this.retrying ? { retrying: this.retrying } : {}),
      ...(this.retries.length > 0 ? { retries: [...this.retries] } : {}),
      ...(this.progress.size > 0 ? { progress: [...this.progress.values()] } : {}),
      ...(this.logs.length > 0 ? { logs: [...this.logs] } : {}),
      ...(this.streamed.size + this.finishedTexts.length > 0 ? { streaming: [...this.finishedTexts, ...this.streamed.values()] } : {}),
      ...(this.children.length > 0 ? { children: this.children.map((child) => child.id) } : {}),
      ...(this.unwatched ? { unwatched: true } : {}),
    };
  }

  /** Whether `id` is a child run of this run that has not ended. */
  hasRunningChild(id: string): boolean {
    return this.children.some((child) => child.id === id && !child.ended);
  }

  childStarted(id: string): void {
    this.children.push({ id });
  }

  /** A child run was terminated: it stays listed, so the run's status still reads what it spent. */
  childTerminated(id: string): void {
    const child = this.children.find((entry) => entry.id === id);
    if (child) child.kept = true;
  }

  /** Marks a child run ended; returns the id of the ended one no longer listed, if one had to go. */
  childEnded(id: string): string | undefined {
    const child = this.children.find((entry) => entry.id === id);
    if (child) child.ended = true;
    const ended = this.children.filter((entry) => entry.ended && !entry.kept);
    if (ended.length <= 4) return undefined;
    this.children.splice(this.children.indexOf(ended[0]!), 1);
    return ended[0]!.id;
  }

  /** The run's own phase: its pending requests, pause or end, not its children's. */
  phase(): RunPhase {
    if (this.finalPhase) return this.finalPhase;
    if (this.paused) return "paused";
    let phase: RunPhase = "running";
    for (const entry of this.pending.values()) {
      if (entry.request.kind === "approval") return "waiting_approval";
      phase = "waiting_input";
    }
    return phase;
  }

  // Steps

  /** Waits while the run is paused, then counts the step. A step in flight is never paused. */
  beginStep(label: string): Promise<void> | undefined {
    // Nothing to wait for in the common case: no promise, no extra turn per step.
    if (this.paused) return this.beginAfterResume(label);
    this.countStep(label);
    return undefined;
  }

  /** Held before its next step (`pause`), until `resume`. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** Waits while the run is paused; paused again in the turn it was resumed, it waits again. */
  async untilResumed(): Promise<void> {
    do await this.waitUntil(() => !this.paused);
    while (this.paused);
  }

  // The same wait, written out: the promise turns a step takes are recorded shape (see README).
  // Paused again before the step could start (resume and pause in one turn): it waits again.
  private async beginAfterResume(label: string): Promise<void> {
    do await this.waitUntil(() => !this.paused);
    while (this.paused);
    this.countStep(label);
  }

  setWaitingFor(what: string | undefined): void {
    if (what === this.waitingFor) return;
    this.waitingFor = what;
    this.changed();
  }

  /** Stops saying the run waits for `what`, unless it has since said something else. */
  stopWaitingFor(what: string): void {
    if (this.waitingFor === what) this.setWaitingFor(undefined);
  }

  countStepsFrom(steps: number): void {
    if (!Number.isInteger(steps) || steps < 0) throw new TypeError(`countStepsFrom takes a whole number of steps, not ${steps}`);
    // Steps this run took already stay counted; a second call moves the base.
    this.stepCount += steps - this.stepsBefore;
    this.stepsBefore = steps;
    this.changed();
  }

  private countStep(label: string): void {
    this.waitingFor = undefined;
    this.stepCount += 1;
    this.recentSteps.push(label);
    if (this.recentSteps.length > maxRecentSteps) this.recentSteps.shift();
    this.stepsInFlight.push(label);
    this.changed();
  }

  /** Input and output tokens the run has used so far, of every model. */
  tokensUsed(): number {
    let total = 0;
    for (const usage of Object.values(this.usage)) total += usage.inputTokens + usage.outputTokens;
    return total;
  }

  /** What the run has spent in USD so far by `prices` (a run's whole table: see `runPrices`), every model's priced. */
  costSpent(prices: PriceTable): number {
    let total = 0;
    for (const [model, usage] of Object.entries(this.usage)) total += costOf(model, usage, prices, {}) ?? 0;
    return total;
  }

  recordUsage(model: string, usage: TokenUsage, agent?: string): void {
    addUsage(this.usage, model, usage);
    if (agent !== undefined) addUsage((this.usageByAgent[agent] ??= {}), model, usage);
  }

  /** Another run's usage, every model of it: a child's that ended without a result to carry it. */
  recordUsageByModel(usage: UsageByModel): void {
    for (const [model, used] of Object.entries(usage)) addUsage(this.usage, model, used);
  }

  /** A failure, with the step it ended when it came from one; the run's end records the same failure again, keeping the step. */
  recordError(error: unknown, step?: string): void {
    if (this.lastError?.error === error && step === undefined) return;
    // A step cancelled by a failure elsewhere (a fan-out's first) keeps that failure the one shown.
    if (step !== undefined && this.lastError !== undefined && isCancellation(error)) return;
    // The step's failure comes back wrapped (an agent naming itself): the wrapper's words, the step kept.
    const kept = step ?? (this.lastError && causedBy(error, this.lastError.error) ? this.lastError.step : undefined);
    this.lastError = { message: rootCause(error), error, ...(kept !== undefined ? { step: kept } : {}) };
  }

  /** An attempt of the current step failed and another is due. */
  recordRetry(step: string, attempt: number, maximumAttempts: number, error: unknown): void {
    this.retrying = { step, attempt, maximumAttempts, error: rootCause(error) };
    this.retries.push({ id: `retry-${++this.retryCount}`, ...this.retrying });
    if (this.retries.length > 10) this.retries.shift();
  }

  private retryCount = 0;
  private readonly retries: NonNullable<RunStatus["retries"]> = [];

  /** A piece of a streaming model call's answer; a new attempt starts its text again. */
  streamText(id: string, attempt: number, piece: { step: string; agent?: string; delta: string }): void {
    const current = this.streamed.get(id);
    const base: StepText =
      current && current.attempt === attempt
        ? current
        : { kind: "text", id, step: piece.step, ...(piece.agent ? { agent: piece.agent } : {}), attempt, text: "", length: 0 };
    this.streamed.set(id, appendStreamed(base, piece.delta));
  }

  /** A model call that failed for good: its streamed text goes. */
  dropText(id: string): void {
    this.streamed.delete(id);
    this.forgetProgress(id);
  }

  /** A model call's progress (its wait for a busy provider) ends with it. */
  private forgetProgress(id: string): void {
    if (this.progress.size > 0) this.progress.delete(id);
  }

  /** A model call's recorded answer replaces its streamed text; the last few stay for late watchers. */
  finishText(finished: { id: string; step: string; agent?: string; text: string }): void {
    this.forgetProgress(finished.id);
    const streaming = this.streamed.get(finished.id);
    this.streamed.delete(finished.id);
    const done: StepText = {
      kind: "text",
      ...finished,
      attempt: streaming?.attempt ?? 0,
      done: true,
      text: finished.text.length > maxStreamedText ? finished.text.slice(finished.text.length - maxStreamedText) : finished.text,
      length: finished.text.length,
    };
    this.finishedTexts.push(done);
    if (this.finishedTexts.length > 4) this.finishedTexts.shift();
  }

  /** Ids for model calls, in call order: deterministic, so a replay gives each call the same one. */
  nextModelCallId(): string {
    return `llm-${++this.modelCalls}`;
  }

  private modelCalls = 0;
  private readonly finishedTexts: StepText[] = [];

  endStep(step: string): void {
    if (this.retrying?.step === step) this.retrying = undefined;
    // Steps of one label are alike to a reader, so which of them ended does not matter.
    const index = this.stepsInFlight.indexOf(step);
    if (index >= 0) this.stepsInFlight.splice(index, 1);
  }

  recordMessages(messages: readonly Message[], agent?: string): void {
    if (messages.length === 0) return;
    for (const message of messages) this.recordToolCalls(message, agent);
    const last = this.transcriptAgents.at(-1);
    if (last?.agent !== agent) this.transcriptAgents.push({ from: this.transcript.length, ...(agent !== undefined ? { agent } : {}) });
    this.transcript.push(...messages);
  }

  /** The model's tool calls and their results, as the transcript gets them: before the calls run, and once they did. */
  private recordToolCalls(message: Message, agent: string | undefined): void {
    if (message.role === "assistant") {
      for (const call of message.toolCalls ?? []) {
        this.toolCalls.push({ number: ++this.toolCallCount, id: call.id, tool: call.name, ...(agent !== undefined ? { agent } : {}), arguments: cut(call.arguments) });
        if (this.toolCalls.length > maxRecentToolCalls) this.toolCalls.shift();
      }
    } else if (message.role === "tool") {
      const call = this.toolCalls.findLast((seen) => seen.id === message.toolCallId);
      if (call) Object.assign(call, { result: cut(leadingText(message.content)), ...(message.isError ? { isError: true } : {}) });
    }
  }

  finish(phase: "completed" | "failed" | "cancelled"): void {
    this.finalPhase = phase;
    this.changed();
  }

  // Pause and resume

  pause(): void {
    this.paused = true;
    this.changed();
  }

  resume(): void {
    this.paused = false;
    this.changed();
  }

  // Questions to a person

  async ask<T>(options: Question<T>): Promise<Answered<T>> {
    const schema = (options.schema ?? z.string()) as z.ZodType<T>;
    const id = `input-${++this.requestCount}`;
    const request: QuestionRequest = {
      kind: "input",
      id,
      prompt: options.prompt,
      ...(options.schema ? { schema: jsonSchemaOf(schema) } : {}),
      ...(options.timeoutMs !== undefined ? { expiresAt: this.now() + options.timeoutMs } : {}),
    };
    const entry: Pending = { request, schema };
    this.pending.set(id, entry);
    this.changed();
    try {
      const answered = await this.waitUntil(() => entry.answer !== undefined, options.timeoutMs);
      if (!answered || !entry.answer) return { status: "timed_out" };
      return { status: "answered", value: entry.answer.value as T };
    } finally {
      this.settle(id);
      this.changed();
    }
  }

  /**
   * Checks an answer without applying it; throws `InvalidRunMessage` saying why it cannot apply.
   * A question answered but not yet taken up by the run (two answers in one workflow task, as when
   * both were sent while no worker ran) keeps the first: the validator alone refuses the second,
   * so runs from before replay as they ran.
   */
  validateAnswer(answer: Answer): void {
    const shape = strictAnswer.safeParse(answer, { reportInput: true });
    if (!shape.success) {
      throw new InvalidRunMessage(`An answer is {"value": …, "requestId"?: "input-…", "action"?: "accept" | "decline" | "cancel"}; this one is ${inputPreview(answer)}: ${formatZodError(shape.error, "it", AnswerSchema).replace(/\n\s*/g, " ")}`);
    }
    const { entry } = this.parseAnswer(answer);
    if ("schema" in entry && entry.answer !== undefined) throw new InvalidRunMessage(`${entry.request.id} has already been answered; the first answer stands.`);
  }

  /** An answer checked and taken at once, where no validator stands before the handler (the memory engine). */
  takeAnswer(answer: Answer): void {
    this.validateAnswer(answer);
    this.applyAnswer(answer);
  }

  applyAnswer(answer: Answer): void {
    const { entry, value } = this.parseAnswer(answer);
    if ("server" in entry) {
      const known = this.serverRequests.get(entry.server.key);
      if (known) known.answer = value as ServerRequestAnswer;
      // Answered for good: a retried call finds the answer by key, so the person is not asked again.
      this.settle(entry.request.id);
      this.changed();
      return;
    }
    if ("schema" in entry) entry.answer = { value };
  }

  private parseAnswer(answer: Answer) {
    const entry = this.findPending(answer.requestId, "input");
    if ("server" in entry) return { entry, value: this.parseServerAnswer(entry.request.id, entry.server, answer) };
    if (!("schema" in entry)) throw new InvalidRunMessage(`Request ${entry.request.id} is not an input request.`);
    if (answer.action !== undefined && answer.action !== "accept") {
      throw new InvalidRunMessage(`${entry.request.id} is the run's own question and cannot be ${answer.action === "decline" ? "declined" : "cancelled"}; answer it with a value.`);
    }
    const parsed = entry.schema.safeParse(answer.value);
    if (!parsed.success) {
      throw new InvalidRunMessage(`The answer to ${entry.request.id} is invalid: ${z.prettifyError(parsed.error)}`);
    }
    return { entry, value: parsed.data };
  }

  // MCP server requests (elicitation, sampling approval) during tool calls

  /**
   * Registers a server's request, once per key, and returns its answer when one was already given
   * (a retried tool call asking again); null while the person has not answered.
   */
  openServerRequest(request: ServerRequest): ServerRequestAnswer | null {
    const known = this.serverRequests.get(request.key);
    if (known) return known.answer ?? null;
    const id = `input-${++this.requestCount}`;
    const input: QuestionRequest = {
      kind: "input",
      id,
      prompt: request.message,
      ...(request.mode === "form" && request.requestedSchema ? { schema: request.requestedSchema } : {}),
      origin: { server: request.server, tool: request.tool, kind: request.kind },
      ...(request.url !== undefined ? { url: request.url } : {}),
    };
    this.pending.set(id, { request: input, server: request });
    this.serverRequests.set(request.key, { requestId: id, callId: request.callId });
    this.changed();
    return null;
  }

  /** The answer to a server request, once given. */
  serverAnswer(key: string): ServerRequestAnswer | null {
    return this.serverRequests.get(key)?.answer ?? null;
  }

  /** Forgets a finished tool call's server requests and progress: no retry can ask again. */
  endToolCall(callId: string): void {
    for (const [key, entry] of this.serverRequests) {
      if (entry.callId !== callId) continue;
      this.serverRequests.delete(key);
      this.settle(entry.requestId);
    }
    this.progress.delete(callId);
    this.changed();
  }

  recordProgress(progress: StepProgress): void {
    this.progress.set(progress.callId, progress);
  }

  /** Kept past the end of its call, so a watcher polling now and then still sees the last ones. */
  recordLog(entry: StepLog): void {
    this.logs.push(entry);
    if (this.logs.length > maxStepLogs) this.logs.shift();
  }

  private parseServerAnswer(id: string, request: ServerRequest, answer: Answer): ServerRequestAnswer {
    const action = answer.action ?? "accept";
    if (action !== "accept" || request.mode === "url" || !request.requestedSchema) return { action };
    const checked = checkElicitationAnswer(request.requestedSchema, answer.value);
    if (!checked.ok) {
      throw new InvalidRunMessage(
        `The answer to ${id} is invalid: ${checked.problems.join("; ")}. Send the fields as a JSON object, or decline or cancel the request.`,
      );
    }
    return { action, content: checked.value };
  }

  // Tool approval

  /** `inputSchema`, the tool's, checks arguments a person edits before the run takes them. */
  async requestApproval({ inputSchema, ...call }: ApprovalCall): Promise<ApprovalOutcome> {
    const id = `approval-${++this.requestCount}`;
    const request: ApprovalRequest = {
      kind: "approval",
      id,
      prompt: `Allow ${call.server}/${call.tool}?`,
      ...call,
    };
    const entry: Pending = { request, ...(inputSchema ? { inputSchema } : {}) };
    this.pending.set(id, entry);
    this.changed();
    try {
      await this.waitUntil(() => entry.decision !== undefined);
      const decision = entry.decision!;
      if (decision.approved) {
        const edited = decision.arguments !== undefined && !sameJson(decision.arguments, call.arguments);
        return { approved: true, arguments: decision.arguments ?? call.arguments, ...(edited ? { edited: true as const } : {}) };
      }
      return { approved: false, reason: decision.reason?.trim() || "no reason given" };
    } finally {
      this.settle(id);
      this.changed();
    }
  }

  /**
   * Checks a decision without applying it: edited arguments must fit the tool's input schema, so
   * a mistyped edit is refused here, where the person can correct it, rather than sent to the tool.
   * Only here and not in `applyDecision`: on replay Temporal skips validators, so a decision a
   * run accepted before this check existed still applies.
   */
  validateDecision(decision: ApprovalDecision): void {
    // Sent by Temporal's own tools too (`temporal workflow update execute`): `"yes"` or `{approve: true}` must not read as a rejection.
    const shape = strictDecision.safeParse(decision, { reportInput: true });
    if (!shape.success) {
      throw new InvalidRunMessage(
        `A decision is {"approved": true | false, "requestId"?: "approval-…", "arguments"?: {…}, "reason"?: "…"}; this one is ${inputPreview(decision)}: ${formatZodError(shape.error, "it", ApprovalDecisionSchema).replace(/\n\s*/g, " ")}`,
      );
    }
    const entry = this.findPending(decision.requestId, "approval");
    if ("decision" in entry && entry.decision !== undefined) throw new InvalidRunMessage(`${entry.request.id} has already been ${entry.decision.approved ? "approved" : "rejected"}; the first decision stands.`);
    if (!decision.approved || decision.arguments === undefined || !("inputSchema" in entry) || !entry.inputSchema) return;
    const schema = zodOfJsonSchema(entry.inputSchema);
    if (!schema) return; // a schema zod cannot read is the tool's to enforce
    const parsed = schema.safeParse(decision.arguments);
    if (!parsed.success) {
      const { server, tool } = entry.request as ApprovalRequest;
      throw new InvalidRunMessage(`The arguments for ${server}/${tool} do not fit its input schema: ${z.prettifyError(parsed.error)}`);
    }
  }

  /** A decision checked and taken at once, where no validator stands before the handler (a signal, the memory engine). */
  takeDecision(decision: ApprovalDecision): void {
    this.validateDecision(decision);
    this.applyDecision(decision);
  }

  applyDecision(decision: ApprovalDecision): void {
    const entry = this.findPending(decision.requestId, "approval");
    if ("schema" in entry || "server" in entry) throw new InvalidRunMessage(`Request ${entry.request.id} is not an approval request.`);
    entry.decision = decision;
  }

  private findPending(requestId: string | undefined, kind: PendingRequest["kind"]): Pending {
    if (requestId !== undefined) {
      const entry = this.pending.get(requestId);
      if (!entry) throw new InvalidRunMessage(`No pending request '${requestId}'. Pending: ${this.pendingIds() || "none"}.`);
      if (entry.request.kind !== kind) throw new InvalidRunMessage(`Request ${requestId} asks for ${entry.request.kind}, not ${kind}.`);
      return entry;
    }
    const candidates = [...this.pending.values()].filter((entry) => entry.request.kind === kind);
    if (candidates.length === 1) return candidates[0]!;
    if (candidates.length === 0) throw new InvalidRunMessage(`The run is not waiting for ${kind === "input" ? "input" : "an approval"}.`);
    throw severalPending([...this.pending.keys()]);
  }

  /** A request is pending no more; kept a while among the settled, for watchers between reads. */
  private settle(id: string): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    this.settled.push(entry.request);
    if (this.settled.length > maxSettledRequests) this.settled.shift();
  }

  private pendingIds(): string {
    return [...this.pending.keys()].join(", ");
  }
}

/** Whether `cause` is `error` or among its causes. */
function causedBy(error: unknown, cause: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth++) if (current === cause) return true;
  return false;
}

// Strict, so a sender's misspelt key is named rather than ignored.
const strictAnswer = z.strictObject(AnswerSchema.shape);
const strictDecision = z.strictObject(ApprovalDecisionSchema.shape);

/** A tool call's arguments or result as a status shows them: the start, and how much more there was. */
function cut(text: string): string {
  return text.length <= maxToolCallText ? text : `${text.slice(0, maxToolCallText)}… (${text.length - maxToolCallText} more characters)`;
}

/** The text of a result's first parts, enough to cut: a big result's whole text is never joined for it. */
function leadingText(content: Message["content"]): string {
  if (typeof content === "string") return content;
  let text = "";
  for (const part of content) {
    if (part.type !== "text") continue;
    text = text === "" ? part.text : `${text}\n${part.text}`;
    if (text.length > maxToolCallText * 4) break;
  }
  return text;
}
