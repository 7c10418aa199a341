/** One structured logger for the CLI and the worker; logs go to stderr so stdout stays for results. */
import { pino, type Logger } from "pino";

export type { Logger };

export function createLogger(name: string, level = process.env.DURAGENT_LOG_LEVEL ?? "warn"): Logger {
  return pino({ name, level }, pino.destination(2));
}
