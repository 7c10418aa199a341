/**
 * Worker-side MCP connections: one lazily opened client per configured server, shared by every
 * activity on the worker, reopened when the server goes away.
 */
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  ErrorCode,
  ListRootsRequestSchema,
  McpError,
  ToolListChangedNotificationSchema,
  type Root,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import { ApplicationFailure } from "@temporalio/common";
import { Ajv, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import { FailureType } from "../../common/failures.js";
import { toolError, type ToolCallRequest, type ToolDefinition, type ToolResult } from "../../common/tools.js";
import type { McpServerConfig, StdioServerConfig } from "../../config/schema.js";
import { describeSchemaErrors, toToolResult } from "./tool-results.js";

type LogFn = (obj: Record<string, unknown>, msg?: string) => void;
/** The pino methods the pool uses; a pino logger fits. */
export interface McpPoolLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

export interface McpConnectionPoolOptions {
  logger?: McpPoolLogger;
  clientInfo?: { name: string; version: string };
}

export interface McpCallOptions {
  /** Cancels the request (the server is sent `notifications/cancelled`). */
  signal?: AbortSignal;
}

/** A live connection, for diagnostics and tests. */
export interface McpConnectionInfo {
  client: Client;
  transport: Transport;
  /** The server process, for stdio servers. */
  pid: number | null;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const STDERR_TAIL_LINES = 20;
/** How long a stdio server gets after stdin closes, and again after SIGTERM, before SIGKILL. */
const SHUTDOWN_GRACE_MS = 1_000;
const MAX_TOOL_PAGES = 1_000;

const noop: LogFn = () => {};
const silentLogger: McpPoolLogger = { debug: noop, info: noop, warn: noop, error: noop };

/** Stdio transport that also remembers how its process ended, for error messages. */
class ObservedStdioTransport extends StdioClientTransport {
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

interface Connection {
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
  tools: Promise<Tool[]> | undefined;
  validators: Map<string, ValidateFunction | null>;
}

interface Entry {
  promise: Promise<Connection>;
  /** Set once connected. */
  connection?: Connection;
}

export class McpConnectionPool {
  private readonly servers: Record<string, McpServerConfig>;
  private readonly logger: McpPoolLogger;
  private readonly clientInfo: { name: string; version: string };
  private readonly entries = new Map<string, Entry>();
  /** Connections being shut down; `closeAll` waits for them too. */
  private readonly shutdowns = new Set<Promise<void>>();
  private readonly ajv = new Map<string, Ajv | Ajv2019 | Ajv2020>();

  constructor(servers: Record<string, McpServerConfig>, options: McpConnectionPoolOptions = {}) {
    this.servers = servers;
    this.logger = options.logger ?? silentLogger;
    this.clientInfo = options.clientInfo ?? { name: "duragent", version: "0.1.0" };
  }

  /** The tools of a server, filtered by its `allowedTools`. */
  async listTools(server: string): Promise<ToolDefinition[]> {
    const tools = await this.withConnection(server, "tools/list", undefined, (conn) => this.toolsOf(conn));
    return tools.map((tool) => {
      const definition: ToolDefinition = { server, name: tool.name, inputSchema: tool.inputSchema };
      if (tool.description !== undefined) definition.description = tool.description;
      return definition;
    });
  }

  /**
   * Calls a tool. The model's mistakes (unknown tool, bad arguments, errors the server reports)
   * come back as `isError` results; a server that cannot be reached throws a retryable failure.
   */
  async callTool(request: ToolCallRequest, options: McpCallOptions = {}): Promise<ToolResult> {
    const { server, tool: name } = request;
    const { signal } = options;
    return this.withConnection(server, `tools/call ${name}`, signal, async (conn) => {
      const tools = await this.toolsOf(conn);
      const tool = tools.find((t) => t.name === name);
      if (!tool) {
        const available = tools.map((t) => t.name).join(", ") || "(none)";
        return toolError(`Unknown tool '${name}' on server '${server}'. Available: ${available}`);
      }
      const invalid = this.checkArguments(conn, tool, request.arguments);
      if (invalid) return toolError(invalid);
      try {
        const result = await conn.client.callTool({ name, arguments: request.arguments }, undefined, {
          timeout: timeoutOf(conn.config),
          ...(signal ? { signal } : {}),
        });
        return toToolResult(result);
      } catch (error) {
        // The server answered with a JSON-RPC error: the model's mistake, so the model should see it.
        if (isProtocolError(error)) return toolError(`${name} failed: ${error.message}`);
        if (isMalformedResult(error)) return toolError(`${name} returned a malformed result: ${errorText(error)}`);
        throw error;
      }
    });
  }

  /** The open connection to a server, if any. */
  async getConnection(server: string): Promise<McpConnectionInfo | undefined> {
    const entry = this.entries.get(server);
    if (!entry) return undefined;
    const conn = await entry.promise.catch(() => undefined);
    if (!conn || conn.closed) return undefined;
    return { client: conn.client, transport: conn.transport, pid: conn.pid };
  }

  /** Closes one server's connection; the next use reopens it. */
  async close(server: string): Promise<void> {
    const entry = this.entries.get(server);
    if (entry) {
      this.entries.delete(server);
      const conn = await entry.promise.catch(() => undefined);
      if (conn) this.shutdown(conn);
    }
    await Promise.allSettled([...this.shutdowns]);
  }

  /** Closes every connection and waits until no server process is left. */
  async closeAll(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.allSettled(
      entries.map(async (entry) => {
        const conn = await entry.promise.catch(() => undefined);
        if (conn) this.shutdown(conn);
      }),
    );
    await Promise.allSettled([...this.shutdowns]);
  }

  // --- connections ----------------------------------------------------------------------------

  private configOf(server: string): McpServerConfig {
    const config = Object.hasOwn(this.servers, server) ? this.servers[server] : undefined;
    if (!config) {
      const configured = Object.keys(this.servers).join(", ") || "(none)";
      throw ApplicationFailure.nonRetryable(
        `Unknown MCP server '${server}'. Configured servers: ${configured}`,
        FailureType.configuration,
      );
    }
    return config;
  }

  /**
   * Runs `operation` on the server's connection. If the connection dies under it, the connection
   * is dropped and the operation retried once on a fresh one.
   */
  private async withConnection<T>(
    server: string,
    phase: string,
    signal: AbortSignal | undefined,
    operation: (conn: Connection) => Promise<T>,
  ): Promise<T> {
    const config = this.configOf(server);
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      // A connection that cannot be opened is not retried here; Temporal retries the activity.
      const conn = await this.acquire(server, config);
      try {
        return await operation(conn);
      } catch (error) {
        if (signal?.aborted) throw signal.reason ?? error;
        if (error instanceof ApplicationFailure) throw error;
        if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
          throw unavailable(`MCP server '${server}' did not answer ${phase} within ${timeoutOf(config)}ms`);
        }
        if (isProtocolError(error)) {
          throw unavailable(`MCP server '${server}' rejected ${phase}: ${error.message}`);
        }
        // Anything else means the connection is gone or unusable (process died, HTTP session lost).
        await settle();
        const message = this.failureMessage(conn, phase, error);
        this.drop(conn);
        if (attempt >= 2) throw unavailable(message);
        this.logger.warn({ mcpServer: server, err: errorText(error) }, `${message}; reconnecting and retrying once`);
      }
    }
  }

  private acquire(server: string, config: McpServerConfig): Promise<Connection> {
    const existing = this.entries.get(server);
    if (existing) return existing.promise;
    const forget = (): void => {
      if (this.entries.get(server) === entry) this.entries.delete(server);
    };
    const entry: Entry = {
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

  private async open(server: string, config: McpServerConfig, forget: () => void): Promise<Connection> {
    const timeout = timeoutOf(config);
    const client = new Client(this.clientInfo, { capabilities: { roots: {} } });
    const { transport, stdio } = this.createTransport(server, config);
    const conn: Connection = {
      server,
      config,
      client,
      transport,
      stdio,
      stderrTail: [],
      pid: null,
      connected: false,
      closed: false,
      closing: false,
      tools: undefined,
      validators: new Map(),
    };
    if (stdio) this.forwardStderr(conn, stdio);

    client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: rootsOf(config) }));
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      conn.tools = undefined;
      conn.validators.clear();
      this.logger.debug({ mcpServer: server }, "MCP tool list changed");
    });
    client.onerror = (error) => {
      this.logger.debug({ mcpServer: server, err: errorText(error) }, "MCP transport error");
    };
    client.onclose = () => {
      conn.closed = true;
      forget();
      if (conn.connected && !conn.closing) {
        const how = stdio ? describeExit(stdio) : "closed the connection";
        this.logger.warn({ mcpServer: server, lastStderr: conn.stderrTail.at(-1) }, `MCP server '${server}' ${how}`);
      }
    };

    try {
      await client.connect(transport, { timeout });
    } catch (error) {
      conn.pid = stdio?.pid ?? null;
      await settle();
      const message = this.failureMessage(conn, "initialize", error);
      this.shutdown(conn);
      throw unavailable(message);
    }
    conn.pid = stdio?.pid ?? null;
    conn.connected = true;
    this.logger.info({ mcpServer: server, pid: conn.pid ?? undefined }, `Connected to MCP server '${server}'`);
    return conn;
  }

  private createTransport(
    server: string,
    config: McpServerConfig,
  ): { transport: Transport; stdio: ObservedStdioTransport | undefined } {
    if ("command" in config) {
      const stdio = new ObservedStdioTransport({
        command: config.command,
        args: config.args ?? [],
        env: { ...getDefaultEnvironment(), ...config.env },
        ...(config.cwd !== undefined ? { cwd: path.resolve(config.cwd) } : {}),
        stderr: "pipe",
      });
      return { transport: stdio, stdio };
    }
    const url = new URL(config.url);
    const requestInit: RequestInit = config.headers ? { headers: config.headers } : {};
    if (config.transport === "sse") {
      return { transport: new SSEClientTransport(url, { requestInit }), stdio: undefined };
    }
    this.logger.debug({ mcpServer: server, url: url.href }, "Using Streamable HTTP transport");
    return { transport: new StreamableHTTPClientTransport(url, { requestInit }), stdio: undefined };
  }

  /** Server stderr goes to our log, and its tail into error messages, instead of our own stderr. */
  private forwardStderr(conn: Connection, stdio: ObservedStdioTransport): void {
    const stream = stdio.stderr;
    if (!stream) return;
    const decoder = new StringDecoder("utf8");
    let pending = "";
    const emit = (line: string): void => {
      const text = line.replace(/\r$/, "");
      if (!text.trim()) return;
      conn.stderrTail.push(text);
      if (conn.stderrTail.length > STDERR_TAIL_LINES) conn.stderrTail.shift();
      this.logger.info({ mcpServer: conn.server, stream: "stderr" }, text);
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

  /** Says what happened to the server in words an operator can act on. */
  private failureMessage(conn: Connection, phase: string, error: unknown): string {
    const { server, config, stdio } = conn;
    const lastStderr = conn.stderrTail.at(-1);
    if (stdio?.exit) {
      return `MCP server '${server}' ${describeExit(stdio)} during ${phase}${lastStderr ? `: ${lastStderr}` : ""}`;
    }
    if ("command" in config) {
      const started = stdio?.pid != null;
      const what = started ? `failed during ${phase}` : `could not be started (command '${commandLine(config)}')`;
      return `MCP server '${server}' ${what}: ${errorText(error)}${lastStderr && started ? ` (stderr: ${lastStderr})` : ""}`;
    }
    return `MCP server '${server}' at ${config.url} failed during ${phase}: ${errorText(error)}`;
  }

  /** Forgets a connection and shuts it down in the background. */
  private drop(conn: Connection): void {
    const entry = this.entries.get(conn.server);
    if (entry?.connection === conn) this.entries.delete(conn.server);
    this.shutdown(conn);
  }

  private shutdown(conn: Connection): void {
    if (conn.closing) return;
    conn.closing = true;
    conn.closed = true;
    const done = this.closeConnection(conn)
      .catch((error: unknown) => {
        this.logger.warn({ mcpServer: conn.server, err: errorText(error) }, "Error closing MCP connection");
      })
      .finally(() => this.shutdowns.delete(done));
    this.shutdowns.add(done);
  }

  private async closeConnection(conn: Connection): Promise<void> {
    const { transport, stdio } = conn;
    if (transport instanceof StreamableHTTPClientTransport && transport.sessionId) {
      // Lets the server free the session now rather than when it times out.
      await withTimeout(transport.terminateSession(), SHUTDOWN_GRACE_MS).catch(() => {});
    }
    const closing = conn.client.close();
    if (stdio?.child) {
      await ensureExited(stdio.child);
    } else if (stdio?.pid != null) {
      await ensureExitedByPid(stdio.pid);
    }
    // The SDK waits for the pipes to close, which a lingering grandchild could hold open.
    await withTimeout(closing, SHUTDOWN_GRACE_MS);
  }

  // --- tools ----------------------------------------------------------------------------------

  private toolsOf(conn: Connection): Promise<Tool[]> {
    if (conn.tools) return conn.tools;
    const loading = this.fetchTools(conn);
    conn.tools = loading;
    loading.catch(() => {
      if (conn.tools === loading) conn.tools = undefined;
    });
    return loading;
  }

  private async fetchTools(conn: Connection): Promise<Tool[]> {
    if (!conn.client.getServerCapabilities()?.tools) return [];
    const tools: Tool[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_TOOL_PAGES; page++) {
      const result = await conn.client.listTools(cursor === undefined ? undefined : { cursor }, {
        timeout: timeoutOf(conn.config),
      });
      tools.push(...result.tools);
      cursor = result.nextCursor;
      // A server that repeats a cursor would otherwise keep us here forever.
      if (cursor === undefined || seen.has(cursor)) break;
      seen.add(cursor);
    }
    const allowed = allowedToolsMatcher(conn.config.allowedTools);
    return tools.filter((tool) => allowed(tool.name));
  }

  /** An error text for invalid arguments, or undefined when they fit the tool's input schema. */
  private checkArguments(conn: Connection, tool: Tool, args: Record<string, unknown>): string | undefined {
    let validate = conn.validators.get(tool.name);
    if (validate === undefined) {
      validate = this.compile(conn.server, tool);
      conn.validators.set(tool.name, validate);
    }
    if (!validate || validate(args)) return undefined;
    return `Invalid arguments for ${tool.name}: ${describeSchemaErrors(validate.errors ?? [])}`;
  }

  /** Null when the schema cannot be compiled; the server still validates, so we let the call through. */
  private compile(server: string, tool: Tool): ValidateFunction | null {
    const { $schema, ...schema } = tool.inputSchema as Record<string, unknown>;
    const dialect = typeof $schema === "string" && /2020-12/.test($schema) ? "2020-12"
      : typeof $schema === "string" && /2019-09/.test($schema) ? "2019-09"
      : "draft-07";
    let ajv = this.ajv.get(dialect);
    if (!ajv) {
      const options = {
        allErrors: true,
        strict: false,
        // Formats are left to the server: we would need ajv-formats, and it checks them anyway.
        validateFormats: false,
        // Tools may reuse `$id`s; adding them to the shared instance would make compile throw.
        addUsedSchema: false,
        logger: false as const,
      };
      ajv = dialect === "2020-12" ? new Ajv2020(options) : dialect === "2019-09" ? new Ajv2019(options) : new Ajv(options);
      this.ajv.set(dialect, ajv);
    }
    try {
      return ajv.compile(schema);
    } catch (error) {
      this.logger.warn(
        { mcpServer: server, tool: tool.name, err: errorText(error) },
        "Cannot compile the tool's input schema; arguments go to the server unchecked",
      );
      return null;
    }
  }
}

// --- helpers ------------------------------------------------------------------------------------

function timeoutOf(config: McpServerConfig): number {
  return config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
}

function unavailable(message: string): ApplicationFailure {
  return ApplicationFailure.retryable(message, FailureType.mcpServerUnavailable);
}

/** A JSON-RPC error the server sent, as opposed to the SDK's own "connection closed"/"timed out". */
function isProtocolError(error: unknown): error is McpError {
  return (
    error instanceof McpError && error.code !== ErrorCode.ConnectionClosed && error.code !== ErrorCode.RequestTimeout
  );
}

function isMalformedResult(error: unknown): boolean {
  return error instanceof Error && error.name === "ZodError";
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  const causeMessage = typeof cause?.message === "string" ? cause.message : undefined;
  if (code && !error.message.includes(code)) return `${error.message} (${code})`;
  if (causeMessage && !error.message.includes(causeMessage)) return `${error.message} (${causeMessage})`;
  return error.message;
}

function describeExit(stdio: ObservedStdioTransport): string {
  const exit = stdio.exit;
  if (!exit) return "closed its connection";
  return exit.signal ? `was killed (${exit.signal})` : `exited (code ${exit.code})`;
}

function commandLine(config: StdioServerConfig): string {
  return [config.command, ...(config.args ?? [])].join(" ");
}

function rootsOf(config: McpServerConfig): Root[] {
  return (config.roots ?? []).map((root) => {
    if (/^file:\/\//i.test(root)) return { uri: root };
    const absolute = path.resolve(process.cwd(), root);
    return { uri: pathToFileURL(absolute).href, name: path.basename(absolute) || absolute };
  });
}

/** `allowedTools` patterns, where `*` matches any run of characters. */
export function allowedToolsMatcher(patterns: string[] | undefined): (name: string) => boolean {
  if (!patterns) return () => true;
  const regexes = patterns.map(
    (pattern) => new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`),
  );
  return (name) => regexes.some((regex) => regex.test(name));
}

/** Lets pending close/exit/stderr events land before we describe what happened. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
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
async function ensureExited(child: ChildProcess): Promise<void> {
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
async function ensureExitedByPid(pid: number): Promise<void> {
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
