/**
 * Errors the user can fix: bad input, bad config, something not found, a failed run.
 * The CLI prints their message without a stack trace and exits with their `exitCode`;
 * anything else is a bug and exits with `ExitCode.bug`. Library callers get the same classes.
 */
import path from "node:path";
import { formatIssues, type Issue } from "./zod-issues.js";

/** Process exit codes; stable, so scripts can branch on them. */
export const ExitCode = {
  /** Invalid input or configuration: fix the command line or the config file. */
  usage: 2,
  /** Something named does not exist: a file, an agent, a run. */
  notFound: 3,
  /** The run itself failed (the agent or workflow ended in failure). */
  runFailed: 4,
  /** A service the command needs (Temporal) cannot be reached. */
  unavailable: 5,
  /** The run has already ended, so the command has nothing to act on (e.g. cancel of a completed run). */
  alreadyEnded: 6,
  /** An unexpected error: a bug in duragent (EX_SOFTWARE from sysexits.h). */
  bug: 70,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** What each exit code says, for `--help`. */
export const exitCodeWords: Record<ExitCode, string> = {
  [ExitCode.usage]: "bad input or configuration",
  [ExitCode.notFound]: "not found (a file, an agent, a run)",
  [ExitCode.runFailed]: "the run failed",
  [ExitCode.unavailable]: "a service cannot be reached (Temporal, a worker)",
  [ExitCode.alreadyEnded]: "the run has already ended",
  [ExitCode.bug]: "a bug in duragent",
};

/**
 * Every `UserError`'s `name`, for code that maps them (to HTTP statuses, say) to check that it
 * handles each: `switch (error.name)` after `isUserError(error)`.
 */
export const userErrorNames = [
  "UserError",
  "UsageError",
  "ConfigError",
  "InvalidEnvironment",
  "InvalidOptions",
  "InvalidRunInput",
  "InvalidRunMessage",
  "InputTooLarge",
  "FileNotFound",
  "ModuleLoadError",
  "ModelKeyMissing",
  "McpServerUnstartable",
  "RunTargetNotFound",
  "DuplicateRunTarget",
  "RunNotFound",
  "RunAlreadyExists",
  "RunAlreadyEnded",
  "RunFailed",
  "ChatTurnFailed",
  "ScheduleNotFound",
  "ScheduleAlreadyExists",
  "TemporalUnreachable",
  "NamespaceNotFound",
  "NoWorker",
  "WorkflowCodeFailing",
  "ClientClosed",
  "PayloadDecryptionError",
  "ReplayFailed",
  "NotAWorkflowBundle",
  "WorkflowBundleError",
  "WorkflowBundleFailed",
  "WorkflowBundleNotFound",
] as const;
export type UserErrorName = (typeof userErrorNames)[number];

export interface UserErrorOptions {
  /** Defaults to `ExitCode.usage`. */
  exitCode?: ExitCode;
  /** What to do about it; appended to the message on its own line. */
  hint?: string;
  cause?: unknown;
  /** A stable name for this kind of error, which scripts can branch on (`--json` errors carry it); `UserError` when absent. */
  name?: UserErrorName;
}

// A registered symbol, so the brand survives two copies of this module (tsx and a linked package).
const userErrorBrand = Symbol.for("duragent.UserError");

/** An error whose message alone tells the user what is wrong and how to fix it. */
export class UserError extends Error {
  override name: UserErrorName = "UserError";
  readonly [userErrorBrand] = true;
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;

  constructor(message: string, options: UserErrorOptions = {}) {
    super(options.hint ? `${message}\n${options.hint}` : message, { cause: options.cause });
    this.exitCode = options.exitCode ?? ExitCode.usage;
    this.hint = options.hint;
    if (options.name) this.name = options.name;
  }
}

/** True for a `UserError` (or a subclass) even across duplicate module copies, where `instanceof` fails. */
export function isUserError(error: unknown): error is UserError {
  return error instanceof Error && (error as Partial<Record<typeof userErrorBrand, boolean>>)[userErrorBrand] === true;
}

/** Invalid configuration: names the file and every problem in it. */
export class ConfigError extends UserError {
  override name = "ConfigError" as const;
  /** Absolute path of the file at fault; undefined when the config came from defaults and overrides only. */
  readonly file: string | undefined;
  readonly issues: readonly Issue[];
  /** Files merged over `file` (the secrets file), named too since a problem may come from them. */
  readonly mergedWith: readonly string[];

  constructor(file: string | undefined, issues: readonly Issue[], options: { mergedWith?: readonly string[]; cause?: unknown } = {}) {
    const mergedWith = options.mergedWith ?? [];
    const where = [file, ...mergedWith].filter((f): f is string => f !== undefined).map(displayPath);
    const label = where.length === 0 ? "configuration" : where.length === 1 ? where[0]! : `${where[0]} (with ${where.slice(1).join(", ")} merged over it)`;
    super(formatIssues(label, issues), { exitCode: ExitCode.usage, cause: options.cause });
    this.file = file;
    this.issues = issues;
    this.mergedWith = mergedWith;
  }
}

/** A path relative to the working directory when it lies inside it: shorter, and what the user typed. */
export function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative !== "" && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : file;
}
