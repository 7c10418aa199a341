/**
 * The Temporal engine's executor: every effect becomes an activity, every wait a timer or a
 * condition, so a replayed workflow gets the recorded results instead of repeating the effects.
 * People reach the run through the handlers registered here (status query, answer and approval
 * updates, pause). Runs inside the workflow sandbox; imports activity types only.
 */
import { ApplicationFailure, ChildWorkflowFailure, TemporalFailure, TerminatedFailure, type MetricCounter } from "@temporalio/common";
import * as workflow from "@temporalio/workflow";
import { effects, type DuragentActivities, type EffectInput, type EffectName, type EffectOutput } from "../../common/effects.js";
import { FailureType, nonRetryableFailureTypes } from "../../common/failures.js";
import type { LlmRequest, LlmSetup } from "../../common/llm.js";
import type { Message, TranscriptAgents } from "../../common/messages.js";
import { historyLimitDefaults, type ActivitySettings, type RunSettings } from "../../common/run-settings.js";
import { RunMessages, type Answer, type ApprovalDecision, type ChildUsage, type ChildWaits, type PendingRequest, type RunPhase, type RunStatus } from "../../common/run-status.js";
import { InvalidRunMessage } from "../../common/invalid-run-message.js";
import { agentSearchAttribute, phaseSearchAttribute } from "../../common/search-attributes.js";
import { currentDetails, waitsForParent } from "../../common/current-details.js";
import { phaseWithChildren } from "../../common/child-runs.js";
import { ServerRequestSchema, type ServerRequest, type ServerRequestAnswer } from "../../common/server-requests.js";
import { llmSetupQuery, transcriptPageBytes, transcriptSliceQuery, type RunLocation, type TranscriptSlice } from "../../common/transcript-reference.js";
import type { WorkflowRunInput } from "../define-workflow.js";
import { BaseExecutor } from "./base-executor.js";
import type { RunLogger } from "./executor.js";
import { TranscriptReferencer } from "./transcript-referencer.js";
import { UsageByModelSchema } from "../../common/usage.js";

const internal = "Internal: read by duragent's own activities";
const internalMessage = "Internal: sent by duragent's own activities and child runs";

function retryPolicy({ retry }: ActivitySettings): workflow.ActivityOptions["retry"] {
  return {
    maximumAttempts: retry.maximumAttempts,
    initialInterval: retry.initialIntervalMs,
    backoffCoefficient: retry.backoffCoefficient,
    maximumInterval: retry.maximumIntervalMs,
    nonRetryableErrorTypes: nonRetryableFailureTypes,
  };
}

function activityOptions(settings: ActivitySettings, summary: string): workflow.ActivityOptions {
  return { summary, startToCloseTimeout: settings.startToCloseTimeoutMs, heartbeatTimeout: settings.heartbeatTimeoutMs, retry: retryPolicy(settings) };
}

function localActivityOptions(settings: ActivitySettings, summary: string): workflow.LocalActivityOptions {
  return { summary, startToCloseTimeout: settings.startToCloseTimeoutMs, retry: retryPolicy(settings) };
}

/**
 * Runs that started before local effects (listTools) recorded them as activities, and replay
 * must issue the same commands: only runs that took this patch run them as local activities.
 */
const localEffectsPatch = "duragent-local-effects";

/**
 * Runs that started before it started a child run while paused. Asked only while paused, so a run
 * never paused at a child's start records no marker.
 */
const pausedChildPatch = "duragent-child-waits-for-resume";

/**
 * Runs that started before it did not tell their parent what they wait for. Asked only by a
 * child run whose requests change, so other runs record no marker.
 */
const childWaitsPatch = "duragent-child-reports-waits";

/**
 * Runs that started before it kept their own phase in DuragentPhase while a child waited for a
 * person. Asked only by a parent that a child has told of a wait, so other runs record no marker.
 */
const parentPhasePatch = "duragent-parent-phase-follows-children";

/**
 * Runs that started before it left out of their parent's usage what they spent when they failed or
 * were cancelled. Asked only by a child run that ends so having spent something.
 */
const childUsagePatch = "duragent-child-reports-usage-at-end";

/**
 * Parents that ran before it left such a report in their signal queue, uncounted: a replay of their
 * history by newer code must count as they did, or the status it answers disagrees with the
 * recorded result. Asked only by a parent that takes a report.
 */
const childUsageCountedPatch = "duragent-parent-counts-child-usage";

/**
 * Workflow code's signal handlers take the signals that came before them. Runs from before lost
 * those to the inbox of unhandled signals; asked only when there is one to deliver.
 */
const earlySignalsPatch = "duragent-early-signals";

/** A decision sent as a signal is taken; runs from before dropped it. Asked only by a run sent one. */
const decideSignalPatch = "duragent-decide-by-signal";

interface OwnUpdate {
  handler: (arg: unknown) => unknown;
  validator?: (arg: unknown) => void;
}

const statusQuery = workflow.defineQuery<RunStatus>(RunMessages.status);
const transcriptQuery = workflow.defineQuery<Message[]>(RunMessages.transcript);
const transcriptAgentsQuery = workflow.defineQuery<TranscriptAgents[]>(RunMessages.transcriptAgents);
/** Asked by the `callLlm` activity to resolve a transcript reference; cheap, and never in history. */
const transcriptSliceQueryDefinition = workflow.defineQuery<Message[], [TranscriptSlice]>(transcriptSliceQuery);
const llmSetupQueryDefinition = workflow.defineQuery<LlmSetup | null, [number]>(llmSetupQuery);
const answerUpdate = workflow.defineUpdate<void, [Answer]>(RunMessages.answer);
const answerSignal = workflow.defineSignal<[Answer]>(RunMessages.answer);
const decideUpdate = workflow.defineUpdate<void, [ApprovalDecision]>(RunMessages.decide);
const decideSignal = workflow.defineSignal<[ApprovalDecision]>(RunMessages.decide);
const pauseSignal = workflow.defineSignal(RunMessages.pause);
const resumeSignal = workflow.defineSignal(RunMessages.resume);
const watchSignal = workflow.defineSignal(RunMessages.watch);
const childWaitsSignal = workflow.defineSignal<[ChildWaits]>(RunMessages.childWaits);
const childUsageSignal = workflow.defineSignal<[ChildUsage]>(RunMessages.childUsage);
const serverRequestUpdate = workflow.defineUpdate<ServerRequestAnswer | null, [ServerRequest]>(RunMessages.serverRequest);
const serverAnswerQuery = workflow.defineQuery<ServerRequestAnswer | null, [string]>(RunMessages.serverAnswer);

export class TemporalExecutor extends BaseExecutor {
  readonly engine = "temporal" as const;
  readonly log: RunLogger = workflow.log;
  /** Turns large model calls into references to this run's state; also answers what they refer to. */
  private readonly references: TranscriptReferencer;
  /** Runs entering each phase, on the worker's Prometheus endpoint (`duragent worker --metrics`). Per run: this module is shared by every run on a worker. */
  private phaseChanges: MetricCounter | undefined;
  /** What this run's child runs wait for, by their id within it, as they reported it: shown in its Web UI details. */
  private readonly childWaits = new Map<string, PendingRequest[]>();
  /** The duragent run this one is a child of (its id extends the parent's), told what this run waits for. */
  private readonly parent: { workflowId: string; runId: string } | undefined;
  /** The request ids this run last reported to its parent, and how many reports it sent. */
  private reportedWaits = "";
  private reports = 0;
  /** The sequence of the latest report taken from each child. */
  private readonly childReports = new Map<string, number>();
  /** Child runs whose usage came by signal as they failed or were cancelled: once each. */
  private readonly childUsageTaken = new Set<string>();
  /** The phase this run last published (DuragentPhase, the phase metric); it starts as `running`. */
  private publishedPhase: RunPhase = "running";
  /** Whether the published phase counts what child runs wait for (`parentPhasePatch`), once asked. */
  private phaseFollowsChildren = false;

  constructor(settings: RunSettings, options: { unwatched?: boolean } = {}) {
    super(workflow.workflowInfo().workflowId, settings);
    const control = this.control;
    control.unwatched = options.unwatched === true;
    // Read once: the state-change hook below runs on every step.
    const { parent } = workflow.workflowInfo();
    this.parent = parent && this.runId.startsWith(`${parent.workflowId}/`) ? { workflowId: parent.workflowId, runId: parent.runId } : undefined;
    // A run enters `running` as it starts; a continued one is the same run going on.
    if (workflow.workflowInfo().continuedFromExecutionRunId === undefined) this.countPhase("running");
    this.references = new TranscriptReferencer(
      control.transcript,
      () => this.runLocation(),
      settings.transcriptReferenceBytes ?? historyLimitDefaults.transcriptReferenceBytes,
    );
    // The Web UI's Queries tab lists queries by name and preselects the first: status is what people
    // want, so the queries only duragent's activities use are named duragent.worker.*, after it.
    workflow.setHandler(statusQuery, () => control.status(), { description: "The run's phase, step, pending questions and approvals, usage and last error" });
    workflow.setHandler(transcriptQuery, () => this.transcriptAnswer(), { description: "Every message of the run so far (past 384 KiB, the latest ones, after a note)" });
    workflow.setHandler(transcriptAgentsQuery, () => control.transcriptAgents, { description: "Which agent wrote the transcript from which message on (`duragent history`)" });
    workflow.setHandler(transcriptSliceQueryDefinition, ({ from, to }) => this.references.slice(from, to, transcriptPageBytes), { description: internal });
    workflow.setHandler(llmSetupQueryDefinition, (index) => this.references.setup(index) ?? null, { description: internal });
    // Validators run before anything is written to history, so a bad answer leaves no trace.
    const answering = { handler: (answer: Answer) => control.applyAnswer(answer), validator: (answer: Answer) => control.validateAnswer(answer) };
    workflow.setHandler(answerUpdate, answering.handler, {
      validator: answering.validator,
      description: "Answers a pending question ({requestId?, value}); refused, leaving no trace, when the value does not fit (`duragent answer`)",
    });
    const deciding = { handler: (decision: ApprovalDecision) => control.applyDecision(decision), validator: (decision: ApprovalDecision) => control.validateDecision(decision) };
    workflow.setHandler(decideUpdate, deciding.handler, {
      validator: deciding.validator,
      description: "Approves or rejects a pending tool call ({approved, requestId?, arguments?, reason?}) (`duragent approve`, `reject`)",
    });
    this.ownUpdates.set(RunMessages.answer, answering as OwnUpdate);
    this.ownUpdates.set(RunMessages.decide, deciding as OwnUpdate);
    // The fire-and-forget variant: an invalid answer cannot be refused, so it is logged and dropped.
    workflow.setHandler(answerSignal, (answer) => {
      try {
        control.applyAnswer(answer);
      } catch (error) {
        workflow.log.warn("ignored an invalid answer sent by signal", { error: (error as Error).message });
      }
    }, { description: "Answers a pending question without waiting; an answer that does not fit is logged and dropped" });
    // So that another SDK's workflow, which can only signal, can approve its duragent child's call.
    workflow.setHandler(decideSignal, (decision) => {
      if (!workflow.patched(decideSignalPatch)) return;
      try {
        control.takeDecision(decision);
      } catch (error) {
        workflow.log.warn("ignored an invalid decision sent by signal", { error: (error as Error).message });
      }
    }, { description: "Approves or rejects a pending tool call without waiting ({approved, requestId?, arguments?, reason?}); one that does not fit is logged and dropped" });
    // A tool-call activity reports a server's request for a person and polls for the answer; the
    // answer lives in workflow state, so it survives the worker and a retried call reuses it.
    workflow.setHandler(serverRequestUpdate, (request) => control.openServerRequest(request), {
      // Typed, so the activity can tell this refusal from an Update the server failed on the way.
      validator: (request) => {
        const parsed = ServerRequestSchema.safeParse(request);
        if (!parsed.success) throw ApplicationFailure.nonRetryable(`Malformed server request: ${parsed.error.message}`, FailureType.invalidServerRequest);
      },
      description: internalMessage,
    });
    workflow.setHandler(serverAnswerQuery, (key) => control.serverAnswer(key), { description: internal });
    workflow.setHandler(pauseSignal, () => control.pause(), { description: "Holds the run, and its child runs, before their next steps (`duragent pause`)" });
    workflow.setHandler(resumeSignal, () => control.resume(), { description: "Lets a paused run go on (`duragent resume`)" });
    workflow.setHandler(watchSignal, () => control.watch(), { description: "Someone is watching: model calls stream their text from the next call on" });
    workflow.setHandler(childWaitsSignal, (report) => this.takeChildWaits(report), { description: internalMessage });
    workflow.setHandler(childUsageSignal, (report) => this.takeChildUsage(report), { description: internalMessage });
    // Other signals are queued for nextSignal rather than dropped.
    workflow.setDefaultSignalHandler((name, ...args) => this.inbox.push(name, args[0]));
  }

  /**
   * The transcript query's answer. Temporal refuses one over 2 MB, and the Web UI then shows only
   * that error; past a page (`transcriptPageBytes`, under the size the worker warns of) it shows the
   * latest messages, after a note of what is left out and where to read it all.
   */
  private transcriptAnswer(): Message[] {
    const transcript = this.control.transcript;
    const start = this.references.latestStart(transcriptPageBytes);
    if (start === 0) return transcript;
    const content = `duragent: the first ${start} of ${transcript.length} messages are left out of this answer, to keep it under Temporal's payload limits; \`duragent history ${workflow.workflowInfo().workflowId}\` or a run handle's transcript() reads them all.`;
    return [{ role: "system", content }, ...transcript.slice(start)];
  }

  protected override phaseChanged(phase: RunPhase): void {
    this.publishPhase(phase);
  }

  /**
   * Publishes the run's phase, counting its children's waits: a running parent whose child waits
   * for a person is found by `list --phase waiting_input` too, as its status reads.
   */
  private publishPhase(own: RunPhase): void {
    if (this.childWaits.size > 0 && !this.phaseFollowsChildren) this.phaseFollowsChildren = workflow.patched(parentPhasePatch);
    const phase = this.phaseFollowsChildren ? phaseWithChildren(own, [...this.childWaits.values()].flat()) : own;
    if (phase === this.publishedPhase) return;
    this.publishedPhase = phase;
    if (this.settings.searchAttributes) workflow.upsertSearchAttributes([{ key: phaseSearchAttribute, value: phase }]);
    this.countPhase(phase);
  }

  // Emitted once, not again on replay (the SDK's workflow meter skips replay).
  private countPhase(phase: RunPhase): void {
    this.phaseChanges ??= workflow.metricMeter.createCounter("duragent_run_phase_changes", "1", "Runs entering each phase (running, waiting_input, waiting_approval, paused, completed, failed, cancelled)");
    this.phaseChanges.add(1, { phase });
  }

  // Not a command: the Web UI reads it through the SDK's metadata query, so history is unchanged.
  protected override stateChanged(): void {
    const status = this.control.status();
    workflow.setCurrentDetails(currentDetails(status, this.childWaits));
    this.reportWaits(status);
  }

  /**
   * A child run tells its parent what it (or a child of its own) waits for, when that changes, so
   * the parent's Web UI details show it: a workflow cannot read another's state.
   */
  private reportWaits(status: RunStatus): void {
    const parent = this.parent;
    if (!parent) return;
    // Nothing pending, the common case on every step, builds nothing.
    const waits = status.pending.length + this.childWaits.size === 0 ? undefined : waitsForParent(this.runId, status.pending, this.childWaits);
    const ids = waits ? waits.pending.map((request) => request.id).join(" ") : "";
    if (ids === this.reportedWaits) return;
    this.reportedWaits = ids;
    if (!workflow.patched(childWaitsPatch)) return;
    const report: ChildWaits = { ...(waits ?? { child: this.runId, pending: [] }), sequence: ++this.reports };
    // A parent that has ended has nothing to show.
    workflow.getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(childWaitsSignal, report).catch(() => undefined);
  }

  /** A child's report, taken only from a child in flight, and only when newer than the last one taken. */
  private takeChildWaits({ child, pending, sequence }: Partial<ChildWaits>): void {
    const prefix = `${this.runId}/`;
    if (typeof child !== "string" || !Array.isArray(pending) || !child.startsWith(prefix) || !this.control.hasRunningChild(child)) return;
    const id = child.slice(prefix.length);
    if (typeof sequence === "number") {
      if (sequence <= (this.childReports.get(id) ?? 0)) return;
      this.childReports.set(id, sequence);
    }
    if (pending.length > 0) this.childWaits.set(id, pending);
    else this.childWaits.delete(id);
    this.stateChanged();
    this.publishChildDrivenPhase();
  }

  /**
   * Hands the parent what this run spent as it fails or is cancelled, awaited so that the parent
   * has it before it learns of the end. Only for an error that ends the workflow: any other fails
   * the workflow task, and the run may yet complete, its usage then coming with its result
   * (TemporalFailure is the SDK's own test). What children still in flight spend after this is
   * not told: they end with this run, as terminated ones do.
   */
  override endedShort(error: unknown): Promise<void> | undefined {
    const parent = this.parent;
    if (!parent || !(error instanceof TemporalFailure)) return undefined;
    const { usage } = this.control.status();
    if (Object.keys(usage).length === 0 || !workflow.patched(childUsagePatch)) return undefined;
    const report: ChildUsage = { child: this.runId, usage };
    const handle = workflow.getExternalWorkflowHandle(parent.workflowId, parent.runId);
    // A cancelled run still tells; a parent that has ended needs nothing.
    return workflow.CancellationScope.nonCancellable(() => handle.signal(childUsageSignal, report)).catch(() => undefined);
  }

  /**
   * A child's usage as it failed or was cancelled, counted at once: it ends without a result, and
   * from now its own status reads as ended, which the parent's status no longer adds up.
   */
  private takeChildUsage({ child, usage }: Partial<ChildUsage>): void {
    const parsed = UsageByModelSchema.safeParse(usage);
    if (typeof child !== "string" || !parsed.success || !this.control.hasRunningChild(child) || this.childUsageTaken.has(child)) return;
    if (!workflow.patched(childUsageCountedPatch)) return;
    this.childUsageTaken.add(child);
    this.control.recordUsageByModel(parsed.data);
  }

  /**
   * After a child's wait began or ended. Not once the run is cancelled: its children then end
   * one by one, and its own end sets the phase.
   */
  private publishChildDrivenPhase(): void {
    if (!workflow.CancellationScope.current().consideredCancelled) this.publishPhase(this.control.phase());
  }

  // History stores each activity input: a long conversation is referred to, not repeated.
  protected override prepareModelCall(request: LlmRequest): LlmRequest {
    return this.references.reference(request);
  }

  /** What a child or a continued run is started with, besides its input: this run's settings, and whether anyone watches. */
  private runInputOf(input: unknown): WorkflowRunInput<unknown> {
    return { input, settings: this.settings, ...(this.control.unwatched ? { unwatched: true } : {}) };
  }

  private runLocation(): RunLocation {
    const { workflowId, runId } = workflow.workflowInfo();
    return { runId: workflowId, temporalRunId: runId };
  }

  protected setUpdateHandler<A, R>(name: string, handler: (arg: A) => Promise<R> | R, options: { validator?: (arg: A) => void } = {}): void {
    const definition = workflow.defineUpdate<R, [A]>(name);
    workflow.setHandler(definition, async (arg: A) => handler(arg), options.validator ? { validator: options.validator } : {});
    this.ownUpdates.set(name, { handler: handler as OwnUpdate["handler"], ...(options.validator ? { validator: options.validator as OwnUpdate["validator"] } : {}) });
  }

  /** Every update the run handles, duragent's and its code's, for one that came before its handler (`deliverEarlyUpdate`). */
  private readonly ownUpdates = new Map<string, OwnUpdate>();

  /**
   * An update that came while a run started elsewhere read its worker's config (src/workflows/
   * started-elsewhere.ts), taken as its handler takes it; a refusal fails the update.
   */
  async deliverEarlyUpdate(name: string, argument: unknown): Promise<unknown> {
    try {
      const own = this.ownUpdates.get(name);
      if (!own) throw new InvalidRunMessage(`The run handles no update '${name}'.`);
      own.validator?.(argument);
      return await own.handler(argument);
    } catch (error) {
      if (error instanceof ApplicationFailure) throw error;
      throw ApplicationFailure.create({ message: (error as Error).message, type: error instanceof InvalidRunMessage ? "InvalidRunMessage" : undefined, nonRetryable: true });
    }
  }

  protected setSignalHandler<A>(name: string, handler: (arg: A) => void): void {
    workflow.setHandler(workflow.defineSignal<[A]>(name), handler);
    // A signal that came before its handler (in the run's first workflow task, or sent with its
    // start) went to the default handler's inbox: it is delivered now, as Temporal delivers the
    // ones it buffered. Runs from before dropped it; they replay as they ran.
    if (this.inbox.has(name) && workflow.patched(earlySignalsPatch)) {
      while (this.inbox.has(name)) handler(this.inbox.take(name) as A);
    }
  }

  protected setQueryHandler<A, R>(name: string, handler: (arg: A) => R): void {
    workflow.setHandler(workflow.defineQuery<R, [A]>(name), handler);
  }

  protected allHandlersFinished(): boolean {
    return workflow.allHandlersFinished();
  }

  protected continueAsNewSuggested(): boolean {
    return workflow.workflowInfo().continueAsNewSuggested;
  }

  continueAsNew(input: unknown): Promise<never> {
    // Same workflow type, task queue and search attributes; only the input changes.
    return workflow.continueAsNew<(run: WorkflowRunInput<unknown>) => Promise<unknown>>(this.runInputOf(input));
  }

  protected invoke<K extends EffectName>(name: K, input: EffectInput<K>, settings: ActivitySettings, label: string): Promise<EffectOutput<K>> {
    const local = effects[name].local === true && workflow.patched(localEffectsPatch);
    const activities = local
      ? workflow.proxyLocalActivities<DuragentActivities>(localActivityOptions(settings, label))
      : workflow.proxyActivities<DuragentActivities>(activityOptions(settings, label));
    return (activities[name] as (input: EffectInput<K>) => Promise<EffectOutput<K>>)(input);
  }

  protected async waitUntil(predicate: () => boolean, timeoutMs?: number): Promise<boolean> {
    if (timeoutMs === undefined) {
      await workflow.condition(predicate);
      return true;
    }
    return workflow.condition(predicate, timeoutMs);
  }

  executeChild<O>(workflowName: string, input: unknown, options: { idSuffix: string; summary?: string }): Promise<O> {
    // A paused run starts nothing new: its child waits for the resume, as its steps do. Only then
    // is a promise added, so a child started unpaused takes the turns it always took.
    if (this.control.isPaused && workflow.patched(pausedChildPatch)) return this.control.untilResumed().then(() => this.startChild<O>(workflowName, input, options));
    return this.startChild<O>(workflowName, input, options);
  }

  private startChild<O>(workflowName: string, input: unknown, options: { idSuffix: string; summary?: string }): Promise<O> {
    const workflowId = `${this.runId}/${options.idSuffix}`;
    // Watchers read its streamed text through the parent; state for queries only, no command.
    this.control.childStarted(workflowId);
    const settings = this.childSettings();
    const child = workflow.executeChild(workflowName, {
      workflowId,
      args: [{ ...this.runInputOf(input), settings }],
      staticSummary: options.summary,
      // Found by `list --target` and the Web UI's queries as its parent is; attributes of the command, not commands.
      ...(settings.searchAttributes
        ? {
            typedSearchAttributes: [
              { key: agentSearchAttribute, value: options.idSuffix.replace(/-\d+$/, "") },
              { key: phaseSearchAttribute, value: "running" },
            ],
          }
        : {}),
    }) as Promise<O>;
    // Taken before the end below; state only, no command.
    child.catch((error: unknown) => {
      if (error instanceof ChildWorkflowFailure && error.cause instanceof TerminatedFailure) this.control.childTerminated(workflowId);
    });
    return child.finally(() => {
      this.control.childEnded(workflowId);
      this.childUsageTaken.delete(workflowId);
      this.childReports.delete(options.idSuffix);
      if (!this.childWaits.delete(options.idSuffix)) return;
      this.stateChanged();
      this.publishChildDrivenPhase();
    });
  }

  uuid(): string {
    return workflow.uuid4();
  }

  protected timer(ms: number): Promise<void> {
    return workflow.sleep(ms);
  }
}
