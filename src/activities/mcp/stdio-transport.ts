/**
 * Stdio servers as child processes: remembering how they ended, forwarding their stderr, and
 * making sure they are gone on shutdown.
 */
import type { ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import type { StdioServerConfig } from "../../config/schema.js";

const STDERR_TAIL_LINES = 20;
/** How long a stdio server gets after stdin closes, and again after SIGTERM, before SIGKILL. */
export const SHUTDOWN_GRACE_MS = 1_000;

/** Stdio transport that also remembers how its process ended, for error messages. */
export class ObservedStdioTransport extends StdioClientTransport {
  child: ChildProcess | undefined;
  exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  override async start(): Promise<void> {
    await super.start();
    // The SDK keeps the ChildProcess private; we need it for the exit status and a sure kill.
    this.child = (this as unknown as { _process?: ChildProcess })._process;
    this.child?.once("exit", (code, signal) => {
      this.exit = { code, signal };
    });
  }
}

/**
 * Server stderr goes to `log`, and its last lines into `tail` for error messages, instead of
 * our own stderr.
 */
export function forwardStderr(stdio: ObservedStdioTransport, tail: string[], log: (line: string) => void): void {
  const stream = stdio.stderr;
  if (!stream) return;
  const decoder = new StringDecoder("utf8");
  let pending = "";
  const emit = (line: string): void => {
    const text = line.replace(/\r$/, "");
    if (!text.trim()) return;
    tail.push(text);
    if (tail.length > STDERR_TAIL_LINES) tail.shift();
    log(text);
  };
  stream.on("data", (chunk: Buffer | string) => {
    pending += typeof chunk === "string" ? chunk : decoder.write(chunk);
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    lines.forEach(emit);
  });
  stream.on("end", () => {
    pending += decoder.end();
    if (pending) emit(pending);
    pending = "";
  });
}

/** Resolves once the server's stderr has ended (it exited), or after `ms`. */
export async function stderrEnded(stdio: ObservedStdioTransport, ms: number): Promise<void> {
  const stream = stdio.stderr as Readable | null;
  if (!stream || stream.readableEnded || stream.destroyed) return;
  await withTimeout(new Promise<void>((resolve) => stream.once("close", resolve).once("end", resolve)), ms);
}

export function describeExit(stdio: ObservedStdioTransport): string {
  const exit = stdio.exit;
  if (!exit) return "closed its connection";
  return exit.signal ? `was killed (${exit.signal})` : `exited (code ${exit.code})`;
}

export function commandLine(config: StdioServerConfig): string {
  return [config.command, ...(config.args ?? [])].join(" ");
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Stdin is already closed by the SDK; escalate to SIGTERM, then SIGKILL, until the child is gone. */
export async function ensureExited(child: ChildProcess): Promise<void> {
  const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  if (child.pid === undefined || hasExited()) return;
  const exited = new Promise<true>((resolve) => child.once("exit", () => resolve(true)));
  if (await withTimeout(exited, SHUTDOWN_GRACE_MS)) return;
  child.kill("SIGTERM");
  if (await withTimeout(exited, SHUTDOWN_GRACE_MS)) return;
  child.kill("SIGKILL");
  await withTimeout(exited, 5 * SHUTDOWN_GRACE_MS);
}

/** Fallback when the SDK no longer lets us see the ChildProcess. */
export async function ensureExitedByPid(pid: number): Promise<void> {
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const waitGone = async (ms: number): Promise<boolean> => {
    for (const end = Date.now() + ms; Date.now() < end; await delay(50)) if (!alive()) return true;
    return !alive();
  };
  if (await waitGone(SHUTDOWN_GRACE_MS)) return;
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    if (await waitGone(signal === "SIGTERM" ? SHUTDOWN_GRACE_MS : 5 * SHUTDOWN_GRACE_MS)) return;
  }
}
