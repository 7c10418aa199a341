/**
 * The lifecycle of MCP connections on a worker: one lazily opened client per configured server,
 * shared by every activity, dropped and reopened when the server goes away, and closed so that
 * no server process outlives the worker. What is said over a connection is the pool's
 * (./connection-pool.ts) and the relay's (./server-request-relay.ts).
 */
import { existsSync } from "node:fs";
import { AsyncResource } from "node:async_hooks";
import { Client, StreamableHTTPClientTransport, type ClientCapabilities, type OAuthClientProvider, type Transport } from "@modelcontextprotocol/client";
import { ApplicationFailure } from "@temporalio/common";
import { MessageTooLarge } from "../../auth/errors.js";
import { FailureType } from "../../common/failures.js";
import type { McpServerConfig } from "../../config/schema.js";
import { errorText, failureMessage, isMalformedMessage, isProtocolError, isRequestEnded, malformedText, missingCommand, nonRetryableFailure, tellingStderrLine, unavailable, type FailedConnection } from "./connection-errors.js";
import { MAX_MESSAGE_BYTES } from "./http-guards.js";
import { redactSecrets } from "../redact-secrets.js";
import { descendantsOf, describeExit, ensureExited, ensureExitedByPid, forwardStderr, SHUTDOWN_GRACE_MS, stderrEnded, withTimeout, type ObservedStdioTransport } from "./stdio-transport.js";
import { createTransport } from "./transports.js";
import { withoutMalformedTools } from "./tool-list-filter.js";

type LogFn = (obj: Record<string, unknown>, msg?: string) => void;
/** The pino methods the pool uses; a pino logger fits. */
export interface McpPoolLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const noop: LogFn = () => {};
export const silentLogger: McpPoolLogger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * What is logged about one server, its configured secrets masked in the message and in every
 * string field: its stderr, its errors and its URL quote them as its failures do.
 */
function serverLogger(logger: McpPoolLogger, config: McpServerConfig): McpPoolLogger {
  // Called as methods: pino's need their logger as `this`.
  const masked = (level: keyof McpPoolLogger): LogFn => (obj, msg) => {
    const fields = Object.fromEntries(Object.entries(obj).map(([key, value]) => [key, typeof value === "string" ? redactSecrets(config, value) : value]));
    logger[level](fields, msg === undefined ? undefined : redactSecrets(config, msg));
  };
  return { debug: masked("debug"), info: masked("info"), warn: masked("warn"), error: masked("error") };
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** How long a server's connection beyond its first stays open unused (`exclusiveCalls`). */
const EXTRA_CONNECTION_IDLE_MS = 60_000;
const STDIO_PROBE_TIMEOUT_MS = 3_000;

/** A server's per-request timeout. */
export function timeoutOf(config: McpServerConfig): number {
  return config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
}

const DEFAULT_STARTUP_TIMEOUT_MS = 30_000;

/**
 * How long a server may take to start and answer `initialize`, and the setting that says so. By
 * default under a model call's own timeout, so a server that never starts is named; a config
 * that raised `timeoutMs` for a slow server keeps it for starting too.
 */
export function startupTimeoutOf(config: McpServerConfig): { ms: number; setting: "startupTimeoutMs" | "timeoutMs" } {
  if (config.startupTimeoutMs === undefined && config.timeoutMs !== undefined) return { ms: config.timeoutMs, setting: "timeoutMs" };
  return { ms: config.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS, setting: "startupTimeoutMs" };
}

/** One open connection. */
export interface Connection extends FailedConnection {
  readonly server: string;
  readonly config: McpServerConfig;
  readonly client: Client;
  readonly transport: Transport;
  readonly stdio: ObservedStdioTransport | undefined;
  readonly stderrTail: string[];
  pid: number | null;
  /** Initialized; until then a close is reported by the failing connect instead. */
  connected: boolean;
  closed: boolean;
  /** Set when we close it ourselves, so the close is not reported as a failure. */
  closing: boolean;
}

/** A live connection, for diagnostics and tests. */
export interface McpConnectionInfo {
  client: Client;
  transport: Transport;
  /** The server process, for stdio servers. */
  pid: number | null;
}

export interface ConnectionOptions<C extends Connection> {
  logger: McpPoolLogger;
  clientInfo: { name: string; version: string };
  /** The capabilities our client declares (sampling only when it can be answered). */
  capabilities: ClientCapabilities;
  /** Called on each new client before it connects, to install handlers for what the server sends. */
  onOpen(conn: C): void;
  /** Supplies the OAuth client for servers configured with `auth` (see src/auth). */
  authProvider?: (server: string, config: McpServerConfig) => OAuthClientProvider | undefined;
  /** The most a server may send in one message; 64 MiB by default. */
  maxMessageBytes?: number;
}

interface Entry<C extends Connection> {
  promise: Promise<C>;
  /** Set once connected. */
  connection?: C;
}

export class Connections<C extends Connection = Connection> {
  private readonly entries = new Map<string, Entry<C>>();
  /** Connections being shut down; `closeAll` waits for them too. */
  private readonly shutdowns = new Set<Promise<void>>();

  constructor(
    private readonly servers: Record<string, McpServerConfig>,
    private readonly options: ConnectionOptions<C>,
    /** Adds the pool's own per-connection state to a new connection. */
    private readonly extend: (conn: Connection) => C,
  ) {}

  /** A configured server's config; an unknown name is a non-retryable configuration error. */
  configOf(server: string): McpServerConfig {
    const config = Object.hasOwn(this.servers, server) ? this.servers[server] : undefined;
    if (!config) {
      const configured = Object.keys(this.servers).join(", ") || "(none)";
      throw ApplicationFailure.nonRetryable(`Unknown MCP server '${server}'. Configured servers: ${configured}`, FailureType.configuration);
    }
    return config;
  }

  /**
   * Runs `operation` on the server's connection. If the connection dies under it, the connection
   * is dropped and a read (`idempotent`) is retried once on a fresh one. A tool call is not: it
   * may have acted, and its attempts are Temporal's to count (`tools.maximumAttempts`).
   */
  async withConnection<T>(
    server: string,
    phase: string,
    signal: AbortSignal | undefined,
    operation: (conn: C) => Promise<T>,
    { idempotent = true, exclusive = false }: { idempotent?: boolean; /** No other exclusive operation shares the connection meanwhile (`exclusiveCalls`). */ exclusive?: boolean } = {},
  ): Promise<T> {
    const config = this.configOf(server);
    const tries = idempotent ? 2 : 1;
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      // A connection that cannot be opened is not retried here; Temporal retries the activity.
      const conn = exclusive ? await this.acquireExclusive(server, config) : await this.acquire(server, config);
      const since = Date.now();
      try {
        return await operation(conn);
      } catch (error) {
        if (signal?.aborted) throw signal.reason ?? error;
        if (error instanceof ApplicationFailure) throw error;
        // Signing in, a credential, a server that breaks the protocol: the same request would fail the same way.
        const hopeless = nonRetryableFailure(conn, phase, error, since);
        if (hopeless) throw hopeless;
        if (isRequestEnded(error, "timeout")) {
          throw unavailable(`MCP server '${server}' did not answer ${phase} within ${timeoutOf(config)}ms`);
        }
        if (isProtocolError(error)) {
          throw unavailable(redactSecrets(config, `MCP server '${server}' rejected ${phase}: ${error.message}`));
        }
        // Anything else means the connection is gone or unusable (process died, HTTP session lost).
        await settle();
        const message = failureMessage(conn, phase, error);
        this.drop(conn);
        if (attempt >= tries || this.shutDown) throw unavailable(message);
        serverLogger(this.options.logger, config).warn({ mcpServer: server, err: errorText(error) }, `${message}; reconnecting and retrying once`);
      } finally {
        if (exclusive) this.release(conn);
      }
    }
  }

  /** The open connection to a server, if any. */
  async info(server: string): Promise<McpConnectionInfo | undefined> {
    const entry = this.entries.get(server);
    if (!entry) return undefined;
    const conn = await entry.promise.catch(() => undefined);
    if (!conn || conn.closed) return undefined;
    return { client: conn.client, transport: conn.transport, pid: conn.pid };
  }

  /** Closes one server's connections; the next use reopens one. */
  async close(server: string): Promise<void> {
    const entry = this.entries.get(server);
    if (entry) {
      this.entries.delete(server);
      const conn = await entry.promise.catch(() => undefined);
      if (conn) this.shutdown(conn);
    }
    for (const conn of this.extras.get(server) ?? []) this.shutdown(conn);
    this.extras.delete(server);
    await Promise.allSettled([...this.shutdowns]);
  }

  /** Closes every connection and waits until no server process is left; none is opened after. */
  async closeAll(): Promise<void> {
    this.shutDown = true;
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const extras of this.extras.values()) for (const conn of extras) this.shutdown(conn);
    this.extras.clear();
    await Promise.allSettled(
      entries.map(async (entry) => {
        const conn = await entry.promise.catch(() => undefined);
        if (conn) this.shutdown(conn);
      }),
    );
    await Promise.allSettled([...this.shutdowns]);
  }

  /** The async context the pool was made in, outside any activity's (see `unattached`). */
  private readonly scope = new AsyncResource("duragent.mcp-connections");

  /** Set by `closeAll`: a step that starts after it (its run outlived its engine) spawns nothing to outlive the process. */
  private shutDown = false;

  private acquire(server: string, config: McpServerConfig): Promise<C> {
    if (this.shutDown) return Promise.reject(unavailable(`MCP server '${server}' was not started: duragent's MCP connections are closed (it is shutting down).`));
    const existing = this.entries.get(server);
    if (existing) return existing.promise;
    const forget = (): void => {
      if (this.entries.get(server) === entry) this.entries.delete(server);
    };
    const entry: Entry<C> = {
      promise: this.open(server, config, forget).then(
        (conn) => {
          entry.connection = conn;
          return conn;
        },
        (error: unknown) => {
          forget();
          throw error;
        },
      ),
    };
    this.entries.set(server, entry);
    return entry.promise;
  }

  /** Connections in use by an exclusive operation. */
  private readonly busy = new Set<C>();
  /** Per server, the connections opened beyond the first for exclusive operations that overlapped. */
  private readonly extras = new Map<string, Set<C>>();
  private readonly idleTimers = new WeakMap<C, ReturnType<typeof setTimeout>>();

  /** A connection no other exclusive operation uses: the server's first if it is free, else another, opened if need be. */
  private async acquireExclusive(server: string, config: McpServerConfig): Promise<C> {
    const first = await this.acquire(server, config);
    let extras = this.extras.get(server);
    const free = [first, ...(extras ?? [])].find((conn) => !conn.closed && !this.busy.has(conn));
    if (free) {
      this.busy.add(free);
      clearTimeout(this.idleTimers.get(free));
      return free;
    }
    if (!extras) this.extras.set(server, (extras = new Set()));
    const opened: { conn?: C } = {};
    const conn = await this.open(server, config, () => {
      if (opened.conn) extras.delete(opened.conn);
    });
    opened.conn = conn;
    // Busy at once: a connection is never handed to two exclusive operations, even while opening.
    this.busy.add(conn);
    if (!conn.closed) extras.add(conn);
    if (this.shutDown) this.shutdown(conn);
    return conn;
  }

  /** Frees a connection an exclusive operation held; one beyond the server's first is closed after a minute unused. */
  private release(conn: C): void {
    this.busy.delete(conn);
    const extras = this.extras.get(conn.server);
    if (!extras?.has(conn)) return;
    const timer = setTimeout(() => {
      if (this.busy.has(conn)) return;
      extras.delete(conn);
      this.shutdown(conn);
    }, EXTRA_CONNECTION_IDLE_MS);
    timer.unref();
    this.idleTimers.set(conn, timer);
  }

  private async open(server: string, config: McpServerConfig, forget: () => void): Promise<C> {
    const logger = serverLogger(this.options.logger, config);
    const timeout = timeoutOf(config);
    // Speaks 2026-07-28 to a server that offers it (found by a `server/discover` probe), and the
    // 2025 handshake to the rest. A stdio server that ignores the probe is a 2025 server, so it
    // is not waited for long.
    const startup = startupTimeoutOf(config);
    const probe = { timeoutMs: "command" in config ? Math.min(startup.ms, STDIO_PROBE_TIMEOUT_MS) : startup.ms };
    // A server whose config turns sampling off is not told it may ask.
    const { sampling: _sampling, ...withoutSampling } = this.options.capabilities;
    const capabilities = config.sampling === false ? withoutSampling : this.options.capabilities;
    const client = new Client(this.options.clientInfo, { capabilities, versionNegotiation: { mode: "auto", probe } });
    const maxMessageBytes = this.options.maxMessageBytes ?? MAX_MESSAGE_BYTES;
    const { transport, stdio } = createTransport(server, config, {
      authProvider: this.options.authProvider,
      logger,
      maxMessageBytes,
      // A server that broke the protocol this badly is dropped at once, so its requests fail now, not
      // at their timeout. Only a response can misbehave, so `conn` exists by then.
      onMisbehavior: (error) => {
        conn.misbehavior ??= error;
        logger.warn({ mcpServer: server, err: error.message }, "MCP server misbehaved; dropping the connection");
        this.drop(conn);
      },
      onAnswerLost: (error) => {
        logger.warn({ mcpServer: server, err: errorText(error) }, `MCP server '${server}' broke off an answer mid-stream; dropping the connection`);
        this.drop(conn);
      },
    });
    withoutMalformedTools(transport, (tool, why) =>
      logger.warn({ mcpServer: server, tool }, `MCP server '${server}' offered tool '${tool}' with a definition the MCP SDK refuses (${why}); it is left out, its other tools kept`),
    );
    const conn = this.extend({ server, config, client, transport, stdio, stderrTail: [], pid: null, connected: false, closed: false, closing: false });
    // What a connection logs after it opened (its stderr, its exit) belongs to no one run: logged
    // outside the activity that happened to open it, it carries no stale run.
    const unattached = (log: () => void) => this.scope.runInAsyncScope(log);
    if (stdio) forwardStderr(stdio, conn.stderrTail, (text) => unattached(() => logger.info({ mcpServer: server, stream: "stderr" }, text)));
    this.options.onOpen(conn);
    client.onerror = (error) => {
      if (/^ReadBuffer exceeded maximum size/.test(error.message)) {
        // Over stdio the SDK drops the connection itself; the failure says why.
        conn.misbehavior ??= new MessageTooLarge(server, maxMessageBytes);
      } else if (isMalformedMessage(error)) {
        // Skipped by the SDK; remembered, so the request it should have answered fails saying why.
        conn.malformed = { text: malformedText(error), at: Date.now() };
        logger.warn({ mcpServer: server, err: conn.malformed.text }, `MCP server '${server}' sent a malformed message`);
        return;
      }
      logger.debug({ mcpServer: server, err: errorText(error) }, "MCP transport error");
    };
    client.onclose = () => {
      conn.closed = true;
      forget();
      if (conn.connected && !conn.closing) {
        const how = stdio ? describeExit(stdio) : "closed the connection";
        // Shutting down, or Ctrl-C in the terminal (its process group gets the SIGINT too): expected.
        const expected = this.shutDown || stdio?.exit?.signal === "SIGINT";
        unattached(() => logger[expected ? "debug" : "warn"]({ mcpServer: server, lastStderr: conn.stderrTail.at(-1) }, `MCP server '${server}' ${how}`));
      }
    };

    const since = Date.now();
    try {
      // One deadline for the version probe and the handshake after it: the SDK reads the
      // handshake's timeout once the probe is over, and gets what is left.
      await client.connect(transport, {
        get timeout() {
          return Math.max(1, since + startup.ms - Date.now());
        },
      });
    } catch (error) {
      conn.pid = stdio?.pid ?? null;
      // The server's last words (npm's, for `npx`) say why it did not start.
      if (stdio) await stderrEnded(stdio, SHUTDOWN_GRACE_MS);
      await settle();
      this.shutdown(conn);
      // Retrying cannot sign anyone in, fix a server that breaks the protocol, or install a command; the message says what will.
      const hopeless = nonRetryableFailure(conn, "initialize", error, since);
      if (hopeless) throw hopeless;
      const missing = missingCommand(conn, error, existsSync);
      if (missing) throw ApplicationFailure.nonRetryable(missing, FailureType.configuration);
      if (isRequestEnded(error, "timeout")) {
        const said = tellingStderrLine(conn.stderrTail);
        throw unavailable(
          redactSecrets(
            config,
            `MCP server '${server}' did not finish starting (initialize) within ${startup.ms} ms (mcp.servers.${server}.${startup.setting})${said ? `; its last stderr line: ${said}` : ""}`,
          ),
        );
      }
      throw unavailable(failureMessage(conn, "initialize", error));
    }
    conn.pid = stdio?.pid ?? null;
    conn.connected = true;
    if (config.logLevel && client.getServerCapabilities()?.logging) {
      await client.setLoggingLevel(config.logLevel, { timeout }).catch((error: unknown) => {
        logger.warn({ mcpServer: server, err: errorText(error) }, "MCP server refused logging/setLevel");
      });
    }
    logger.info({ mcpServer: server, pid: conn.pid ?? undefined }, `Connected to MCP server '${server}'`);
    return conn;
  }

  /** Forgets a connection and shuts it down in the background. */
  private drop(conn: C): void {
    const entry = this.entries.get(conn.server);
    if (entry?.connection === conn) this.entries.delete(conn.server);
    this.shutdown(conn);
  }

  private shutdown(conn: Connection): void {
    if (conn.closing) return;
    conn.closing = true;
    conn.closed = true;
    const done = closeConnection(conn)
      .catch((error: unknown) => {
        serverLogger(this.options.logger, conn.config).warn({ mcpServer: conn.server, err: errorText(error) }, "Error closing MCP connection");
      })
      .finally(() => this.shutdowns.delete(done));
    this.shutdowns.add(done);
  }
}

async function closeConnection(conn: Connection): Promise<void> {
  const { transport, stdio } = conn;
  if (transport instanceof StreamableHTTPClientTransport && transport.sessionId) {
    // Lets the server free the session now rather than when it times out.
    await withTimeout(transport.terminateSession(), SHUTDOWN_GRACE_MS).catch(() => {});
  }
  // Found while the server's process tree is still whole, and its pid still its own (see `descendantsOf`).
  const child = stdio?.child;
  const running = child?.pid !== undefined && child.exitCode === null && child.signalCode === null;
  const descendants = running ? await descendantsOf(child.pid!) : [];
  const closing = conn.client.close();
  // A grandchild (the server `npx` started) would keep our pipes, and so this process, alive.
  await Promise.all([
    child ? ensureExited(child) : stdio?.pid != null ? ensureExitedByPid({ pid: stdio.pid }) : undefined,
    ...descendants.map(ensureExitedByPid),
  ]);
  await withTimeout(closing, SHUTDOWN_GRACE_MS);
}

/** Lets pending close/exit/stderr events land before we describe what happened. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
