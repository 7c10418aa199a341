/**
 * `duragent serve`: expose the configured agents, patterns and workflows as MCP tools, over stdio
 * (for a client that starts duragent as its server) or Streamable HTTP. Runs go to the config's
 * engine: in memory (they live as long as this process) or on Temporal (a worker runs them).
 */
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { startHttpMcpServer, UnsafeBinding } from "../../serve/http.js";
import { duragentMcpServers, ServeSetupError, targetToolNames, type DuragentServerFactory } from "../../serve/mcp-server.js";
import type { CommandContext } from "../context.js";
import { UserError } from "../../errors/user-error.js";
import { parseKeyText } from "../../codec/codec-keys.js";

export interface ServeOptions {
  transport: "stdio" | "http";
  /** HTTP only. */
  host: string;
  port: number;
  /** HTTP only; falls back to DURAGENT_SERVE_TOKEN. */
  token?: string;
  /** HTTP only: more host names accepted in Host and Origin headers. */
  allowedHost: string[];
  /** How long a `<name>` tool waits for its run's answer. */
  waitTimeoutMs?: number;
  /** Told once the HTTP endpoint listens. */
  onListening?: (listening: { url: string; tools: string[] }) => void | Promise<void>;
}

export async function serveCommand(context: CommandContext, options: ServeOptions): Promise<void> {
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new UserError(`--port must be a port number from 0 to 65535, got ${options.port}.`);
  }
  if (options.waitTimeoutMs !== undefined && !(Number.isInteger(options.waitTimeoutMs) && options.waitTimeoutMs > 0)) {
    throw new UserError(`--wait-timeout must be a positive number of milliseconds, got ${options.waitTimeoutMs}.`);
  }
  const stateKey = requestStateKey(process.env.DURAGENT_SERVE_STATE_KEY);
  const client = await context.client();
  const logger = await context.logger();
  // In memory, this process makes the model calls: without a provider's key every run would fail
  // at its first, after the MCP client had been told the tools are there. (On Temporal, workers do.)
  if (client.engine === "memory") {
    const { unusableProviders } = await import("../../activities/llm/provider-registry.js");
    const problems = unusableProviders((await context.config()).llm);
    if (problems.length > 0) throw new UserError(`duragent serve does not serve: ${problems.join("\n")}`, { name: "ModelKeyMissing" });
  }
  const targets = await client.targets();
  if (targets.size === 0) {
    throw new UserError("Nothing to serve: the config defines no agents or workflows.", {
      hint: "Add one under `agents:` in duragent.config.yaml, or pass --config with the file that has them.",
    });
  }
  let createServer: DuragentServerFactory;
  try {
    createServer = duragentMcpServers({
      targets,
      runs: client,
      logger,
      ...stateKey,
      ...(options.waitTimeoutMs !== undefined ? { waitTimeoutMs: options.waitTimeoutMs } : {}),
    });
  } catch (error) {
    if (error instanceof ServeSetupError) throw new UserError(error.message);
    throw error;
  }
  const toolNames = [...targetToolNames(targets).values()];

  if (options.transport === "stdio") {
    // stdout carries the protocol from here on; everything else goes to stderr. The client's
    // first message decides the era for the connection.
    const stopped = untilStopped({ stdinEnds: true });
    const connection = serveStdio(({ era }) => createServer(era), {
      onerror: (error) => logger.warn({ err: error }, "serve: stdio message refused or failed"),
    });
    logger.info({ tools: toolNames, engine: client.engine }, "serve: MCP over stdio");
    // A client that closes our input is shutting the session down (MCP's stdio lifecycle): calls
    // in flight are abandoned, their runs stopped with the engine (on Temporal they go on).
    await stopped;
    await connection.close();
    return;
  }

  const token = options.token ?? process.env.DURAGENT_SERVE_TOKEN;
  const listener = await startHttpMcpServer({
    host: options.host,
    port: options.port,
    allowedHosts: options.allowedHost,
    createServer,
    logger,
    ...(token ? { token } : {}),
  }).catch((error: unknown) => {
    if (error instanceof UnsafeBinding) throw new UserError(error.message);
    if (isAddressInUse(error)) {
      throw new UserError(`Port ${options.port} on ${options.host} is in use.`, { hint: "Pick another with --port, or --port 0 for any free one." });
    }
    throw error;
  });
  try {
    await options.onListening?.({ url: listener.url, tools: toolNames });
    await untilStopped({ stdinEnds: false });
  } finally {
    await listener.close();
  }
}

/** `DURAGENT_SERVE_STATE_KEY`: the key every `serve` behind one URL shares (see `requestStateKey`). */
function requestStateKey(text: string | undefined): { requestStateKey?: Uint8Array } {
  if (text === undefined || text.trim() === "") return {};
  return { requestStateKey: parseKeyText(text, { where: "DURAGENT_SERVE_STATE_KEY", source: "the environment variable", use: "the requestState seal" }) };
}

/** Resolves on Ctrl-C or SIGTERM and, for stdio, when the client closes our stdin. */
function untilStopped(options: { stdinEnds: boolean }): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      process.stdin.off("end", stop);
      process.stdin.off("close", stop);
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    if (options.stdinEnds) {
      process.stdin.once("end", stop);
      process.stdin.once("close", stop);
    }
  });
}

function isAddressInUse(error: unknown): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === "EADDRINUSE";
}
