/**
 * An engine starts runs and hands back their handles. The client (src/client.ts) talks to this
 * interface only, so `--engine memory|temporal` is one switch. (The executor, in src/workflows,
 * is the seam inside a run; the engine is the seam around it.)
 */
import { runEvents, type RunEvent } from "./run-events.js";
import { bareFormAnswer, questionFor } from "./answer-text.js";
import { requestOwner } from "../common/child-runs.js";
import { failureTypeOf } from "../common/failures.js";
import { InvalidRunMessage, severalPending } from "../common/invalid-run-message.js";
import type { TranscriptMessage } from "../common/messages.js";
import { AnswerSchema, ApprovalDecisionSchema, type ApprovalDecision, type Answer, type PendingRequest, type RunPhase, type RunStatus } from "../common/run-status.js";
import type { ListPhase } from "../common/run-phases.js";
import type { RunSettings } from "../common/run-settings.js";
import type { UsageByModel } from "../common/usage.js";
import { runPrices, type PriceTable } from "../common/pricing.js";
import { ToolContextSchema } from "../common/tools.js";
import { z } from "zod";
import { ExitCode, UserError } from "../errors/user-error.js";
import { formatIssues, zodIssues, type Issue } from "../errors/zod-issues.js";
import type { RunTarget } from "./run-targets.js";
import type { Schedules } from "./schedules.js";
import type { DuragentConfig } from "../config/schema.js";

export type EngineName = "memory" | "temporal";

export interface TranscriptOptions {
  /** Take in the messages of the run's child runs, and theirs (default: the run's own only). */
  childRuns?: boolean;
}

/** A run, started by this process or found by its id. */
export interface RunHandle<R = unknown> {
  /** The run's id; on Temporal, the workflow id. */
  readonly runId: string;
  /** Where a person can watch the run, when the engine has a UI. */
  readonly link?: string;
  /** Temporal: the server handed the new run straight to a worker in this process (`createClient({ worker })`). */
  readonly startedEagerly?: boolean;
  /** Waits for the run to end; rejects with `RunFailed` (the root cause's message) when it fails or is cancelled. */
  result(): Promise<R>;
  /**
   * Phase, steps, pending requests, usage and last error; cheap enough to poll. A read counts as
   * someone watching, so an unwatched run's later model calls stream, unless `watch: false`
   * (a look that shows no text, such as reading a question's schema).
   */
  status(options?: { watch?: boolean }): Promise<RunStatus>;
  /**
   * Every message the run's agents exchanged so far, each with its agent's name when the run's code
   * gave it. With `childRuns`, a nested pattern's child runs' messages follow the run's own, each
   * child's in the order they started, its own children's after it, each marked with its `runId`.
   */
  transcript(options?: TranscriptOptions): Promise<TranscriptMessage[]>;
  /** Answers a pending question; rejects with `InvalidRunMessage` when the answer does not fit. */
  answer(answer: Answer): Promise<void>;
  /** Approves or rejects a pending tool call; rejects with `InvalidRunMessage` when none fits. */
  decide(decision: ApprovalDecision): Promise<void>;
  /** Approves a pending tool call, optionally with edited arguments. */
  approve(options?: { requestId?: string; arguments?: Record<string, unknown> }): Promise<void>;
  /** Rejects a pending tool call; the model reads the reason. */
  reject(reason: string, options?: { requestId?: string }): Promise<void>;
  /** Holds the run before its next step; a step in flight finishes. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stops in-flight steps; the run ends as cancelled. Rejects with `RunAlreadyEnded` when it has ended. */
  cancel(): Promise<void>;
  /**
   * Ends the run at once, without its code's say: for a run that cannot be cancelled, such as one
   * whose workflow code keeps failing. Steps in flight are abandoned; the run ends as terminated.
   * Rejects with `RunAlreadyEnded` when it has ended.
   */
  terminate(reason?: string): Promise<void>;
  /**
   * Sends the named update (a workflow's own request type, e.g. `duragent.chat.send`) and returns
   * the run's answer. Rejects with `InvalidRunMessage` when the run refuses it; the run is then
   * untouched. Follows the run across continue-as-new.
   */
  update<R = unknown>(name: string, payload?: unknown): Promise<R>;
  /** Sends the named signal; fire and forget. */
  signal(name: string, payload?: unknown): Promise<void>;
  /** Asks the named query of the run's current state (across continue-as-new, the latest run). */
  query<R = unknown>(name: string, payload?: unknown): Promise<R>;
  /**
   * The run's events until it ends: steps, streamed answer text, restarts, tools' progress,
   * questions and approvals, and the end; the same shapes on both engines. Stop early by breaking out of the loop.
   * `agents` keeps only those agents' text (say, a pattern's final writer); steps and the rest stay.
   */
  events(options?: { signal?: AbortSignal; agents?: readonly string[] }): AsyncIterable<RunEvent>;
}

/** What an engine supplies for a handle; `approve`, `reject` and `events` are built on the rest. */
export type RunHandleParts = Omit<RunHandle, "approve" | "reject" | "events"> & {
  /** A child run (a nested pattern's), by its full id: where a request its parent shows is answered. */
  child(runId: string): Promise<ChildRun>;
};
type ChildRun = Pick<RunHandleParts, "answer" | "decide">;

/** What a run waits for instead, when a message found nothing of its kind. */
function waitsFor(pending: readonly PendingRequest[]): string {
  const what = pending.map((request) => `${request.id} (${request.kind === "approval" ? "an approval: approve or reject it" : "a question: answer it"})`);
  return `It waits for ${what.join(", ")}.`;
}

/** How often `events()` reads a run's status: in-process reads are cheap, RPCs less so. */
export function runHandle({ child, ...parts }: RunHandleParts, eventPollMs = 250): RunHandle {
  /**
   * Sends an answer or a decision to the run that asked: a request a child run put (`sw-1/input-1`)
   * goes to that child. One sent without a request id, when the run's only pending request is a
   * child's, goes there: the run itself refuses it first, so a run's own requests cost no extra read.
   */
  const routed = async <M extends { requestId?: string | undefined }>(kind: PendingRequest["kind"], message: M, send: (to: ChildRun, message: M) => Promise<void>) => {
    let requestId = message.requestId;
    if (requestId === undefined) {
      try {
        return await send(parts, message);
      } catch (error) {
        if (!(error instanceof InvalidRunMessage)) throw error;
        // As the run itself picks: the one pending request of this kind.
        const all = (await parts.status({ watch: false }).catch(() => undefined))?.pending ?? [];
        const pending = all.filter((request) => request.kind === kind);
        if (pending.length === 0 && all.length > 0) throw new InvalidRunMessage(`${error.message} ${waitsFor(all)}`);
        // Several child runs wait (a fan-out's branches): the run itself has none, so name them.
        if (pending.length > 1 && pending.every((request) => request.id.includes("/"))) {
          throw severalPending(pending.map((request) => request.id));
        }
        if (pending.length !== 1 || !pending[0]!.id.includes("/")) throw error;
        requestId = pending[0]!.id;
      }
    }
    if (!requestId.includes("/")) return send(parts, message);
    const owner = requestOwner(parts.runId, requestId);
    const prefix = requestId.slice(0, requestId.lastIndexOf("/") + 1);
    return send(await child(owner.runId), { ...message, requestId: owner.requestId }).catch((error: unknown) => {
      // The child names its requests by its own ids; the sender knows them by the parent's.
      if (!(error instanceof InvalidRunMessage)) throw error;
      throw new InvalidRunMessage(error.message.replace(/(?<![\w/-])((?:input|approval)-\d+)(?![\w-])/g, `${prefix}$1`));
    });
  };
  const decide = async (decision: ApprovalDecision) => routed("approval", checked(decision, ApprovalDecisionSchema, "the decision"), (to, message) => to.decide(message));
  return {
    ...parts,
    answer: async (answer) => {
      checked(answer, AnswerSchema, "the answer");
      const send = (message: Answer) => routed("input", message, (to, routedMessage) => to.answer(routedMessage));
      try {
        await send(answer);
      } catch (error) {
        // An MCP server's form of one field takes its value bare (`false`, "no"), as typed answers
        // do: once the run has refused it, the question is read and the value sent as the form's.
        if (!(error instanceof InvalidRunMessage) || (answer.action ?? "accept") !== "accept") throw error;
        const question = questionFor(await parts.status({ watch: false }).catch(() => undefined), answer.requestId);
        const form = question && bareFormAnswer(answer.value, question);
        if (!form) throw error;
        await send({ ...answer, requestId: question.id, value: form });
      }
    },
    decide,
    events: (options = {}) => runEvents(parts, { ...options, pollMs: eventPollMs }),
    approve: (options = {}) =>
      decide({
        approved: true,
        ...(options.requestId !== undefined ? { requestId: options.requestId } : {}),
        ...(options.arguments !== undefined ? { arguments: options.arguments } : {}),
      }),
    reject: (reason, options = {}) =>
      decide({ approved: false, reason, ...(options.requestId !== undefined ? { requestId: options.requestId } : {}) }),
  };
}

/** A message from a program (JSON from a browser, say) as its schema says, or refused saying what is wrong, before anything is sent. */
function checked<T>(message: T, schema: z.ZodType, what: string): T {
  const parsed = schema.safeParse(message);
  if (!parsed.success) throw new InvalidRunMessage(formatIssues(what, zodIssues(parsed.error, schema)));
  return message;
}

export interface StartOptions {
  /** The run's id; a readable unique one (`<target>-<8 hex>`) when absent. */
  runId?: string;
  /** What a generated id begins with, instead of the target's name (`chat-<agent>` for chats). */
  runIdPrefix?: string;
  /** The name `list` shows and `list --target` finds the run by, instead of the target's (a chat's agent). */
  listedAs?: string;
  /**
   * Whether someone will watch the run from its start (`events()`, `status()`), so that its model
   * calls stream their text from the first: true for `start`, false for `execute`, whose caller
   * waits for the answer alone. Streaming costs CPU for every piece of text. A run started
   * unwatched streams from its next model call once anyone reads its status.
   */
  watch?: boolean;
  /** The most tokens the run may use, its child runs' included, over `execution.tokenBudget`: past it, it fails before its next model call. */
  tokenBudget?: number;
  /** The most the run's model calls may cost in USD, its child runs' included, over `execution.costBudget`; priced by the config's `pricing:` over the defaults. */
  costBudget?: number;
  /**
   * Values the run's function tools read (`run(args, { toolContext })`) and no model sees: the
   * user a run acts for, a tenant. Its child runs' tools get them too. A JSON object of at most
   * 16 KiB, kept in the run's history as its input is: no secrets.
   */
  toolContext?: Record<string, unknown>;
}

/** `StartOptions` as the client checks them, since a program in JavaScript may pass anything. */
const StartOptionsSchema = z.strictObject({
  runId: z.string().min(1).max(1000).optional(),
  runIdPrefix: z.string().min(1).max(200).optional(),
  listedAs: z.string().min(1).optional(),
  watch: z.boolean().optional(),
  tokenBudget: z.number().int().min(0).optional(),
  costBudget: z.number().min(0).optional(),
  toolContext: ToolContextSchema.optional(),
});

/** The options as given, or `InvalidOptions` naming each that is wrong. */
export function checkStartOptions(options: unknown): StartOptions {
  const parsed = StartOptionsSchema.safeParse(options ?? {}, { reportInput: true });
  if (parsed.success) return options as StartOptions;
  throw new UserError(formatIssues("the start options", zodIssues(parsed.error, StartOptionsSchema)), { name: "InvalidOptions" });
}

/** A run id as a caller gave it: a non-empty string, or `InvalidOptions`. */
export function checkRunId(runId: unknown): string {
  if (typeof runId === "string" && runId !== "") return runId;
  throw new UserError(`A run id must be a non-empty string; got ${runId === "" ? "an empty one" : typeof runId === "object" ? String(runId) : typeof runId}.`, { name: "InvalidOptions" });
}

/** The run settings a start asks for: the engine's, with the run's own budgets when it has them (a cost budget with the prices it counts by). */
export function startSettings(settings: RunSettings, options: StartOptions, pricing?: PriceTable): RunSettings {
  const { tokenBudget, costBudget, toolContext } = options;
  if (tokenBudget === undefined && costBudget === undefined && toolContext === undefined) return settings;
  return {
    ...settings,
    ...(toolContext !== undefined ? { toolContext } : {}),
    ...(tokenBudget !== undefined ? { tokenBudget } : {}),
    ...(costBudget !== undefined ? { costBudget, prices: settings.prices ?? runPrices(pricing) } : {}),
  };
}

export interface RunSummary {
  runId: string;
  /** The workflow type: `agentWorkflow`, `patternWorkflow` or a module's workflow. */
  type: string;
  /** The agent, pattern or workflow it runs, where known (on Temporal, from the DuragentAgent search attribute). */
  target?: string;
  phase: RunPhase;
  startedAt?: string;
  link?: string;
  /**
   * Tokens by model, child runs included, when `list` was asked for usage and the run told it:
   * in memory always; on Temporal from a completed run's result and an open run's status query.
   */
  usage?: UsageByModel;
  /** Why the usage asked for could not be read, when a person can act on it (a payload under a key this client lacks). */
  usageUnreadable?: string;
  /** The requests an open run waits on a person for, its children's included: read with its usage, by the same status read. */
  pending?: PendingRequest[];
  /** Why an open run cannot go on, when its status read found its workflow code failing on its workers (`status` tells more). */
  stuck?: string;
}

export interface ListOptions {
  /** Also find each run's token usage, and what an open run waits for (on Temporal, one more request per run). */
  usage?: boolean;
  /** Only runs in this phase, or `waiting` for both kinds of waiting (on Temporal, an open run's phase is its DuragentPhase search attribute). */
  phase?: ListPhase;
  /** Only runs of this agent, pattern or workflow (on Temporal, its DuragentAgent search attribute). */
  target?: string;
}

export interface Engine {
  readonly name: EngineName;
  start(target: RunTarget, input: unknown, options?: StartOptions): Promise<RunHandle>;
  /** Finds a run this engine holds; rejects with `RunNotFound`. */
  getHandle(runId: string): Promise<RunHandle>;
  /** Recent runs, newest first. */
  list(limit: number, options?: ListOptions): Promise<RunSummary[]>;
  /**
   * Why a run, or a message sent to one, may wait with nothing happening (no worker polls its task
   * queue), ending with `consequence` (e.g. "the run waits until one does"); undefined when
   * nothing stands in its way. Any doubt says nothing, unless `evenIfPolled`: then, for something
   * sent a while ago that no worker has taken, it says when a worker last polled.
   */
  workerWarning(consequence: string, options?: { evenIfPolled?: boolean }): Promise<string | undefined>;
  /** Schedules that start runs again and again: an engine without them (memory) keeps nothing past its process. */
  readonly schedules?: Schedules;
  /** Releases connections and child processes. */
  close(): Promise<void>;
}

/** A message the run refused (an invalid answer, no such request); the run is untouched. The one refusal, on both sides. */
export { InvalidRunMessage } from "../common/invalid-run-message.js";

export class RunNotFound extends UserError {
  override name = "RunNotFound" as const;
  constructor(
    readonly runId: string,
    where: string,
  ) {
    super(`No run '${runId}' ${where}. Check the id with \`duragent list\`.`, { exitCode: ExitCode.notFound });
  }
}

/** The run failed, was cancelled or was terminated; the message is the root cause's (or the termination's reason). */
export class RunFailed extends UserError {
  override name = "RunFailed" as const;
  /**
   * What kind of failure ended a failed run, for code and tests to tell apart: one of
   * `FailureType` (`StepGaveUp`, `LlmRequestRejected`, `TokenBudgetSpent`, …), or the type workflow
   * code gave its own `ApplicationFailure`. Undefined for a cancelled or terminated run.
   */
  readonly failureType: string | undefined;
  constructor(
    readonly runId: string,
    readonly phase: "failed" | "cancelled" | "terminated",
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`Run ${runId} ${phase === "failed" ? "failed" : `was ${phase}`}: ${reason}`, { exitCode: ExitCode.runFailed, cause });
    this.failureType = phase === "failed" ? failureTypeOf(cause) : undefined;
  }
}

/** A steering command on a run that has already ended. */
export class RunAlreadyEnded extends UserError {
  override name = "RunAlreadyEnded" as const;
  constructor(
    readonly runId: string,
    readonly phase: RunPhase,
    /** What could not be done, e.g. `cancel`, `answer`, `pause`. */
    action: string,
  ) {
    super(`Run ${runId} has already ended (${phase}); there is nothing to ${action}.`, { exitCode: ExitCode.alreadyEnded });
  }
}

/** A run's input that its target refuses, found before the run starts. */
export class InvalidRunInput extends UserError {
  override name = "InvalidRunInput" as const;
  constructor(
    readonly target: string,
    message: string,
    /** The schema's verdict, for a caller that names the input its own way (the CLI's `--input`). */
    readonly zodError?: z.ZodError,
    /** The same in user terms (key paths, near misses of misspelt keys): `formatIssues(where, issues)`. */
    readonly issues: Issue[] = [],
  ) {
    super(message);
  }
}

/**
 * The input a target receives: agents take a message, patterns their spec and input, workflows
 * their own input, checked against the workflow's schema. Bad input is refused here, at start, on
 * both engines.
 */
export function targetInput(target: RunTarget, input: unknown): unknown {
  // A message is text; anything else is sent as its JSON text, which a model reads as well.
  if (target.kind !== "workflow" && (input === undefined || input === null || (typeof input === "string" && input.trim() === ""))) {
    throw new InvalidRunInput(target.name, `The ${target.kind} '${target.name}' needs a message as its input: text, or a value sent as its JSON${input === undefined || input === null ? "" : "; it got an empty one"}.`);
  }
  if (target.kind === "agent") {
    const message = typeof input === "string" ? input : inputJson(target, () => JSON.stringify(input));
    return { agent: target.agent, message };
  }
  if (target.kind === "pattern") {
    return { spec: target.spec, input: typeof input === "string" ? input : inputJson(target, () => JSON.stringify(input)) };
  }
  if (!target.workflow.inputSchema) return input;
  const schema = target.workflow.inputSchema;
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issues = zodIssues(parsed.error, schema);
    throw new InvalidRunInput(target.name, formatIssues(`the input of '${target.name}'`, issues), parsed.error, issues);
  }
  return parsed.data;
}

/**
 * `write`'s JSON of a run's input, or `InvalidRunInput` saying why it has none: a value JSON cannot
 * hold (a cycle, a BigInt), or one nested deeper than the JavaScript stack reaches.
 */
function inputJson<T>(target: RunTarget, write: () => T): T {
  try {
    return write();
  } catch (error) {
    throw unsendableInput(target, error);
  }
}

/** `InvalidRunInput` for an error writing a run's input as JSON; the error itself for any other. */
export function unsendableInput(target: RunTarget, error: unknown): unknown {
  if (!(error instanceof TypeError || error instanceof RangeError)) return error;
  const why = error instanceof RangeError ? "it is nested too deeply to be written as JSON" : `JSON cannot hold it (${error.message.split("\n")[0]})`;
  return new InvalidRunInput(target.name, `The input of '${target.name}' cannot be sent: ${why}. Send plain JSON data: objects, arrays, strings, numbers, booleans and null.`);
}

/** What the Web UI shows of a run at start: the target and the start of its input. */
export function runSummary(target: RunTarget, input: unknown): string {
  const text = (typeof input === "string" ? input : JSON.stringify(input) ?? "").replace(/\s+/g, " ").trim();
  const snippet = text.length > 100 ? `${text.slice(0, 99)}…` : text;
  return snippet ? `${target.kind} ${target.name}: ${snippet}` : `${target.kind} ${target.name}`;
}

/**
 * Temporal refuses a payload over 2 MB (its default blob size limit) with RESOURCE_EXHAUSTED
 * after the round trip; this says so before it, and what to do instead.
 */
export const maxInputBytes = 2 * 1024 * 1024;

/** `what` is what the payload is: a run's input (`start`), or an answer, a decision or another message sent to a run. */
export function checkInputSize(bytes: number, what: "input" | "answer" | "decision" | "message" = "input", definition?: { target: RunTarget; givenBytes: number }): void {
  if (bytes <= maxInputBytes) return;
  const mb = (n: number) => `${(n / (1024 * 1024)).toFixed(1)} MB`;
  // A run's input carries its target's definition too: an agent's long instruction, not the input given, may be what is big.
  if (definition && definition.givenBytes * 2 < bytes) {
    const { target, givenBytes } = definition;
    throw new UserError(
      `The run's input is ${mb(bytes)}, most of it the definition of ${target.kind} '${target.name}' (the input given is ${givenBytes < 1024 ? `${givenBytes} bytes` : mb(givenBytes)}); Temporal takes at most ${mb(maxInputBytes)} in a run's input.`,
      { name: "InputTooLarge", hint: "Shorten the definition (an agent's instruction): put long reference text in a file an MCP server can read, or run it on the memory engine (--engine memory)." },
    );
  }
  const where = what === "input" ? "a run's input" : "a message to a run";
  throw new UserError(`The ${what} is ${mb(bytes)}; Temporal takes at most ${mb(maxInputBytes)} in ${where}.`, {
    name: "InputTooLarge",
    hint:
      what === "input"
        ? "Put the data in a file an MCP server can read (e.g. server-filesystem) and pass its path, or run it on the memory engine (--engine memory)."
        : "Nothing was sent, and the run still waits. Put the data in a file an MCP server can read (e.g. server-filesystem) and send its path instead.",
  });
}

/** A run id given to `start` that a run already has: `RunAlreadyExists`, the same from either engine. */
export function runAlreadyExists(runId: string, where: string): UserError {
  return new UserError(`A run '${runId}' already exists ${where}; choose another id.`, { name: "RunAlreadyExists" });
}

/** The built-in workflows that run an agent, and a chat with one. */
export const agentWorkflowName = "agentWorkflow";
export const chatWorkflowName = "chatWorkflow";

/** The Temporal workflow type that runs a target. */
export function workflowType(target: RunTarget): string {
  if (target.kind === "agent") return agentWorkflowName;
  return target.kind === "pattern" ? "patternWorkflow" : target.name;
}

/** A readable, unique run id: `finder-3f9a1c2b`. */
export function newRunId(target: RunTarget, uuid: string, options: StartOptions = {}): string {
  return `${options.runIdPrefix ?? target.name}-${uuid.replace(/-/g, "").slice(0, 8)}`;
}

/** How long the memory engine holds runs, in the words of its settings. */
export function memoryRetention({ memory: { keepFinishedMs, keepFinishedRuns } }: DuragentConfig): string {
  return `memory runs live only in the process that started them (a \`duragent serve\`'s through its run_status and run_input tools), and an ended one is kept ${keepFinishedMs / 1000} s, at most the latest ${keepFinishedRuns}: memory.keepFinishedMs, memory.keepFinishedRuns`;
}
