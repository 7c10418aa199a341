/** Starts and steers runs on a Temporal cluster, where workers execute them. */
import { rootCause } from "../common/failures.js";
import { randomUUID } from "node:crypto";
import {
  Client,
  type Connection,
  type ConnectionLike,
  type WorkflowClientInterceptor,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
  QueryNotRegisteredError,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ServiceError,
  isGrpcCancelledError,
  isGrpcServiceError,
  type ScheduleDescription as TemporalScheduleDescription,
  type ScheduleHandle,
  isGrpcDeadlineError,
  type WorkflowExecutionStatusName,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from "@temporalio/client";
import { ApplicationFailure, CancelledFailure, TerminatedFailure, WorkflowExecutionAlreadyStartedError } from "@temporalio/common";
import { fromChildRun, withAgents, type Message, type TranscriptAgents, type TranscriptMessage } from "../common/messages.js";
import { readTranscriptSlices, transcriptSliceQuery, type TranscriptSlice } from "../common/transcript-reference.js";
import { hasEnded, RunMessages, type ApprovalDecision, type Answer, type RunPhase, type RunStatus } from "../common/run-status.js";
import { phasesListed, runPhases } from "../common/run-phases.js";
import type { RunSettings } from "../common/run-settings.js";
import { usageOfResult } from "../common/usage.js";
import type { DuragentConfig } from "../config/schema.js";
import {
  checkInputSize,
  maxInputBytes,
  InvalidRunMessage,
  newRunId,
  RunAlreadyEnded,
  RunFailed,
  RunNotFound,
  runAlreadyExists,
  runHandle,
  runSummary,
  startSettings,
  targetInput,
  workflowType,
  type Engine,
  type RunHandle,
  type ListOptions,
  type RunSummary,
  type StartOptions,
  unsendableInput,
} from "./engine.js";
import type { RunTarget } from "./run-targets.js";
import { pendingActivitiesState, scheduledLabel } from "./pending-activities.js";
import { withChildren } from "../common/child-runs.js";
import { agentSearchAttribute, phaseSearchAttribute, startedAs } from "../common/search-attributes.js";
import { isUnknownSearchAttribute, registerSearchAttributes } from "./search-attributes.js";
import {
  checkScheduleOptions,
  overlapOf,
  overlapPolicies,
  ScheduleNotFound,
  ScheduleAlreadyExists,
  scheduleIdOf,
  scheduleDescription,
  scheduledStart,
  scheduleMemo,
  scheduleSummary,
  triggerOutcome,
  type ScheduleDescription,
  type ScheduleOptions,
  type Schedules,
  type ScheduleSummary,
} from "./schedules.js";
import { scheduleUiLink, webUiLink } from "./temporal-connection.js";
import { clientClosed, explainTemporalError, isNoRecentPoller, isReplayFailing, isWorkflowTaskFailing, replayFailure, replayFailureWords } from "./temporal-errors.js";
import { ExitCode, isUserError, UserError } from "../errors/user-error.js";
import { clientDataConverterFor } from "../codec/data-converter.js";
import type { DuragentWorker } from "../worker.js";
import { tracingSettings } from "../telemetry/settings.js";

/** Temporal's closed execution statuses, as the client and visibility queries name them, and the phase each reads as. */
const closedStatuses: readonly (readonly [WorkflowExecutionStatusName, string, RunPhase])[] = [
  ["COMPLETED", "Completed", "completed"],
  ["CANCELLED", "Canceled", "cancelled"],
  ["TERMINATED", "Terminated", "terminated"],
  ["FAILED", "Failed", "failed"],
  ["TIMED_OUT", "TimedOut", "failed"],
];

/** The phase of a closed run, from Temporal's own status; open runs answer the status query. */
function closedPhase(status: WorkflowExecutionStatusName): RunPhase | undefined {
  return closedStatuses.find(([name]) => name === status)?.[2];
}

/** A value in a visibility query, quoted. */
function quoted(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * A workflow task's failure on one line: the error's class and message, and where in the user's
 * code it was thrown, read from the stack trace the worker reported with it.
 */
export function failureLine(message: string, stackTrace: string | null | undefined): string {
  const lines = (stackTrace ?? "").split("\n").map((line) => line.trim());
  const headline = lines.findIndex((line) => line.endsWith(`: ${message}`));
  if (headline < 0) return message;
  const where = lines.slice(headline + 1).find((line) => line.startsWith("at "));
  return where ? `${lines[headline]} (${where})` : lines[headline]!;
}

/** The server's words when it refused a request as invalid (gRPC INVALID_ARGUMENT). */
function invalidArgument(error: unknown): string | undefined {
  const grpc = error instanceof ServiceError && isGrpcServiceError(error.cause) ? error.cause : isGrpcServiceError(error) ? error : undefined;
  return grpc?.code === 3 ? grpc.details : undefined;
}

/** How long a status read waits for a worker to answer before it shows what the server alone knows. */
const statusQueryTimeoutMs = 3_000;
/** How long a query of workflow code's own waits for a worker: longer than status's, for a worker that must first replay a long history. */
const queryTimeoutMs = 10_000;
const closedStatusQueryTimeoutMs = 30_000;
/**
 * How long an answer, a decision or an update waits for a worker to take it (Temporal's Update
 * accepted), as long as a query's and more: a worker may first replay a long history. Once taken,
 * its handler runs as long as it needs (a chat's reply).
 */
const updateAcceptTimeoutMs = 20_000;

/**
 * A query no worker answered by `deadline`: DEADLINE_EXCEEDED from the server, CANCELLED when the
 * client's own timer wins the race, or a queue no worker polled lately, refused at once.
 */
function unanswered(error: unknown, deadline: number): boolean {
  return isGrpcDeadlineError(error) || (isGrpcCancelledError(error) && Date.now() >= deadline) || isNoRecentPoller(error);
}

/**
 * A run's status from what the server alone knows, when no worker answered its status query:
 * none is running, the run has ended and its workers are gone, or its workflow code keeps failing.
 * `partial` says which, and what is therefore unknown.
 */
function serverKnownStatus(runId: string, phase: RunPhase, partial: string, lastError?: string): RunStatus {
  return { runId, phase, stepCount: 0, pending: [], usage: {}, partial, ...(lastError ? { lastError } : {}) };
}

/**
 * An open run whose workflow code no longer replays its history: the phase it last told the
 * server, why nothing else is known, and the worker's words (the history's first divergence).
 */
export function replayFailingStatus(runId: string, phase: RunPhase, error: unknown): RunStatus {
  const message = (error instanceof Error ? error.message : String(error)).replace(/^\d+ [A-Z_]+: /, "");
  const why = replayFailureWords[replayFailure(message) ?? "changed"].whole;
  return serverKnownStatus(
    runId,
    phase,
    `${why}, so its steps, questions and usage are not known; deploy code that replays it (the code it started on, or later code with the change behind \`patched()\`), or end the run with \`duragent terminate\``,
    message.split("\n")[0],
  );
}

/** Temporal's words for a cancelled run ("Workflow cancelled", "Workflow canceled", a step's bare "cancelled") as the memory engine's, so both engines read alike. */
function asTheMemoryEngineSays(reason: string): string {
  return /^(Workflow )?cancell?ed$/i.test(reason) ? "the run was cancelled" : reason;
}

/** An open run's phase from its DuragentPhase search attribute; `running` when it has none (or an ended one visibility has not caught up with). */
function openPhase(value: string | undefined): RunPhase {
  return value !== undefined && (runPhases as readonly string[]).includes(value) && !hasEnded(value as RunPhase) ? (value as RunPhase) : "running";
}

export interface Pollers {
  count: number;
  /** When the server last saw one of them poll, in ms since the epoch. */
  lastSeenMs?: number;
  /** When the server last saw each poll, where it says. */
  seenMs?: number[];
}

/** A live worker's long poll returns within a minute and it polls again; one unseen for longer has stopped (or is too busy to poll). */
const livePollMs = 75_000;

/** How many of the pollers the server lists have not polled for longer than a live worker would. */
function stalePollers(seenMs: readonly number[], now: number): number {
  return seenMs.filter((ms) => now - ms > livePollMs).length;
}

/**
 * "a worker polled task queue 'q' (last seen 40 s ago)": a stopped worker stays listed for
 * minutes, so its age tells, and those not seen for longer than a live worker polls are told apart.
 */
export function lastPolled(taskQueue: string, { count, lastSeenMs, seenMs = [] }: Pollers, now = Date.now()): string {
  const workers = (n: number) => (n === 1 ? "a worker" : `${n} workers`);
  const seen = lastSeenMs === undefined ? "" : `last seen ${Math.max(0, Math.round((now - lastSeenMs) / 1000))} s ago`;
  const stale = stalePollers(seenMs, now);
  if (stale === 0 || stale > count) return `${workers(count)} polled task queue '${taskQueue}'${seen ? ` (${seen})` : ""}`;
  if (stale === count) return `${workers(count)} polled task queue '${taskQueue}', none in the last minute (${seen}: stopped since?)`;
  return `${workers(count - stale)} polled task queue '${taskQueue}' (${seen}; ${stale} more not in the last minute: stopped)`;
}

/**
 * What a command says about the workers of its task queue, or nothing when one polls and the
 * command does not ask: none polls, or none has in the last minute (the server still lists them).
 */
export function workerWarningText(taskQueue: string, address: string, pollers: Pollers | undefined, consequence: string, options: { evenIfPolled?: boolean } = {}, now = Date.now()): string | undefined {
  const startOne = "Start one with `duragent worker` (or `duragent dev` for a local server and worker).";
  const live = pollers && pollers.count - stalePollers(pollers.seenMs ?? [], now);
  if (pollers?.count && live === 0) return `${capitalised(lastPolled(taskQueue, pollers, now))}; ${consequence}. ${startOne}`;
  if (pollers?.count) {
    if (!options.evenIfPolled) return undefined;
    return capitalised(`${lastPolled(taskQueue, pollers, now)}, but none has taken it yet (busy, or stopped since); ${consequence}.`);
  }
  if (pollers === undefined) return options.evenIfPolled ? `No worker has taken what was sent yet; ${consequence}.` : undefined;
  return `No worker is polling task queue '${taskQueue}' on ${address}; ${consequence}. ${startOne}`;
}

const capitalised = (text: string) => text.replace(/^./, (first) => first.toUpperCase());

const noWorkerAnswered = `no worker answered within ${statusQueryTimeoutMs / 1000} s (none is running, or the run's worker stopped); its steps, questions and usage are not known until one does`;

export class TemporalEngine implements Engine {
  readonly name = "temporal" as const;

  private constructor(
    /** The client's own connection, or a worker's it shares (and leaves to the worker to close). */
    private readonly connection: ConnectionLike & Pick<Connection, "operatorService">,
    private readonly ownsConnection: boolean,
    readonly client: Client,
    private readonly config: DuragentConfig,
    private readonly settings: RunSettings,
    /** Set when the connection is a worker's in this process, polling the runs' task queue. */
    private readonly eagerStart: boolean,
    /** Draws the random part of generated run ids. */
    private readonly uuid: () => string,
  ) {}

  /**
   * With `worker`, a worker in this process, the engine shares its connection (the worker owns
   * it) and asks the server to hand each new run straight to it: eager start saves the round trip
   * of a first workflow task through the task queue.
   */
  static async connect(config: DuragentConfig, settings: RunSettings, worker?: DuragentWorker, uuid: () => string = randomUUID): Promise<TemporalEngine> {
    // Keys are read first: a missing one is the user's to fix, whatever the cluster's state.
    const dataConverter = clientDataConverterFor(config);
    const tracing = await clientTracing(config);
    const connection = worker?.connection ?? (await (await import("./tls-probe.js")).connectClient(config.temporal));
    const client = new Client({
      connection,
      namespace: config.temporal.namespace,
      dataConverter,
      ...(tracing ? { interceptors: { workflow: [tracing.interceptor] } } : {}),
    });
    const polls = worker?.worker.options;
    const eager = polls !== undefined && polls.taskQueue === config.temporal.taskQueue && polls.namespace === config.temporal.namespace;
    const engine = new TemporalEngine(connection, worker === undefined, client, config, settings, eager, uuid);
    engine.flushSpans = tracing?.flush;
    return engine;
  }

  start(target: RunTarget, input: unknown, options: StartOptions = {}): Promise<RunHandle> {
    return this.explained(() => this.startRun(target, input, options));
  }

  private async startRun(target: RunTarget, input: unknown, options: StartOptions): Promise<RunHandle> {
    const runInput = targetInput(target, input);
    await this.checkStartInput(target, runInput, input);
    if (options.runId !== undefined) {
      const runId = options.runId;
      return this.startAs(runId, target, runInput, input, options).catch((error: unknown) => {
        throw error instanceof WorkflowExecutionAlreadyStartedError ? runAlreadyExists(runId, "open on Temporal") : error;
      });
    }
    // A generated id has 32 random bits: among the runs a namespace retains, one may already have
    // it. Temporal would start this run under that run's id; refused instead, it gets another.
    for (let tries = 1; ; tries++) {
      try {
        return await this.startAs(newRunId(target, this.uuid(), options), target, runInput, input, { ...options, generatedId: true });
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError) || tries >= 5) throw error;
      }
    }
  }

  private async startAs(workflowId: string, target: RunTarget, runInput: unknown, input: unknown, options: StartOptions & { generatedId?: boolean }): Promise<RunHandle> {
    const { generatedId = false, listedAs = target.name } = options;
    const watched = options.watch !== false;
    const settings = startSettings(this.settings, options, this.config.pricing);
    const start = (tagged: boolean) =>
      this.client.workflow.start(workflowType(target), {
        workflowId,
        ...(generatedId ? { workflowIdReusePolicy: "REJECT_DUPLICATE" as const } : {}),
        taskQueue: this.config.temporal.taskQueue,
        // Untagged runs must not tag themselves later either: the server would refuse the upsert.
        args: [{ input: runInput, settings: tagged ? settings : { ...settings, searchAttributes: false }, ...(watched ? {} : { unwatched: true }) }],
        staticSummary: runSummary(target, input),
        ...(this.eagerStart ? { requestEagerStart: true } : {}),
        ...(tagged ? { typedSearchAttributes: startedAs(listedAs) } : {}),
      });
    const started = !this.settings.searchAttributes
      ? await start(false)
      : await start(true).catch((error: unknown) => (isUnknownSearchAttribute(error) ? this.startOnceRegistered(start) : Promise.reject(error)));
    return started.eagerlyStarted ? { ...this.handle(workflowId), startedEagerly: true } : this.handle(workflowId);
  }

  /**
   * The namespace lacks the search attributes (no worker has started on it yet, or one has only
   * just registered them): register them and start tagged once the server knows them, or start
   * untagged where it never will.
   */
  private async startOnceRegistered<T>(start: (tagged: boolean) => Promise<T>): Promise<T> {
    try {
      await registerSearchAttributes(this.connection.operatorService, this.config.temporal.namespace);
    } catch {
      return start(false);
    }
    // A registration reaches the server's frontend within seconds.
    const deadline = Date.now() + 15_000;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2_000)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        return await start(true);
      } catch (error) {
        if (!isUnknownSearchAttribute(error)) throw error;
        if (Date.now() > deadline) break;
      }
    }
    return start(false);
  }

  /** Temporal Schedules that start targets by name (see `schedules.ts`). */
  readonly schedules: Schedules = {
    create: (target, input, options) => this.explained(() => this.createSchedule(target, input, options)),
    describe: (id) => this.explained(() => this.onSchedule(id, async (schedule) => this.scheduleDescribed(await schedule.describe()))),
    list: (limit) => this.explained(() => this.listSchedules(limit)),
    // As if it were due: under the schedule's overlap policy (Temporal's trigger alone allows all).
    trigger: (id) =>
      this.explained(() =>
        this.onSchedule(id, async (schedule) => {
          const described = await schedule.describe();
          await schedule.trigger(described.policies.overlap);
          const buffered = Number(described.raw.info?.bufferSize ?? 0);
          return triggerOutcome(overlapOf(described.policies.overlap), described.info.runningActions.map((action) => action.workflow.workflowId), buffered);
        }),
      ),
    pause: (id, note) => this.explained(() => this.onSchedule(id, (schedule) => schedule.pause(note ?? "paused by duragent"))),
    unpause: (id, note) => this.explained(() => this.onSchedule(id, (schedule) => schedule.unpause(note ?? "unpaused by duragent"))),
    delete: (id) => this.explained(() => this.onSchedule(id, (schedule) => schedule.delete())),
  };

  private async createSchedule(target: RunTarget, input: unknown, given: ScheduleOptions): Promise<ScheduleDescription> {
    const options = checkScheduleOptions(given);
    const { workflowType: type, argument } = scheduledStart(target, input, options.toolContext);
    const scheduleId = scheduleIdOf(target, options);
    await this.checkStartInput(target, argument, input);
    const create = (tagged: boolean) =>
      this.client.schedule.create({
        scheduleId,
        spec: {
          ...(options.cron ? { cronExpressions: options.cron } : {}),
          ...(options.every ? { intervals: options.every.map((every) => ({ every: every as `${number}s` })) } : {}),
          ...(options.timezone ? { timezone: options.timezone } : {}),
        },
        action: {
          type: "startWorkflow",
          workflowType: type,
          args: [argument],
          taskQueue: this.config.temporal.taskQueue,
          // Temporal adds each run's time: `morning-brief-2026-12-08T07:00:00Z`.
          workflowId: scheduleId,
          staticSummary: runSummary(target, input),
          ...(tagged ? { typedSearchAttributes: startedAs(target.name) } : {}),
        },
        policies: { overlap: overlapPolicies[options.overlap ?? "skip"] },
        state: { paused: options.paused ?? false, ...(options.note !== undefined ? { note: options.note } : {}) },
        memo: { duragent: scheduleMemo(target, options) },
      });
    try {
      if (!this.settings.searchAttributes) await create(false);
      else await create(true).catch((error: unknown) => (isUnknownSearchAttribute(error) ? this.startOnceRegistered(create) : Promise.reject(error)));
    } catch (error) {
      if (error instanceof ScheduleAlreadyRunning) throw new ScheduleAlreadyExists(scheduleId);
      // A cron expression or time zone the server cannot read: its words say which (Temporal's
      // client throws the spec's refusal as a TypeError, anything else invalid as a ServiceError).
      const refusal = error instanceof TypeError ? `its times: ${error.message}` : invalidArgument(error);
      if (refusal !== undefined) throw new UserError(`Temporal refused the schedule '${scheduleId}': ${refusal}.`, { name: "InvalidOptions" });
      throw error;
    }
    return this.schedules.describe(scheduleId);
  }

  private async onSchedule<T>(scheduleId: string, act: (schedule: ScheduleHandle) => Promise<T>): Promise<T> {
    try {
      return await act(this.client.schedule.getHandle(scheduleId));
    } catch (error) {
      throw error instanceof ScheduleNotFoundError ? new ScheduleNotFound(scheduleId) : error;
    }
  }

  private scheduleDescribed(described: TemporalScheduleDescription): ScheduleDescription {
    const running = described.info.runningActions.map((action) => action.workflow.workflowId);
    return { ...scheduleDescription(described, running), link: scheduleUiLink(this.config.temporal, described.scheduleId) };
  }

  private async listSchedules(limit: number): Promise<ScheduleSummary[]> {
    const found: ScheduleSummary[] = [];
    for await (const schedule of this.client.schedule.list({ pageSize: Math.min(limit, 1000) })) {
      const summary = scheduleSummary(schedule);
      if (summary) found.push(summary);
      if (found.length >= limit) break;
    }
    return found;
  }

  getHandle(runId: string): Promise<RunHandle> {
    return this.explained(async () => {
      await this.describe(this.client.workflow.getHandle(runId));
      return this.handle(runId);
    });
  }

  list(limit: number, options: ListOptions = {}): Promise<RunSummary[]> {
    return this.explained(() => this.listRuns(limit, options));
  }

  /**
   * Refused once the client is closed; Temporal's failures in user terms (a server gone since the
   * client connected, a run whose code keeps failing), as a new client's would be.
   */
  private async explained<T>(call: () => Promise<T>): Promise<T> {
    if (this.closed) throw clientClosed();
    try {
      return await call();
    } catch (error) {
      throw (!isUserError(error) && explainTemporalError(error, this.config.temporal)) || error;
    }
  }

  private async listRuns(limit: number, options: ListOptions): Promise<RunSummary[]> {
    const runs: RunSummary[] = [];
    const executions: { workflowId: string; runId: string; status: WorkflowExecutionStatusName }[] = [];
    for await (const execution of this.client.workflow.list({ query: this.listQuery(options), pageSize: limit })) {
      // A child run carries no DuragentAgent of its own: its id names it (`deep-1a2b3c4d/fan-1` is `fan`).
      const target = execution.typedSearchAttributes.get(agentSearchAttribute) ?? /\/([^/]+)-\d+$/.exec(execution.workflowId)?.[1];
      runs.push({
        runId: execution.workflowId,
        type: execution.type,
        ...(target !== undefined ? { target } : {}),
        // An open run's phase is what it last set in DuragentPhase (waiting_input, paused, …).
        phase: closedPhase(execution.status.name) ?? openPhase(execution.typedSearchAttributes.get(phaseSearchAttribute)),
        startedAt: execution.startTime.toISOString(),
        link: webUiLink(this.config.temporal, execution.workflowId),
      });
      executions.push({ workflowId: execution.workflowId, runId: execution.runId, status: execution.status.name });
      if (runs.length >= limit) break;
    }
    if (options.usage) {
      // Only a worker answers a status query: asked once whether one polls, when a query is needed.
      let polled: Promise<boolean> | undefined;
      const workerPolls = () => (polled ??= this.pollers().then((pollers) => pollers?.count !== 0));
      const usages = await mapLimited(executions, 4, (execution) => this.usageOf(execution, workerPolls));
      usages.forEach((read, index) => {
        if (typeof read === "string") runs[index]!.usageUnreadable = read;
        else if (read) Object.assign(runs[index]!, read);
      });
    }
    return runs;
  }

  /**
   * The size of a payload (a run's input, an answer) as Temporal receives it: after the payload codec, which may
   * compress it (`codec.compress`), when it is over the limit before.
   */
  /** What a run is started with can be sent: JSON (else `InvalidRunInput`), within Temporal's limit (else `InputTooLarge`, naming what makes it big). */
  private async checkStartInput(target: RunTarget, sent: unknown, given: unknown): Promise<void> {
    const bytes = await this.inputBytes(sent).catch((error: unknown) => {
      throw unsendableInput(target, error);
    });
    if (bytes > maxInputBytes) checkInputSize(bytes, "input", { target, givenBytes: await this.inputBytes(given) });
  }

  private async inputBytes(value: unknown): Promise<number> {
    const { payloadConverter, payloadCodecs } = this.client.options.loadedDataConverter;
    const payload = payloadConverter.toPayload(value);
    const plain = payload.data?.length ?? 0;
    if (plain <= maxInputBytes || payloadCodecs.length === 0) return plain;
    let encoded = [payload];
    for (const codec of payloadCodecs) encoded = await codec.encode(encoded);
    return encoded[0]?.data?.length ?? plain;
  }

  /**
   * The visibility query for `list`: the task queue's runs, of a phase and a target when asked. An
   * ended run's phase is its execution status, which a termination sets too; an open one's is the
   * DuragentPhase search attribute the run keeps.
   */
  private listQuery(options: ListOptions): string {
    // A run continued as new is listed once, by its latest execution.
    const clauses = [`TaskQueue = ${quoted(this.config.temporal.taskQueue)}`, "ExecutionStatus != 'ContinuedAsNew'"];
    const { phase, target } = options;
    const ended = phase !== undefined && phase !== "waiting" && hasEnded(phase) ? phase : undefined;
    if ((phase !== undefined && ended === undefined) || target !== undefined) {
      if (!this.config.temporal.searchAttributes) {
        throw new UserError("Listing by an open phase or by target needs the DuragentPhase and DuragentAgent search attributes, and temporal.searchAttributes is false.", {
          hint: "Turn temporal.searchAttributes on (workers register the attributes), or list without --phase running|waiting* / --target.",
        });
      }
    }
    if (ended !== undefined) {
      // The execution statuses `closedPhase` reads as this phase.
      const statuses = closedStatuses.filter(([, , closed]) => closed === ended).map(([, status]) => `ExecutionStatus = ${quoted(status)}`);
      clauses.push(`(${statuses.join(" OR ")})`);
    } else if (phase !== undefined) {
      const tagged = phasesListed(phase).map((one) => `${phaseSearchAttribute.name} = ${quoted(one)}`);
      // A run that never changed phase (a child run, one started untagged) has no DuragentPhase: it is running.
      const untagged = phase === "running" ? [`${phaseSearchAttribute.name} IS NULL`] : [];
      clauses.push(`ExecutionStatus = 'Running' AND (${[...tagged, ...untagged].join(" OR ")})`);
    }
    if (target !== undefined) clauses.push(`${agentSearchAttribute.name} = ${quoted(target)}`);
    return clauses.join(" AND ");
  }

  /**
   * A listed run's usage, which visibility does not hold: a completed run's result reports it
   * (read from its close event; no worker needed), an open run, or a completed module workflow
   * whose result is its own value, answers its status query (given a few seconds, in case no
   * worker is there to answer), which also tells what it waits on a person for. Failed and
   * cancelled runs report none. A person's error (a payload under a key this client lacks) comes
   * back as its message.
   */
  private async usageOf(
    execution: { workflowId: string; runId: string; status: WorkflowExecutionStatusName },
    workerPolls: () => Promise<boolean>,
  ): Promise<Pick<RunSummary, "usage" | "pending" | "stuck"> | string | undefined> {
    const workflow = this.client.workflow.getHandle(execution.workflowId, execution.runId, { followRuns: false });
    try {
      // A module's workflow returns its own value, without the usage: its status query tells it.
      const fromResult = execution.status === "COMPLETED" ? usageOfResult(await workflow.result()) : undefined;
      if (fromResult) return { usage: fromResult };
      if (execution.status !== "RUNNING" && execution.status !== "COMPLETED") return undefined;
      if (!(await workerPolls())) return undefined;
      const own = await this.client.withDeadline(Date.now() + 3_000, () => workflow.query<RunStatus>(RunMessages.status));
      // Visibility lags: a run it still lists as running may have ended, and a query still answers.
      if (hasEnded(own.phase)) return own.phase === "completed" ? { usage: own.usage } : undefined;
      // As `status` reads it: its child runs' questions and spending in flight included.
      const status = own.children ? await withChildren(own, (id) => this.childStatus(id, false)) : own;
      return { usage: status.usage, ...(status.pending.length > 0 ? { pending: status.pending } : {}) };
    } catch (error) {
      if (execution.status === "RUNNING" && isReplayFailing(error)) return { stuck: `its workers cannot replay it: ${replayFailureWords[replayFailure(String((error as Error).message)) ?? "changed"].short}` };
      if (execution.status === "RUNNING" && isWorkflowTaskFailing(error)) return { stuck: "its workflow code keeps failing on its workers" };
      return isUserError(error) ? error.message : undefined;
    }
  }

  private async describe(handle: WorkflowHandle) {
    try {
      return await handle.describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) {
        throw new RunNotFound(handle.workflowId, `in Temporal namespace '${this.config.temporal.namespace}'`);
      }
      throw error;
    }
  }

  /**
   * The run's transcript a page at a time (one query answer may carry at most 2 MB), every page
   * from the same Temporal run, so a continue-as-new between two pages cannot mix transcripts.
   */
  private async transcriptOf(workflow: WorkflowHandle): Promise<TranscriptMessage[]> {
    const { runId } = await this.describe(workflow);
    const run = this.client.workflow.getHandle(workflow.workflowId, runId, { followRuns: false });
    const messages = await readTranscriptSlices((slice) => run.query<Message[], [TranscriptSlice]>(transcriptSliceQuery, slice));
    // Workers older than the query do not know it: their messages come without agents.
    const agents = await run.query<TranscriptAgents[]>(RunMessages.transcriptAgents).catch((error: unknown) => (error instanceof QueryNotRegisteredError ? [] : Promise.reject(error)));
    return withAgents(messages, agents);
  }

  /** A run's messages, then its child runs' (see `RunHandle.transcript`), four children read at a time. */
  private async transcriptTree(workflowId: string): Promise<TranscriptMessage[]> {
    const [own, children] = await Promise.all([this.transcriptOf(this.client.workflow.getHandle(workflowId)), this.childRunIds(workflowId)]);
    const theirs = await mapLimited(children, 4, async (id) => fromChildRun(id, await this.transcriptTree(id)));
    return [...own, ...theirs.flat()];
  }

  /**
   * A run's child runs, in the order they started, from the server's visibility store (which
   * lists a child started a moment ago only a moment later). A child that continued as new is
   * listed once a run; its first start places it.
   */
  private async childRunIds(workflowId: string): Promise<string[]> {
    const started = new Map<string, number>();
    for await (const execution of this.client.workflow.list({ query: `ParentWorkflowId = ${quoted(workflowId)}` })) {
      const at = execution.startTime.getTime();
      started.set(execution.workflowId, Math.min(started.get(execution.workflowId) ?? at, at));
    }
    return [...started].sort(([a, at], [b, bt]) => at - bt || a.localeCompare(b, undefined, { numeric: true })).map(([id]) => id);
  }

  private handle(workflowId: string): RunHandle {
    const workflow = this.client.workflow.getHandle(workflowId);
    // An update refused by its validator leaves the run untouched; say why to the sender.
    // A message to a run that has ended says so, as the memory engine does; an unknown run is not found.
    const notOpen = async (error: unknown, action: string): Promise<never> => {
      if (!(error instanceof WorkflowNotFoundError)) throw error;
      const phase = closedPhase((await this.describe(workflow)).status.name);
      throw phase ? new RunAlreadyEnded(workflowId, phase, action) : new RunNotFound(workflowId, "that is still running");
    };
    // Cancel and terminate ask the server first: both are accepted for a closed run without a word.
    const whileOpen = async (action: string, end: () => Promise<unknown>): Promise<void> => {
      const phase = closedPhase((await this.describe(workflow)).status.name);
      if (phase) throw new RunAlreadyEnded(workflowId, phase, action);
      await end().catch((error: unknown) => notOpen(error, action));
    };
    const update = async <R>(name: string, payload: unknown, action = "update"): Promise<R> => {
      // An update's payload comes back in the worker's acceptance of it: one over the limit would
      // fail the run's workflow task, over and over, while the sender waits in vain.
      checkInputSize(await this.inputBytes(payload), name === RunMessages.answer ? "answer" : name === RunMessages.decide ? "decision" : "message");
      const deadline = Date.now() + updateAcceptTimeoutMs;
      try {
        const started = await this.client
          .withDeadline(deadline, () => workflow.startUpdate<R, [unknown]>(name, { args: [payload], waitForStage: WorkflowUpdateStage.ACCEPTED }))
          .catch(async (error: unknown) => {
            if (!(error instanceof WorkflowUpdateRPCTimeoutOrCancelledError ? Date.now() >= deadline - 1_000 : isNoRecentPoller(error))) throw error;
            // Unhandled, the sender would wait as long as no worker serves, however long that is.
            const { taskQueue } = await this.describe(workflow);
            const what = action === "answer" ? "The answer" : action === "update" ? `The update '${name}'` : "The decision";
            throw new UserError(`${what} to run ${workflowId} was not taken by a worker within ${updateAcceptTimeoutMs / 1000} s: ${await this.whyNoWorkerAnswered(taskQueue)}.`, {
              name: "NoWorker",
              exitCode: ExitCode.unavailable,
              hint: `Temporal may still hand it to the run when a worker serves it: \`duragent status ${workflowId}\` says whether the question is still open before you send it again.`,
              cause: error,
            });
          });
        return await started.result();
      } catch (error) {
        if (error instanceof WorkflowUpdateFailedError) throw new InvalidRunMessage(error.cause?.message ?? error.message, error.cause instanceof ApplicationFailure ? (error.cause.type ?? undefined) : undefined);
        if (isUserError(error)) throw error;
        return notOpen(error, action);
      }
    };
    const signal = async (name: string, payload: unknown, action: string): Promise<void> => {
      if (payload !== undefined) checkInputSize(await this.inputBytes(payload), "message");
      return (payload === undefined ? workflow.signal(name) : workflow.signal(name, payload)).catch((error: unknown) => notOpen(error, action));
    };
    // One that has ended meanwhile is left as it is.
    const toChildren = async (send: (child: RunHandle) => Promise<void>) => {
      const { children = [] } = (await ownStatus(false).catch(() => undefined)) ?? {};
      await Promise.all(children.map((id) => send(this.handle(id)).catch(() => undefined)));
    };
    let toldWatched = false;
    const endReason = () => workflow.result().then(() => undefined, (end: unknown) => asTheMemoryEngineSays(rootCause(end)));
    // What the run itself says, and what the server knows of its steps in flight.
    const ownStatus = async (watch: boolean): Promise<RunStatus> => {
      const description = await this.describe(workflow);
      const phase = closedPhase(description.status.name);
      try {
        // A closed run answers only after a replay, which may take longer; nothing else is coming.
        const deadline = Date.now() + (phase ? closedStatusQueryTimeoutMs : statusQueryTimeoutMs);
        const status = await this.client
          .withDeadline(deadline, () => workflow.query<RunStatus>(RunMessages.status))
          .catch(async (error: unknown) => {
            const timedOut = unanswered(error, deadline);
            if (!phase && isWorkflowTaskFailing(error)) return this.failingTaskStatus(workflow, openPhase(description.typedSearchAttributes.get(phaseSearchAttribute)));
            if (isReplayFailing(error)) return replayFailingStatus(workflow.workflowId, phase ?? openPhase(description.typedSearchAttributes.get(phaseSearchAttribute)), error);
            if (phase || !timedOut) throw error;
            return undefined;
          });
        // A terminated run's code never learnt why; its close event says. Nor did it withdraw its
        // questions and approvals: they stay in its state, but nobody can answer them any more.
        if (status && phase) {
          if (phase === "terminated") return { ...status, phase, pending: [], lastError: await endReason() };
          return { ...status, phase, ...(status.lastError !== undefined ? { lastError: asTheMemoryEngineSays(status.lastError) } : {}) };
        }
        // Someone watches now: the run's next model call streams. Told once by this handle.
        if (watch && status?.unwatched && !toldWatched) {
          toldWatched = true;
          await workflow.signal(RunMessages.watch).catch(() => undefined);
        }
        // Unanswered, the phase is the one the run last told the server (DuragentPhase).
        const known = () => openPhase(description.typedSearchAttributes.get(phaseSearchAttribute));
        return this.withPendingActivities(status ?? serverKnownStatus(workflowId, known(), await this.whyNoWorkerAnswered(description.taskQueue)), description);
      } catch (error) {
        // A closed run whose workers are gone cannot answer queries; its end state still can. A
        // person's error (a payload under a key this client lacks) is theirs to see, not a gap.
        if (!phase || isUserError(error)) throw error;
        return serverKnownStatus(workflowId, phase, "no worker answered; only how the run ended is known", phase === "completed" ? undefined : await endReason());
      }
    };
    return runHandle(this.explainedCalls({
      runId: workflowId,
      link: webUiLink(this.config.temporal, workflowId),
      result: () =>
        workflow.result().catch((error: unknown) => {
          if (error instanceof WorkflowNotFoundError) throw new RunNotFound(workflowId, `in Temporal namespace '${this.config.temporal.namespace}'`);
          if (!(error instanceof WorkflowFailedError)) throw error;
          const phase = error.cause instanceof CancelledFailure ? "cancelled" : error.cause instanceof TerminatedFailure ? "terminated" : "failed";
          throw new RunFailed(workflowId, phase, asTheMemoryEngineSays(rootCause(error.cause ?? error)), error);
        }),
      status: async (options = {}) => {
        const status = await ownStatus(options.watch !== false);
        return status.children ? withChildren(status, (id) => this.childStatus(id)) : status;
      },
      transcript: (options = {}) => (options.childRuns ? this.transcriptTree(workflowId) : this.transcriptOf(workflow)),
      answer: (answer: Answer) => update<void>(RunMessages.answer, answer, "answer"),
      decide: (decision: ApprovalDecision) => update<void>(RunMessages.decide, decision, "approve or reject"),
      // A paused pattern holds its child runs in flight too (each passes it on to its own), so that a
      // paused fan-out spends nothing; the memory executor does the same in process.
      pause: async () => {
        await signal(RunMessages.pause, undefined, "pause");
        await toChildren((child) => child.pause());
      },
      resume: async () => {
        await signal(RunMessages.resume, undefined, "resume");
        await toChildren((child) => child.resume());
      },
      cancel: () => whileOpen("cancel", () => workflow.cancel()),
      terminate: (reason?: string) => whileOpen("terminate", () => workflow.terminate(reason ?? "terminated by duragent")),
      update: <R>(name: string, payload?: unknown) => update<R>(name, payload),
      signal: (name: string, payload?: unknown) => signal(name, payload, "signal"),
      query: <R>(name: string, payload?: unknown) => {
        const deadline = Date.now() + queryTimeoutMs;
        return this.client.withDeadline(deadline, () => workflow.query<R, [unknown]>(name, payload)).catch(async (error: unknown) => {
          // Unanswered, it says why as `status` does, not as the server's bare deadline.
          const timedOut = unanswered(error, deadline);
          if (!timedOut) throw error;
          const { taskQueue } = await this.describe(workflow);
          throw new UserError(`No worker answered the query '${name}' of run ${workflowId}: ${await this.whyNoWorkerAnswered(taskQueue)}.`, {
            name: "NoWorker",
            exitCode: ExitCode.unavailable,
            hint: `\`duragent status ${workflowId}\` says what the server knows of the run.`,
            cause: error,
          });
        });
      },
      child: async (id) => this.handle(id),
    }));
  }

  /** Each of a handle's calls through `explained`. */
  private explainedCalls<P extends object>(parts: P): P {
    const calls = { ...parts } as Record<string, unknown>;
    for (const [key, value] of Object.entries(parts)) {
      if (typeof value === "function") calls[key] = (...args: unknown[]) => this.explained(async () => (value as (...args: unknown[]) => unknown)(...args));
    }
    return calls as P;
  }

  /**
   * An open run that cannot answer its status query because its workflow code keeps failing:
   * what the server knows, and the failure from the run's history, so a person sees why it is stuck.
   */
  private async failingTaskStatus(workflow: WorkflowHandle, phase: RunPhase): Promise<RunStatus> {
    const failure = await this.client.workflowService
      .getWorkflowExecutionHistoryReverse({ namespace: this.config.temporal.namespace, execution: { workflowId: workflow.workflowId }, maximumPageSize: 50 })
      .then(({ history }) => history?.events?.find((event) => event.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes?.failure)
      .catch(() => undefined);
    // A worker without the codec cannot read the run's input: its code never failed.
    if (failure?.message && /Unknown encoding: binary\/encrypted/.test(failure.message)) {
      return serverKnownStatus(
        workflow.workflowId,
        "running",
        "its worker cannot decrypt the run's payloads: the run was started by a client with a `codec:` section, and the worker that took it has none. Give every worker the clients' codec keys and restart it; Temporal retries the run's workflow task until one can",
        failureLine(failure.message, failure.stackTrace),
      );
    }
    // A task that failed on replay (a message sent after the code changed): the same account as a query's.
    if (failure?.message && replayFailure(failure.message)) return replayFailingStatus(workflow.workflowId, phase, new Error(failure.message));
    return serverKnownStatus(
      workflow.workflowId,
      "running",
      "its workflow code keeps failing on the worker, so its steps, questions and usage are not known; Temporal retries it until a worker runs code that gets past the failure (fix the code and restart the workers), or until the run is ended with `duragent terminate`. The error below is the first failure; history does not record the retries",
      failure?.message ? failureLine(failure.message, failure.stackTrace) : undefined,
    );
  }

  /** Why a run's status query went unanswered: no worker polls the run's task queue, or one does and is busy or lacks its code. */
  private async whyNoWorkerAnswered(taskQueue: string): Promise<string> {
    const pollers = await this.pollers(taskQueue);
    if (pollers?.count === 0) {
      const configured = this.config.temporal.taskQueue;
      const other = taskQueue === configured ? "" : ` (the run's own; this client's is '${configured}')`;
      return `no worker polls task queue '${taskQueue}'${other}: its steps, questions and usage are not known until one does`;
    }
    if (!pollers) return noWorkerAnswered;
    return `${lastPolled(taskQueue, pollers)}, but none answered within ${statusQueryTimeoutMs / 1000} s: busy, stopped since, or without this run's workflow (a prebuilt bundle older than the code, or a module not loaded); the run's steps, questions and usage are not known until a worker answers`;
  }

  /** A child run's status for its parent's watchers; one that ended never changes, so it is read once. */
  private async childStatus(id: string, watch = true): Promise<RunStatus> {
    const known = this.endedChildren.get(id);
    if (known) return known;
    const status = await this.handle(id).status({ watch });
    if (hasEnded(status.phase) && !status.partial) {
      this.endedChildren.set(id, status);
      if (this.endedChildren.size > 200) this.endedChildren.delete(this.endedChildren.keys().next().value!);
    }
    return status;
  }

  private readonly endedChildren = new Map<string, RunStatus>();

  /** Adds what only the server knows, tool-call progress, retries and streamed text, from the run's pending activities. */
  private async withPendingActivities(status: RunStatus, description: WorkflowExecutionDescription): Promise<RunStatus> {
    const pending = await pendingActivitiesState(description, this.client.options.loadedDataConverter, status.currentStep);
    const label = pending.retryingActivityId === undefined ? undefined : await this.activityLabel(description.workflowId, pending.retryingActivityId);
    return {
      ...status,
      ...(pending.progress.length > 0 ? { progress: pending.progress } : {}),
      ...(pending.logs.length > 0 ? { logs: pending.logs } : {}),
      ...(pending.retrying ? { retrying: label ? { ...pending.retrying, step: label } : pending.retrying } : {}),
      // The one retry whose label was looked up carries it; the others their activity's type.
      ...(pending.retries.length > 0 ? { retries: pending.retries.map((retry) => (label && retry.id.startsWith(`${pending.retryingActivityId}#`) ? { ...retry, step: label } : retry)) } : {}),
      // The run records finished calls' answers; the pending activities stream the rest.
      ...(pending.streaming.length > 0 ? { streaming: [...(status.streaming ?? []), ...pending.streaming.filter((live) => !status.streaming?.some((done) => done.id === live.id))] } : {}),
    };
  }

  /**
   * A step's label (`tool fs/read_file`) from the summary its activity was scheduled with, for a
   * status no worker answered; undefined when the scheduling is not among the latest events.
   */
  private async activityLabel(workflowId: string, activityId: string): Promise<string | undefined> {
    const { history } = await this.client.workflowService
      .getWorkflowExecutionHistoryReverse({ namespace: this.config.temporal.namespace, execution: { workflowId }, maximumPageSize: 100 })
      .catch(() => ({ history: undefined }));
    return scheduledLabel(history?.events ?? [], activityId, this.client.options.loadedDataConverter);
  }

  /**
   * The workers the server has seen poll the runs' task queue lately, and when it last saw one;
   * undefined when it would not say. The server lists a stopped worker for minutes after its last poll.
   */
  private pollers(taskQueue = this.config.temporal.taskQueue): Promise<Pollers | undefined> {
    const { namespace } = this.config.temporal;
    return this.client.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue } }).then(
      ({ pollers }) => {
        const seen = (pollers ?? []).map((poller) => Number(poller.lastAccessTime?.seconds ?? 0) * 1000).filter((ms) => ms > 0);
        return { count: pollers?.length ?? 0, ...(seen.length > 0 ? { lastSeenMs: Math.max(...seen), seenMs: seen } : {}) };
      },
      () => undefined,
    );
  }

  async workerWarning(consequence: string, options: { evenIfPolled?: boolean } = {}): Promise<string | undefined> {
    if (this.closed) throw clientClosed();
    const { taskQueue, address } = this.config.temporal;
    return workerWarningText(taskQueue, address, await this.pollers(), consequence, options);
  }

  /** Sends buffered spans, when tracing is on. */
  private flushSpans?: () => Promise<void>;

  private closed = false;

  async close(): Promise<void> {
    this.closed = true;
    // A CLI command exits right after: send its spans first.
    await this.flushSpans?.();
    if (this.ownsConnection) await this.connection.close();
  }
}

/**
 * With tracing on, Temporal's client interceptor starts each workflow under a span and passes the
 * trace on in the workflow's headers, so one trace runs from `duragent start` through the worker.
 */
async function clientTracing(config: DuragentConfig): Promise<{ interceptor: WorkflowClientInterceptor; flush: () => Promise<void> } | undefined> {
  const settings = tracingSettings(config, "client");
  if (!settings) return undefined;
  const { startTracing, clientTraceInterceptor } = await import("../telemetry/tracing.js");
  const tracing = await startTracing(settings);
  return { interceptor: await clientTraceInterceptor(), flush: () => tracing.flush() };
}

/** `fn` over `items`, at most `limit` at a time, results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
