/**
 * Failure types: an activity throws an `ApplicationFailure` whose `type` is one of these, which
 * retry policies and the memory engine read; workflow code throws `invalidAgentInput` itself.
 * Sandbox-safe: imported by workflow code.
 */
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState, TimeoutFailure, TimeoutType } from "@temporalio/common";
import { formatUsd } from "./pricing.js";

export const FailureType = {
  /** The provider refused the request (a 4xx other than 408/409/429); retrying cannot help. */
  llmRequestRejected: "LlmRequestRejected",
  /** Transient provider trouble: 408, 409, 429, 5xx or a network error. */
  llmUnavailable: "LlmUnavailable",
  /** The model's answer broke the requested structure even after one repair. */
  structuredOutputInvalid: "StructuredOutputInvalid",
  /** The configuration names something that does not exist (a server, a provider, a model). */
  configuration: "ConfigurationError",
  /** An MCP server could not be reached or died during a call. */
  mcpServerUnavailable: "McpServerUnavailable",
  /**
   * An MCP server needs a person to sign in (again, or with more scopes) before it answers; the
   * message names the `duragent auth login` command. No retry can sign anyone in.
   */
  mcpAuthorizationRequired: "McpAuthorizationRequired",
  /**
   * An MCP server or its authorization server broke the protocol: a malformed or oversized
   * message, a protocol version duragent does not speak, metadata or a token response it must not
   * trust. The same request would get the same answer, so it is not retried.
   */
  mcpServerMisbehaved: "McpServerMisbehaved",
  /** A step ran out of time on every attempt; the message names the step and the timeout. */
  stepTimedOut: "StepTimedOut",
  /**
   * A tool call's own work outlasted its attempt's limit (`startToCloseTimeoutMs`), time a person
   * took to answer its server not counted: retried as a start-to-close timeout is.
   */
  attemptTimedOut: "AttemptTimedOut",
  /** A step failed on every attempt its retry policy allows; the message is the last attempt's, and says so. */
  stepGaveUp: "StepGaveUp",
  /** The worker running the step began to stop; the step's next attempt runs on a worker that serves. */
  workerStopping: "WorkerStopping",
  /** A tool call's server asked a question its run could not be reached for; the call's next attempt asks again. */
  runUnreachable: "RunUnreachable",
  /** A step's result is larger than Temporal records (2 MB a payload); the same step would give the same. */
  resultTooLarge: "StepResultTooLarge",
  /** What a step must carry to its worker is larger than Temporal takes (2 MB a payload); the same step would carry the same. */
  inputTooLarge: "StepInputTooLarge",
  /** A run refused a tool call's report of its server's request as malformed (the Update's validator); sent again, it would be again. */
  invalidServerRequest: "InvalidServerRequest",
  /** Workflow code handed an agent something it cannot take (say, `generate` an object); the same code would do it again. */
  invalidAgentInput: "InvalidAgentInput",
  /** The run has used the tokens its budget allows (`execution.tokenBudget`); another model call would pass it. */
  tokenBudgetSpent: "TokenBudgetSpent",
  /** The run has spent what its cost budget allows (`execution.costBudget`); another model call would pass it. */
  costBudgetSpent: "CostBudgetSpent",
  /**
   * A parallel pattern under `failurePolicy: fail` lost a branch: the message names the branch and
   * its failure, and the failure's `cause` is the first failed branch's own (its type the root's).
   */
  parallelBranchFailed: "ParallelBranchFailed",
  /**
   * A run started without duragent's client (Temporal's tools, a Schedule, another SDK's
   * workflow) sent an input its worker cannot take: the message says what the workflow takes.
   */
  invalidRunInput: "InvalidRunInput",
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Failure types that no retry can fix. */
export const nonRetryableFailureTypes: string[] = [
  FailureType.llmRequestRejected,
  FailureType.structuredOutputInvalid,
  FailureType.configuration,
  FailureType.stepTimedOut,
  FailureType.mcpAuthorizationRequired,
  FailureType.mcpServerMisbehaved,
  FailureType.resultTooLarge,
  FailureType.inputTooLarge,
];

/** Layers Temporal wraps around the failure that matters; their own messages say nothing of the cause. */
function isWrapper(error: Error): boolean {
  return (
    error instanceof ActivityFailure ||
    error instanceof ChildWorkflowFailure ||
    // The client's WorkflowFailedError, named rather than imported: this module is sandbox-safe.
    error.name === "WorkflowFailedError"
  );
}

/**
 * What went wrong, in the words of whoever knew: the first failure beneath Temporal's wrappers,
 * e.g. the provider's message or the MCP server's error. Deeper causes (an SDK's raw error with
 * its JSON body) are detail for logs, not for people.
 */
export function rootCause(error: unknown): string {
  let current: unknown = error;
  while (current instanceof Error && isWrapper(current) && current.cause instanceof Error) current = current.cause;
  // A cancellation or termination carries no message of its own: say what happened, not its class's name.
  if (current instanceof Error) return current.message || (current.name === "CancelledFailure" ? "cancelled" : current.name === "TerminatedFailure" ? "terminated" : current.name);
  return String(current);
}

/** The type of the failure beneath Temporal's wrappers, when it is an `ApplicationFailure`. */
export function failureTypeOf(error: unknown): string | undefined {
  let current: unknown = error;
  while (current instanceof Error && isWrapper(current) && current.cause instanceof Error) current = current.cause;
  return current instanceof ApplicationFailure ? (current.type ?? undefined) : undefined;
}

/** How a step's timeout reads, for both engines: Temporal's timeout failure or the memory engine's. */
export interface StepTimeout {
  kind: "start-to-close" | "heartbeat" | "schedule-to-close" | "schedule-to-start";
  /** The configured limit, when known. */
  timeoutMs?: number;
  /** A tool call that waited for a person's answer the whole of `answerWaitMs` besides its own limit. */
  answerWait?: boolean;
}

/**
 * The timeout that ended a step, if a timeout did. A tool call that may wait for a person is
 * scheduled for `scheduledMs` (its own limit and `answerWaitMs`), and its worker holds its own
 * work to `startToCloseTimeoutMs` (`AttemptTimedOut`).
 */
export function stepTimeoutOf(error: unknown, startToCloseTimeoutMs: number, heartbeatTimeoutMs?: number, scheduledMs = startToCloseTimeoutMs): StepTimeout | undefined {
  const scheduled: StepTimeout = { kind: "start-to-close", timeoutMs: scheduledMs, ...(scheduledMs !== startToCloseTimeoutMs ? { answerWait: true } : {}) };
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current instanceof ApplicationFailure && current.type === FailureType.attemptTimedOut) return { kind: "start-to-close", timeoutMs: startToCloseTimeoutMs };
    if (current instanceof TimeoutFailure) {
      switch (current.timeoutType) {
        case TimeoutType.HEARTBEAT:
          return { kind: "heartbeat", ...(heartbeatTimeoutMs !== undefined ? { timeoutMs: heartbeatTimeoutMs } : {}) };
        case TimeoutType.SCHEDULE_TO_CLOSE:
          return { kind: "schedule-to-close" };
        case TimeoutType.SCHEDULE_TO_START:
          return { kind: "schedule-to-start" };
        default:
          return scheduled;
      }
    }
    // The memory engine's attempt timeout (workflows/executor/retry.ts).
    if (current.name === "AttemptTimeoutError") return scheduled;
    current = current.cause;
  }
  return undefined;
}

/** What a step's failure says of its policy: where it is set (`execution.tools`, `mcp.servers.fs.execution`) and its attempts. */
export interface StepPolicyWords {
  setting: string;
  maximumAttempts: number;
}

/** A step that timed out, as a failure that names the step: `tool fs/read_file`, not "Activity task timed out". */
export function stepTimedOut(step: string, timeout: StepTimeout, policy: StepPolicyWords, cause: Error): ApplicationFailure {
  const limit = timeout.timeoutMs !== undefined ? ` of ${formatMs(timeout.timeoutMs)}` : "";
  const what =
    timeout.kind === "heartbeat"
      ? `stopped heartbeating within its heartbeat timeout${limit} (${policy.setting}.heartbeatTimeoutMs); the worker running it may have died`
      : timeout.kind === "start-to-close" && timeout.answerWait
        ? `got no result within${limit}: its own start-to-close timeout and the time it may wait for a person's answer to its server's question (${policy.setting}.startToCloseTimeoutMs and .answerWaitMs)`
        : timeout.kind === "start-to-close"
        ? `got no result within its start-to-close timeout${limit} (${policy.setting}.startToCloseTimeoutMs)`
        : `ran out of its ${timeout.kind} timeout`;
  return ApplicationFailure.create({
    message: `The step '${step}' timed out: it ${what}. Attempts allowed: ${policy.maximumAttempts}.`,
    type: FailureType.stepTimedOut,
    nonRetryable: true,
    cause,
  });
}

/**
 * What a retryable failure's message promises of the next attempt, after `; `: said while attempts
 * remain, and left out once they have run out (`stepGaveUp`).
 */
export const nextAttemptPromises = {
  workerStopping: "another attempt follows on a worker that serves",
  runUnreachable: "the call is tried again",
} as const;

/** The memory engine's last attempts of steps that could have been retried (Temporal says so in the failure's retry state). */
const lastAttempts = new WeakSet<object>();

/** Marks `error` as the last attempt's of a step that its retry policy would have retried but for the attempt count. */
export function markLastAttempt(error: unknown): unknown {
  if (typeof error === "object" && error !== null) lastAttempts.add(error);
  return error;
}

/** Whether a step failed because its attempts ran out, not because its failure cannot be retried. */
export function attemptsRanOut(error: unknown): boolean {
  if (error instanceof ActivityFailure) return error.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED;
  return typeof error === "object" && error !== null && lastAttempts.has(error);
}

/** A model call whose input cannot reach its worker on Temporal; `what` says which part is too big. */
export function stepInputTooLarge(what: string): ApplicationFailure {
  return ApplicationFailure.create({
    message: `This model call cannot be sent on Temporal: ${what}, and Temporal takes at most 2 MB in a step's input. Make it smaller, or run it on the memory engine.`,
    type: FailureType.inputTooLarge,
    nonRetryable: true,
  });
}

/** The failure of a run whose next model call would pass its token budget. */
export function tokenBudgetSpent(used: number, budget: number): ApplicationFailure {
  return ApplicationFailure.create({
    message: `the run has used ${thousands(used)} tokens, and its budget is ${thousands(budget)} (execution.tokenBudget, or --token-budget for one run): it makes no more model calls`,
    type: FailureType.tokenBudgetSpent,
    nonRetryable: true,
  });
}

/** The failure of a run whose next model call would pass its cost budget. */
export function costBudgetSpent(spent: number, budget: number): ApplicationFailure {
  return ApplicationFailure.create({
    message: `the run has spent ${formatUsd(spent)} on model calls, and its budget is ${formatUsd(budget)} (execution.costBudget, or --cost-budget for one run): it makes no more model calls`,
    type: FailureType.costBudgetSpent,
    nonRetryable: true,
  });
}

/** A run with a cost budget about to call a model that has no price, so that the budget could not count it. */
export function unpricedUnderBudget(model: string): ApplicationFailure {
  const name = model.slice(model.indexOf(":") + 1);
  return ApplicationFailure.create({
    message: `the run has a cost budget (execution.costBudget, or --cost-budget), and ${model} has no price to count its calls by: add it under pricing: in the config (USD per million tokens, e.g. "${name}": { input: 1, output: 4 }), or start the run without a cost budget`,
    type: FailureType.configuration,
    nonRetryable: true,
  });
}

/** 12345 → `12,345`, the same in every locale. */
function thousands(count: number): string {
  return String(count).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/**
 * A step that failed on every attempt, as a failure that says so after the last attempt's words:
 * a run that ends on a provider's 500 would otherwise not tell whether it was tried again.
 */
export function stepGaveUp(policy: StepPolicyWords, cause: Error): ApplicationFailure {
  let said = rootCause(cause);
  for (const promise of Object.values(nextAttemptPromises)) said = said.replace(`; ${promise}`, "");
  // An agent's servers start inside its model call's step, so their start is tried as often as a model call is.
  const why = policy.setting === "execution.llm" && failureTypeOf(cause) === FailureType.mcpServerUnavailable ? ", as the model call that starts the agent's MCP servers" : "";
  return ApplicationFailure.create({
    message: `${said}${/[.!?]$/.test(said) ? "" : "."} Gave up after ${policy.maximumAttempts} attempts (${policy.setting}.maximumAttempts${why}).`,
    type: FailureType.stepGaveUp,
    nonRetryable: true,
    cause,
  });
}

/** A duration for people: `90 s`, `5 min`, `250 ms`. */
export function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
}
