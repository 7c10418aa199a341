/**
 * Stdio servers as child processes: remembering how they ended, forwarding their stderr, and
 * making sure they are gone on shutdown.
 */
import { execFile, type ChildProcess } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { promisify } from "node:util";
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

// Kept referenced: a process that would exit while we wait would leave the server running.
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

/** A process as found at one moment: its pid, and when it started, so that a pid used again by another process is not signalled. */
export interface FoundProcess {
  pid: number;
  /** As /proc or `ps` tells it; absent where neither does (Windows). */
  started?: string;
}

/** For a process that is not our child: the server a launcher started, or one the SDK no longer shows us. */
export async function ensureExitedByPid(target: FoundProcess): Promise<void> {
  const { pid, started } = target;
  const exists = (): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // Still the process that was found, and not a zombie: asked before each signal, and while
  // waiting only on Linux, where it is a file read (elsewhere it runs `ps`).
  const stillIt = async (): Promise<boolean> => {
    if (!exists()) return false;
    if (process.platform === "win32") return true;
    const now = await processInfo(pid);
    return now !== undefined && now.state !== "Z" && (started === undefined || now.started === started);
  };
  const alive = async (): Promise<boolean> => (process.platform === "linux" ? stillIt() : exists());
  const waitGone = async (ms: number): Promise<boolean> => {
    for (const end = Date.now() + ms; Date.now() < end; await delay(50)) if (!(await alive())) return true;
    return !(await alive());
  };
  if (await waitGone(SHUTDOWN_GRACE_MS)) return;
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    if (!(await stillIt())) return;
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    if (await waitGone(signal === "SIGTERM" ? SHUTDOWN_GRACE_MS : 5 * SHUTDOWN_GRACE_MS)) return;
  }
}

/**
 * The processes under `pid`. A launcher such as `npx` runs the server as its own child, which
 * outlives a signal to the launcher and holds our pipes open; it is found while the launcher
 * lives, since it is then re-parented and can no longer be traced to us. Windows: none found.
 */
export async function descendantsOf(pid: number): Promise<FoundProcess[]> {
  const table = await processTable();
  const found: FoundProcess[] = [];
  for (let queue = [pid]; queue.length > 0; ) {
    const parent = queue.shift()!;
    for (const [child, info] of table) {
      if (info.ppid !== parent || found.some((known) => known.pid === child)) continue;
      found.push({ pid: child, ...(info.started !== undefined ? { started: info.started } : {}) });
      queue.push(child);
    }
  }
  return found;
}

interface ProcessInfo {
  ppid: number;
  state?: string;
  started?: string;
}

/** Every process: from /proc on Linux (slim images have no `ps`), else from `ps`. */
async function processTable(): Promise<Map<number, ProcessInfo>> {
  const table = new Map<number, ProcessInfo>();
  if (process.platform === "linux") {
    const pids = (await readdir("/proc").catch(() => [] as string[])).filter((name) => /^\d+$/.test(name)).map(Number);
    for (const pid of pids) {
      const info = await processInfo(pid);
      if (info) table.set(pid, info);
    }
    return table;
  }
  if (process.platform === "win32") return table;
  const listed = await promisify(execFile)("ps", ["-A", "-o", "pid=,ppid=,lstart="], { timeout: 2_000 }).catch(() => ({ stdout: "" }));
  for (const line of listed.stdout.split("\n")) {
    const [, pid, ppid, started] = /^\s*(\d+)\s+(\d+)\s+(.*\S)/.exec(line) ?? [];
    if (pid && ppid) table.set(Number(pid), { ppid: Number(ppid), ...(started ? { started } : {}) });
  }
  return table;
}

/** One process's parent, state and start; undefined once it is gone. */
async function processInfo(pid: number): Promise<ProcessInfo | undefined> {
  if (process.platform === "linux") {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    // "pid (command) state ppid …" with the start time the 22nd field; the command may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    return stat && Number.isInteger(ppid) ? { ppid, state: fields[0]!, started: fields[19]! } : undefined;
  }
  if (process.platform === "win32") return undefined;
  const listed = await promisify(execFile)("ps", ["-o", "ppid=,state=,lstart=", "-p", String(pid)], { timeout: 2_000 }).catch(() => ({ stdout: "" }));
  const [, ppid, state, started] = /^\s*(\d+)\s+(\S)\S*\s+(.*\S)/.exec(listed.stdout) ?? [];
  return ppid ? { ppid: Number(ppid), state: state!, ...(started ? { started } : {}) } : undefined;
}
