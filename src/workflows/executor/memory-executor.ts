/**
 * The memory engine's executor: calls the effects' implementations in this process, with
 * Temporal's retry semantics, so that tests and local work run the very code a worker would.
 * It plays the part that InMemoryTransport plays in the MCP SDK: real behaviour, no server.
 * It imports nothing from Node, like its Temporal sibling, though it never runs in the sandbox.
 * Model calls carry their whole conversation: with no history to keep small, transcript
 * references would only cost time.
 */
import type { EffectImplementations, EffectInput, EffectName, EffectOutput, StepAttempt } from "../../common/effects.js";
import { InvalidRunMessage } from "../../common/invalid-run-message.js";
import { fromChildRun, withAgents, type TranscriptMessage } from "../../common/messages.js";
import { withChildren } from "../../common/child-runs.js";
import { RunMessages, type Answer, type ApprovalDecision, type RunStatus } from "../../common/run-status.js";
import type { ActivitySettings, RunSettings } from "../../common/run-settings.js";
import type { RunChannel, ServerRequestAnswer } from "../../common/server-requests.js";
import { runToEnd, type DuragentWorkflow, type WorkflowBody } from "../define-workflow.js";
import { BaseExecutor } from "./base-executor.js";
import { ContinueAsNewRequest } from "./continue-as-new.js";
import type { RunLogger } from "./executor.js";
import { currentScope, inScope } from "./cancellation-scopes.js";
import { cancelledFailure, CancellationScope, runWithRetry, type Cancellation } from "./retry.js";

interface Waiter {
  predicate: () => boolean;
  resolve: (met: boolean) => void;
  reject: (error: unknown) => void;
  timer?: ReturnType<typeof setTimeout>;
}

interface UpdateHandler {
  handler: (arg: unknown) => unknown;
  validator?: (arg: unknown) => void;
}

export interface MemoryExecutorOptions {
  runId?: string;
  /** Finds the workflows that `executeChild` may start, by their registered name. */
  workflows?: (name: string) => DuragentWorkflow | undefined;
  /** A parent's cancellation reaches its children. */
  parentCancellation?: Cancellation;
  /** Whether a model call that starts now streams its text into the status (default: always). */
  streaming?: () => boolean;
}


export class MemoryExecutor extends BaseExecutor {
  readonly engine = "memory" as const;
  private readonly waiters = new Set<Waiter>();
  /** The run's cancellation; its attempts and child runs listen to it. */
  private readonly cancellation = new CancellationScope();
  private readonly detachFromParent: (() => void) | undefined;
  private readonly updateHandlers = new Map<string, UpdateHandler>();
  private readonly queryHandlers = new Map<string, (arg: unknown) => unknown>();
  private readonly signalHandlers = new Map<string, (arg: unknown) => void>();
  private runningHandlers = 0;
  private continued = false;

  private readonly workflows: (name: string) => DuragentWorkflow | undefined;
  private readonly streaming: () => boolean;

  constructor(
    private readonly implementations: EffectImplementations,
    settings: RunSettings,
    readonly log: RunLogger,
    options: MemoryExecutorOptions = {},
  ) {
    super(options.runId ?? globalThis.crypto.randomUUID(), settings);
    this.workflows = options.workflows ?? (() => undefined);
    this.streaming = options.streaming ?? (() => true);
    this.detachFromParent = options.parentCancellation?.subscribe(() => this.cancel());
    // The signals a Temporal run answers, so fire-and-forget senders work the same in memory.
    this.setSignalHandler<Answer>(RunMessages.answer, (answer) => {
      try {
        this.control.applyAnswer(answer);
      } catch (error) {
        this.log.warn("ignored an invalid answer sent by signal", { error: (error as Error).message });
      }
    });
    // And the updates, for senders that name them (`handle.update`), as Temporal's tools do.
    this.setUpdateHandler<Answer, void>(RunMessages.answer, (answer) => this.control.applyAnswer(answer), { validator: (answer) => this.control.validateAnswer(answer) });
    this.setUpdateHandler<ApprovalDecision, void>(RunMessages.decide, (decision) => this.control.applyDecision(decision), { validator: (decision) => this.control.validateDecision(decision) });
    this.setSignalHandler<ApprovalDecision>(RunMessages.decide, (decision) => {
      try {
        this.control.takeDecision(decision);
      } catch (error) {
        this.log.warn("ignored an invalid decision sent by signal", { error: (error as Error).message });
      }
    });
    this.setSignalHandler(RunMessages.pause, () => this.control.pause());
    this.setSignalHandler(RunMessages.resume, () => this.control.resume());
  }

  /** Runs the run's code to its end, in the run's scope: a fan-out's scopes then sit inside it. */
  runBody<I, O>(body: WorkflowBody<I, O>, input: I): Promise<O> {
    return inScope(this.cancellation, () => runToEnd(this, body, input));
  }

  /**
   * The scope the calling code runs in: the run's, or a fan-out's in it. Another run's scope, or a
   * fan-out's that ended uncancelled (work it left running, as Temporal's scopes never let go of
   * their parents), is the run's.
   */
  private scope(): CancellationScope {
    const current = currentScope();
    return current?.run === this.cancellation && !(current.closed && !current.cancelled) ? current : this.cancellation;
  }

  protected invoke<K extends EffectName>(name: K, input: EffectInput<K>, settings: ActivitySettings, label: string): Promise<EffectOutput<K>> {
    const scope = this.scope();
    if (scope.cancelled) return Promise.reject(cancelledFailure());
    const implementation = this.implementations[name] as (input: EffectInput<K>, context: { signal: AbortSignal; run: RunChannel; step?: StepAttempt; deadline?: number }) => Promise<EffectOutput<K>>;
    const id = `invoke-${++this.invocations}`;
    let attempts = 0;
    // A server's question (during a tool call) waits in the step's scope, not in whatever scope its
    // connection was opened in (its callbacks keep that one): a fan-out that failed long ago must not end it.
    const channel: RunChannel = name === "callTool" ? { ...this.runChannel, ask: (request, signal) => inScope(scope, () => this.runChannel.ask(request, signal)) } : this.runChannel;
    // Only a model call streams text, and only one whose request is watched (see `unwatched`).
    const run = (number: number): RunChannel =>
      name === "callLlm" ? { ...channel, text: (piece) => this.control.streamText(piece.id ?? id, number, piece) } : channel;
    const attempt = (signal: AbortSignal) => {
      const number = ++attempts;
      // Only a tool call is told its step (a function tool's idempotency key): model calls need not pay for it.
      const step = name === "callTool" ? { runId: this.runId, key: `${this.stepKeyPrefix()}/${id}`, attempt: number } : undefined;
      // A model call's wait for a busy provider must end before the attempt's limit does.
      const deadline = name === "callLlm" ? { deadline: Date.now() + settings.startToCloseTimeoutMs } : undefined;
      return implementation(input, { signal, run: run(number), ...(step ? { step } : {}), ...deadline });
    };
    return runWithRetry(settings, attempt, scope, (next, error) => this.control.recordRetry(label, next, settings.retry.maximumAttempts, error));
  }

  private invocations = 0;
  private keyPrefix: string | undefined;

  /** What this executor's steps' keys begin with: a continued run's executor numbers its steps again. */
  private stepKeyPrefix(): string {
    return (this.keyPrefix ??= `${this.runId}/${globalThis.crypto.randomUUID().slice(0, 8)}`);
  }

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
    log: (entry) => this.control.recordLog(entry),
  };

  // Whoever reads the status makes the run watched, at once: the engine says so through `streaming`.
  protected override unwatched(): boolean {
    return !this.streaming();
  }

  protected waitUntil(predicate: () => boolean, timeoutMs?: number): Promise<boolean> {
    const scope = this.scope();
    if (scope.cancelled) return Promise.reject(cancelledFailure());
    // The caller may have changed state others wait on (Temporal re-checks after every activation).
    this.notify();
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      // A wait in a fan-out's scope ends with it; the run's cancellation ends every wait (`cancel`).
      const leaveScope = scope === this.cancellation ? undefined : scope.subscribe(() => this.dropWaiter(waiter, () => reject(cancelledFailure())));
      const waiter: Waiter = {
        predicate,
        resolve: (met) => {
          leaveScope?.();
          resolve(met);
        },
        reject,
      };
      if (timeoutMs !== undefined) waiter.timer = setTimeout(() => this.dropWaiter(waiter, () => waiter.resolve(predicate())), timeoutMs);
      this.waiters.add(waiter);
    });
  }

  private dropWaiter(waiter: Waiter, then: () => void): void {
    if (!this.waiters.delete(waiter)) return;
    clearTimeout(waiter.timer);
    then();
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
    const handler = this.signalHandlers.get(name);
    if (handler) this.handle(() => handler(payload)).catch((error: unknown) => this.log.warn(`signal ${name} failed`, { error: String(error) }));
    else this.inbox.push(name, payload);
    this.notify();
  }

  /** False once the run has continued as new: messages then go to the next run's executor. */
  get acceptsMessages(): boolean {
    return !this.continued;
  }

  /**
   * Delivers an update as a Temporal client would: a validator's refusal (or a missing handler)
   * rejects with `InvalidRunMessage` and leaves the run untouched; otherwise the handler's answer.
   */
  update<R = unknown>(name: string, payload: unknown): Promise<R> {
    const entry = this.updateHandlers.get(name);
    if (!entry) return Promise.reject(new InvalidRunMessage(`The run handles no update '${name}'.`));
    try {
      entry.validator?.(payload);
    } catch (error) {
      return Promise.reject(error instanceof InvalidRunMessage ? error : new InvalidRunMessage(error instanceof Error ? error.message : String(error)));
    }
    return this.handle(() => entry.handler(payload)) as Promise<R>;
  }

  /** Runs a handler, in the run's scope whoever sent the message, counted for `allHandlersFinished`, and re-checks waits around it. */
  private async handle(run: () => unknown): Promise<unknown> {
    this.runningHandlers += 1;
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(inScope(this.cancellation, run));
    } catch (error) {
      result = Promise.reject(error);
    }
    this.notify();
    try {
      return await result;
    } finally {
      this.runningHandlers -= 1;
      this.notify();
    }
  }

  answer(answer: Answer): void {
    this.control.takeAnswer(answer);
    this.notify();
  }

  decide(decision: ApprovalDecision): void {
    this.control.takeDecision(decision);
    this.notify();
  }

  /** Holds this run and its child runs before their next steps. */
  pause(): void {
    this.control.pause();
    for (const child of this.children.values()) child.pause();
  }

  resume(): void {
    this.control.resume();
    this.notify();
    for (const child of this.children.values()) child.resume();
  }

  /** Aborts in-flight steps and waits; the run then fails with a CancelledFailure. */
  cancel(): void {
    if (!this.cancellation.cancel()) return;
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(cancelledFailure());
    }
    this.waiters.clear();
  }

  /** Answers a query as a Temporal client's would be answered. */
  query<R = unknown>(name: string, payload?: unknown): R {
    const handler = this.queryHandlers.get(name);
    if (!handler) throw new InvalidRunMessage(`The run answers no query '${name}'.`);
    return handler(payload) as R;
  }

  protected setUpdateHandler<A, R>(name: string, handler: (arg: A) => Promise<R> | R, options: { validator?: (arg: A) => void } = {}): void {
    this.updateHandlers.set(name, {
      handler: handler as (arg: unknown) => unknown,
      ...(options.validator ? { validator: options.validator as (arg: unknown) => void } : {}),
    });
  }

  protected setQueryHandler<A, R>(name: string, handler: (arg: A) => R): void {
    this.queryHandlers.set(name, handler as (arg: unknown) => unknown);
  }

  protected setSignalHandler<A>(name: string, handler: (arg: A) => void): void {
    this.signalHandlers.set(name, handler as (arg: unknown) => void);
    // Signals that came before the handler are delivered now, as Temporal buffers them.
    while (this.inbox.has(name)) this.signal(name, this.inbox.take(name));
  }

  protected allHandlersFinished(): boolean {
    return this.runningHandlers === 0;
  }

  protected continueAsNewSuggested(): boolean {
    return false; // no history to outgrow
  }

  continueAsNew(input: unknown): Promise<never> {
    this.continued = true;
    for (const waiter of this.waiters) clearTimeout(waiter.timer);
    this.waiters.clear();
    return Promise.reject(new ContinueAsNewRequest(input));
  }

  executeChild<O>(workflowName: string, input: unknown, options: { idSuffix: string }): Promise<O> {
    const workflow = this.workflows(workflowName);
    if (!workflow) return Promise.reject(new Error(`No workflow is registered as '${workflowName}'.`));
    // A paused run starts nothing new: its child waits for the resume, as its steps do.
    if (this.control.isPaused) return this.control.untilResumed().then(() => this.startChild<O>(workflow, input, options));
    return this.startChild<O>(workflow, input, options);
  }

  private startChild<O>(workflow: DuragentWorkflow, input: unknown, options: { idSuffix: string }): Promise<O> {
    // As on Temporal, a child is not started in a scope already cancelled (a fan-out's queued branch).
    const scope = this.scope();
    if (scope.cancelled) return Promise.reject(cancelledFailure());
    const id = `${this.runId}/${options.idSuffix}`;
    const child = new MemoryExecutor(this.implementations, this.childSettings(), this.log, {
      runId: id,
      workflows: this.workflows,
      parentCancellation: scope,
      streaming: this.streaming,
    });
    this.children.set(id, child);
    this.childIds.push(id);
    this.control.childStarted(id);
    // Through runBody, as a root run: the child's status then ends as it did, and stops counting in its parent's.
    const outcome = (child.runBody(workflow.body, input) as Promise<O>).finally(() => {
      child.detachFromParent?.();
      // A completed child's usage comes with its result; one that failed or was cancelled has none.
      const ended = child.control.status();
      if (ended.phase === "failed" || ended.phase === "cancelled") this.control.recordUsageByModel(ended.usage);
      // The status keeps the last few ended children; so does this, for their final text.
      const dropped = this.control.childEnded(id);
      if (dropped === undefined) return;
      const gone = this.children.get(dropped);
      if (gone) this.endedChildren.set(dropped, fromChildRun(dropped, gone.transcriptTree()));
      this.children.delete(dropped);
    });
    child.outcome = outcome;
    return outcome;
  }

  /** A child run's outcome, for a handle on it (its parent awaits the same promise). */
  outcome?: Promise<unknown>;

  /** The run's status, with the streamed text of the child runs it lists. */
  async statusWithChildren(): Promise<RunStatus> {
    return withChildren(this.control.status(), async (id) => this.children.get(id)?.statusWithChildren());
  }

  private readonly children = new Map<string, MemoryExecutor>();
  /** Every child run's id, in the order they started. */
  private readonly childIds: string[] = [];
  /** Ended child runs no longer held, as their transcripts (their children's too), so the whole tree stays readable. */
  private readonly endedChildren = new Map<string, TranscriptMessage[]>();

  get hasChildRuns(): boolean {
    return this.childIds.length > 0;
  }

  transcript(): TranscriptMessage[] {
    return withAgents(this.control.transcript, this.control.transcriptAgents);
  }

  /** The run's messages, then each child run's in the order they started, theirs after them (see `RunHandle.transcript`). */
  transcriptTree(): TranscriptMessage[] {
    const theirs = this.childIds.flatMap((id) => {
      const child = this.children.get(id);
      return child ? fromChildRun(id, child.transcriptTree()) : (this.endedChildren.get(id) ?? []);
    });
    return [...this.transcript(), ...theirs];
  }

  /** A child run, or a child's child, by its full id (`<run>/<suffix>/…`). */
  descendant(id: string): MemoryExecutor | undefined {
    for (const [childId, child] of this.children) {
      if (childId === id) return child;
      if (id.startsWith(`${childId}/`)) return child.descendant(id);
    }
    return undefined;
  }

  uuid(): string {
    return globalThis.crypto.randomUUID();
  }

  protected timer(ms: number): Promise<void> {
    return this.waitUntil(() => false, ms).then(() => undefined);
  }
}
