/**
 * Stdio servers as child processes: remembering how they ended, forwarding their stderr, and
 * making sure they are gone on shutdown.
 */
import { execFile, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
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

/** An orphan that has exited waits as a zombie until init reaps it, which a container's init may never do. */
function isZombie(pid: number): boolean {
  if (process.platform !== "linux") return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z";
  } catch {
    return false;
  }
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

/** For a process that is not our child: the server a launcher started, or one the SDK no longer shows us. */
export async function ensureExitedByPid(pid: number): Promise<void> {
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
    } catch {
      return false;
    }
    return !isZombie(pid);
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

/**
 * The processes under `pid`, children first. A launcher such as `npx` runs the server as its own
 * child, which outlives a signal to the launcher and holds our pipes open, so it is found before
 * the launcher goes (it is then re-parented and can no longer be traced to us).
 */
export async function descendantsOf(pid: number): Promise<number[]> {
  const parents = await parentTable();
  const found: number[] = [];
  for (let queue = [pid]; queue.length > 0; ) {
    const parent = queue.shift()!;
    for (const [child, of] of parents) if (of === parent && !found.includes(child)) found.push(child), queue.push(child);
  }
  return found;
}

/** Each process's parent: from /proc on Linux (slim images have no `ps`), else from `ps`. */
async function parentTable(): Promise<Map<number, number>> {
  const table = new Map<number, number>();
  if (process.platform === "linux") {
    const entries = await readdir("/proc").catch(() => [] as string[]);
    await Promise.all(
      entries.filter((name) => /^\d+$/.test(name)).map(async (name) => {
        const stat = await readFile(`/proc/${name}/stat`, "utf8").catch(() => "");
        // "pid (command) state ppid …": the command may hold spaces and parentheses.
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (Number.isInteger(ppid)) table.set(Number(name), ppid);
      }),
    );
    return table;
  }
  if (process.platform === "win32") return table;
  const listed = await promisify(execFile)("ps", ["-A", "-o", "pid=,ppid="], { timeout: 2_000 }).catch(() => ({ stdout: "" }));
  for (const line of listed.stdout.split("\n")) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    if (Number.isInteger(pid) && Number.isInteger(ppid)) table.set(pid!, ppid!);
  }
  return table;
}
