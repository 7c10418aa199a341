/** One structured logger for the CLI and the worker; logs go to stderr so stdout stays for results. */
import { pino, type Logger } from "pino";

export type { Logger };

let logContext: (() => Record<string, unknown> | undefined) | undefined;

/**
 * Where every log line gets the run it is about: a worker sets the Temporal activity's context
 * here (workflowId, runId, activity type, attempt), so lines logged inside an activity carry it
 * without each caller passing it along.
 */
export function setLogContext(context: () => Record<string, unknown> | undefined): void {
  logContext = context;
}

export function createLogger(name: string, level = process.env.DURAGENT_LOG_LEVEL ?? "warn"): Logger {
  // Temporal's SDK logs its errors under `error`, which pino would print as `{}` (an Error's fields are not enumerable).
  return pino({ name, level, mixin: () => logContext?.() ?? {}, serializers: { error: pino.stdSerializers.err } }, pino.destination(2));
}
