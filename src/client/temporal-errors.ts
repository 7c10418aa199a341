/**
 * Temporal's infrastructure failures in user terms. The SDKs report them as transport errors with
 * gRPC details, or as a bare "Webpack finished with errors"; each of these is something the user
 * fixes in the config or the environment, so it becomes a `UserError` saying what to change.
 */
import type { DuragentConfig } from "../config/schema.js";
import { ExitCode, isUserError, UserError } from "../errors/user-error.js";

const devHint = "Start a local server and worker with `duragent dev`, or set TEMPORAL_ADDRESS (or temporal.address in duragent.config.yaml).";

/** The user error a Temporal failure stands for, or undefined when it is not one of these. */
export function explainTemporalError(error: unknown, temporal: DuragentConfig["temporal"]): UserError | undefined {
  if (!(error instanceof Error)) return undefined;
  // The client throws NamespaceNotFoundError; the worker's native connection a TransportError with the gRPC status.
  if (error.name === "NamespaceNotFoundError" || /Namespace \S+ (is|was) not found/.test(error.message)) {
    return namespaceMissing(temporal, error);
  }
  if (error.name === "TransportError" && /connect|refused|unreachable|dns/i.test(error.message)) {
    return unreachableBecause(temporal, /Connection refused/i.test(error.message) ? "connection refused" : error.message, error);
  }
  // A client already connected when the server went away: the SDK's ServiceError over gRPC's UNAVAILABLE.
  const unavailable = grpcCause(error, 14 /* UNAVAILABLE */);
  if (unavailable) {
    const said = grpcWords(unavailable);
    const reason = /ECONNREFUSED|Connection refused/i.test(said) ? "connection refused" : said.replace(/^14 UNAVAILABLE: /, "").replace(/\s*Resolution note:\s*$/, "");
    return unreachableBecause(temporal, reason, error);
  }
  if (causes(error).some((cause) => (cause as { message?: unknown }).message === "Channel has been shut down")) return clientClosed(error);
  if (isNoRecentPoller(error)) {
    return new UserError("No worker has polled the run's task queue lately (stopped, or none started), so the run cannot answer this now.", {
      name: "NoWorker",
      exitCode: ExitCode.unavailable,
      hint: "Start a worker for it (`duragent worker`), then ask again; `duragent status <run>` says what the server knows meanwhile.",
      cause: error,
    });
  }
  if (isWorkflowTaskFailing(error)) {
    // Not a failed run: it goes on once its workers run code that gets past the failure.
    return new UserError("The run's workflow code keeps failing on its worker, so the run cannot take this now; nothing was sent.", {
      name: "WorkflowCodeFailing",
      exitCode: ExitCode.unavailable,
      hint: "`duragent status <run>` shows the failure. Fix the code (or roll the workers back to the code the run started on) and restart the workers, then send this again; or end the run with `duragent terminate <run>`.",
      cause: error,
    });
  }
  if (error.message.startsWith("Webpack finished with errors")) {
    return new UserError("The workflow code could not be bundled for the worker; webpack's errors are printed above.", {
      name: "WorkflowBundleFailed",
      hint: "Check the modules listed under `modules:` in duragent.config.yaml: their imports must resolve, and workflow code may not use Node APIs.",
      cause: error,
    });
  }
  return undefined;
}

/** A call through a client that was closed (or a worker's connection it shared, once the worker closed). */
export function clientClosed(cause?: unknown): UserError {
  return new UserError("This duragent client was closed (client.close()), so it can no longer reach runs.", {
    name: "ClientClosed",
    hint: "Create another with createClient(), and get the run again by its id (client.getHandle(runId)). A client given a worker closes with it too: close the client first.",
    cause,
  });
}

/** An error and the causes it wraps, outermost first (the SDKs wrap gRPC errors once or twice). */
function causes(error: unknown): object[] {
  const chain: object[] = [];
  for (let cause = error; typeof cause === "object" && cause !== null && chain.length < 4; cause = (cause as { cause?: unknown }).cause) chain.push(cause);
  return chain;
}

function grpcCause(error: unknown, code: number): { details?: unknown; message?: unknown } | undefined {
  return causes(error).find((cause) => (cause as { code?: unknown }).code === code);
}

/** What the server said: grpc-js's client puts it in `details`; a worker's native connection, which a client can share, leaves that empty and puts it in `message`. */
function grpcWords(cause: { details?: unknown; message?: unknown }): string {
  return String(cause.details || cause.message || "");
}

/** The configured namespace is not on the cluster: exit 3, with the command that creates it. */
export function namespaceMissing(temporal: DuragentConfig["temporal"], cause?: unknown): UserError {
  const { address, namespace } = temporal;
  return new UserError(`Temporal namespace '${namespace}' does not exist on ${address}.`, {
    name: "NamespaceNotFound",
    exitCode: ExitCode.notFound,
    hint: `Create it with \`temporal operator namespace create --namespace ${namespace}\`, or name another where this one came from: temporal.namespace in the config, TEMPORAL_NAMESPACE, or the temporal.toml profile (TEMPORAL_PROFILE).`,
    cause,
  });
}

/** What the CLI reports when its client cannot connect. */
export function temporalUnreachable(temporal: DuragentConfig["temporal"], error: unknown): UserError {
  // Already the user's to fix (e.g. a codec key that cannot be read), and says how.
  if (isUserError(error)) return error;
  return unreachableBecause(temporal, error instanceof Error ? error.message : String(error), error);
}

function unreachableBecause(temporal: DuragentConfig["temporal"], reason: string, cause: unknown): UserError {
  return new UserError(`Cannot reach Temporal at ${temporal.address}: ${reason}`, { name: "TemporalUnreachable", exitCode: ExitCode.unavailable, hint: unreachableHint(temporal), cause });
}

/** With TLS on, a server that speaks plain gRPC (a dev server) is reached but never answers the handshake. */
function unreachableHint(temporal: DuragentConfig["temporal"]): string {
  const tlsOn = temporal.tls !== undefined && temporal.tls !== false ? "temporal.tls" : temporal.apiKey !== undefined && temporal.tls !== false ? "an API key implies it: TEMPORAL_API_KEY or temporal.apiKey" : undefined;
  if (!tlsOn) return devHint;
  return `TLS is on (${tlsOn}); a server without TLS, such as \`temporal server start-dev\`, never completes the handshake. Check the address and port, the server's TLS, or turn TLS off (temporal.tls: false). ${devHint}`;
}

/**
 * The server's refusal to query a run whose latest workflow task failed: its code threw (a bug,
 * or a change that no longer replays), and Temporal retries the task until a worker gets past it.
 */
export function isWorkflowTaskFailing(error: unknown): boolean {
  // Read by shape, so that loading this module does not load Temporal's client (the memory engine and `--help` never need it).
  const refused = grpcCause(error, 9 /* FAILED_PRECONDITION */);
  return refused !== undefined && /Workflow Task in failed state/i.test(grpcWords(refused));
}

/**
 * The server's refusal to put a query to a task queue no worker has polled lately ("no poller
 * seen for task queue recently, worker may be down"): as unanswered as a query that timed out.
 */
export function isNoRecentPoller(error: unknown): boolean {
  const refused = grpcCause(error, 9 /* FAILED_PRECONDITION */);
  return refused !== undefined && /no poller seen/i.test(grpcWords(refused));
}

/**
 * A query the worker could not answer because replaying the run's history failed: the workflow
 * code changed shape since the run started (a step added or moved without `patched()`). The
 * worker says so as a nondeterminism error (TMPRL1100), which the client hands on as a failed query.
 */
export function isReplayFailing(error: unknown): boolean {
  return causes(error).some((cause) => replayFailure(String((cause as { message?: unknown }).message ?? "")) !== undefined);
}

export type ReplayFailure = "missing" | "rolled-back" | "changed";

/**
 * Each kind of replay failure said two ways: in a few words about the code that replayed (`list`,
 * `duragent replay`), and whole, about the run's workers (`status`).
 */
export const replayFailureWords: Record<ReplayFailure, { short: string; whole: string }> = {
  missing: {
    short: "the code does not export its workflow",
    whole: "the workers' workflow code does not export this run's workflow (renamed or removed since the run started, a module not loaded, or a prebuilt bundle older than the code)",
  },
  "rolled-back": {
    short: "it passed a patched() change the code lacks",
    whole: "the workers run code older than this run: it passed a `patched()` change their code lacks (were they rolled back below it?)",
  },
  changed: {
    short: "the code changed shape",
    whole: "the workers' workflow code no longer replays this run's history (it changed shape since the run started, without `patched()`: see \"Changing workflow code safely\" in the README)",
  },
};

/**
 * Why a worker's code cannot replay a run, from the worker's words: the run's workflow is no longer
 * exported (renamed or removed), the run passed a `patched()` change the code lacks (workers rolled
 * back below it), or the code changed shape; undefined for any other failure.
 */
export function replayFailure(message: string): ReplayFailure | undefined {
  if (/no such function is exported by the workflow bundle/.test(message)) return "missing";
  if (/patch marker encountered for change .*but there is no corresponding change command/i.test(message)) return "rolled-back";
  if (/\bTMPRL1100\b|Nondeterminism error/i.test(message)) return "changed";
  return undefined;
}
