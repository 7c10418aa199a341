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
  /** Keep state in this SQLite file across restarts; in memory when absent. */
  dbFile?: string;
  /** Search attributes to register, `name -> type` (Keyword, Text, Int, ...). */
  searchAttributes?: Record<string, string>;
  /** Install the CLI from PyPI when it is missing. */
  install?: boolean;
  log?: (line: string) => void;
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

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const binary = findTemporalCli({ install: options.install });
  const port = options.port ?? (await freePort());
  const ui = options.ui ?? true;
  const uiPort = options.uiPort ?? (await freePort());
  const args = ["server", "start-dev", "--ip", "127.0.0.1", "--port", String(port), "--log-level", "error"];
  if (ui) args.push("--ui-port", String(uiPort), "--ui-disable-news-fetch");
  else args.push("--headless");
  if (options.dbFile) args.push("--db-filename", options.dbFile);
  for (const [name, type] of Object.entries(options.searchAttributes ?? {})) args.push("--search-attribute", `${name}=${type}`);

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

  const address = `127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      throw new Error(`The Temporal dev server exited with code ${child.exitCode}:\n${output.slice(-10).join("\n")}`);
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
  throw new Error(`The Temporal dev server did not answer on ${address} within 60 s:\n${output.slice(-10).join("\n")}`);
}
