/** One structured logger for the CLI and the worker; logs go to stderr so stdout stays for results. */
import { pino, type Logger } from "pino";
import { UserError } from "./errors/user-error.js";

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

/**
 * `json` lines for services (a worker, `serve`), which log collectors read; `text` for a command a
 * person runs, whose warnings share the terminal with its output. `DURAGENT_LOG_FORMAT` overrides.
 */
export type LogFormat = "json" | "text";

/** The format a command's logs take: its own, unless `DURAGENT_LOG_FORMAT` says otherwise. */
export function chosenLogFormat(format: LogFormat): LogFormat {
  return (environmentChoice("DURAGENT_LOG_FORMAT", logFormats) as LogFormat | undefined) ?? format;
}

const logFormats = ["json", "text"] as const;
const logLevels = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** A logging variable's value, refused with the values it takes rather than a logger's stack trace. */
function environmentChoice(name: string, allowed: readonly string[]): string | undefined {
  const value = process.env[name];
  if (value === undefined || value === "") return undefined;
  if (allowed.includes(value)) return value;
  throw new UserError(`${name} is "${value}"; it takes one of ${allowed.join(", ")}.`, { name: "InvalidEnvironment" });
}

/** The level `DURAGENT_LOG_LEVEL` asks for, checked; `warn` when unset. */
export function chosenLogLevel(): string {
  return environmentChoice("DURAGENT_LOG_LEVEL", logLevels) ?? "warn";
}

export function createLogger(name: string, level = chosenLogLevel(), format: LogFormat = "json"): Logger {
  const chosen = chosenLogFormat(format);
  // Temporal's SDK logs its errors under `error`, which pino would print as `{}` (an Error's fields
  // are not enumerable). Causes stay nested: duragent's messages already say what their cause
  // says, and joining the causes' messages repeated it.
  return pino(
    { name, level, mixin: () => logContext?.() ?? {}, serializers: { error: pino.stdSerializers.errWithCause } },
    chosen === "text" ? { write: (line: string) => void process.stderr.write(textLine(line)) } : pino.destination(2),
  );
}

/**
 * A line said whatever the log level, as a server says where it listens: a JSON line at info, or
 * the text itself when the format is text.
 */
export function announce(text: string, fields: Record<string, unknown>, format: LogFormat = "json"): void {
  if (chosenLogFormat(format) === "json") createLogger("duragent", "info", "json").info(fields, text);
  else process.stderr.write(`${text}\n`);
}

const levelWords: Record<number, string> = { 10: "trace", 20: "debug", 30: "info", 40: "warning", 50: "error", 60: "fatal" };
/** Fields every line has, which a person does not need to read. */
const plumbing = new Set(["level", "time", "pid", "hostname", "name", "msg"]);

/** One pino line as a person reads it: `duragent: warning: <message> (key: value, …)`. */
export function textLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  const details = Object.entries(entry)
    .filter(([key, value]) => !plumbing.has(key) && value !== undefined)
    .map(([key, value]) => `${key}: ${detailText(value)}`);
  const level = levelWords[entry.level as number] ?? String(entry.level);
  return `${String(entry.name ?? "duragent")}: ${level}: ${String(entry.msg ?? "")}${details.length > 0 ? ` (${details.join(", ")})` : ""}\n`;
}

function detailText(value: unknown): string {
  // A serialised error reads as its message; its stack is for `DURAGENT_LOG_FORMAT=json`.
  if (typeof value === "object" && value !== null && "message" in value && typeof value.message === "string") return value.message;
  return typeof value === "string" ? value : JSON.stringify(value);
}
