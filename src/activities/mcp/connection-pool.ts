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
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  ToolListChangedNotificationSchema,
  type CreateMessageRequest,
  type CreateMessageResult,
  type ElicitRequest,
  type ElicitResult,
  type Root,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { ApplicationFailure } from "@temporalio/common";
import { Ajv, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import { FailureType } from "../../common/failures.js";
import type { LlmRequest, LlmResponse } from "../../common/llm.js";
import type {
  PromptInfo,
  PromptRequest,
  PromptResult,
  ResourceInfo,
  ResourceRequest,
  ResourceResult,
  ResourceTemplateInfo,
} from "../../common/mcp-context.js";
import type { ServerRequest, ServerRequestAnswer } from "../../common/server-requests.js";
import { toolError, type ToolCallRequest, type ToolDefinition, type ToolResult } from "../../common/tools.js";
import type { McpServerConfig, StdioServerConfig } from "../../config/schema.js";
import { DuragentOAuthProvider, SignInRequired } from "../../auth/oauth-provider.js";
import { toPromptResult, toResourceResult } from "./context-items.js";
import {
  chooseSamplingModel,
  logLevelOf,
  samplingApprovalMessage,
  toSamplingLlmRequest,
  toSamplingResult,
  toServerRequest,
} from "./server-requests.js";
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
  /** Answers servers' `sampling/createMessage`; without it, sampling requests are refused. */
  sampling?: McpSamplingOptions;
  /** Supplies the OAuth client for servers configured with `auth` (see src/auth). */
  authProvider?: (server: string, config: McpServerConfig) => OAuthClientProvider | undefined;
}

export interface McpSamplingOptions {
  /** One model turn, through the same provider layer as agents. */
  callLlm(request: LlmRequest, signal?: AbortSignal): Promise<LlmResponse>;
  /** `llm.defaultModel`: used when neither hints nor `sampling.model` pick another. */
  defaultModel: string;
}

export interface McpProgress {
  progress: number;
  total?: number;
  message?: string;
}

export interface McpCallOptions {
  /** Cancels the request (the server is sent `notifications/cancelled`). */
  signal?: AbortSignal;
  /**
   * Asks a person on the server's behalf (elicitation, sampling approval) and resolves with the
   * answer; the same `request.key` must give the same answer. Without it such requests are refused.
   */
  askPerson?: (request: ServerRequest, signal: AbortSignal) => Promise<ServerRequestAnswer>;
  /** Receives the call's progress notifications. */
  onProgress?: (progress: McpProgress) => void;
}

/** One tool call in flight on a connection: where the server's requests during it are routed. */
interface CallScope {
  callId: string;
  tool: string;
  signal: AbortSignal;
  askPerson: McpCallOptions["askPerson"];
  /** Server requests during this attempt, numbering their keys; a retry starts again at 1. */
  requests: number;
  /** Requests waiting for a person; the call's timeout stands still meanwhile. */
  waiting: number;
  /** Restarts the call's timeout (progress, an answer). */
  touch(): void;
}

/** A live connection, for diagnostics and tests. */
export interface McpConnectionInfo {
  client: Client;
  transport: Transport;
  /** The server process, for stdio servers. */
  pid: number | null;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const STDIO_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** The SDK's own request timer, effectively off: our timer for tool calls pauses while a person answers. */
const SDK_TIMEOUT_OFF_MS = 2_000_000_000;
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
  /** Tool calls in flight, for routing the server's requests to the right run. */
  calls: Set<CallScope>;
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
  private readonly sampling: McpSamplingOptions | undefined;
  private readonly authProvider: McpConnectionPoolOptions["authProvider"];

  constructor(servers: Record<string, McpServerConfig>, options: McpConnectionPoolOptions = {}) {
    this.servers = servers;
    this.logger = options.logger ?? silentLogger;
    this.clientInfo = options.clientInfo ?? { name: "duragent", version: "0.1.0" };
    this.sampling = options.sampling;
    this.authProvider = options.authProvider;
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
      const timeout = timeoutOf(conn.config);
      // Our own timer rather than the SDK's: it restarts on progress and stands still while a
      // person answers the server, who may take far longer than any request timeout.
      const controller = new AbortController();
      const onAbort = (): void => controller.abort(signal?.reason);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
      let timer: NodeJS.Timeout | undefined;
      const scope: CallScope = {
        callId: request.callId ?? `${name}-${Date.now()}`,
        tool: name,
        signal: controller.signal,
        askPerson: options.askPerson,
        requests: 0,
        waiting: 0,
        touch: () => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            if (scope.waiting > 0) return scope.touch();
            controller.abort(new McpError(ErrorCode.RequestTimeout, `Request timed out after ${timeout}ms`));
          }, timeout);
        },
      };
      scope.touch();
      conn.calls.add(scope);
      try {
        const result = await conn.client.callTool({ name, arguments: request.arguments }, undefined, {
          timeout: SDK_TIMEOUT_OFF_MS,
          signal: controller.signal,
          onprogress: (progress) => {
            scope.touch();
            options.onProgress?.({
              progress: progress.progress,
              ...(progress.total !== undefined ? { total: progress.total } : {}),
              ...(progress.message !== undefined ? { message: progress.message } : {}),
            });
          },
        });
        return toToolResult(result);
      } catch (error) {
        // The server answered with a JSON-RPC error: the model's mistake, so the model should see it.
        if (isProtocolError(error)) return toolError(`${name} failed: ${error.message}`);
        if (isMalformedResult(error)) return toolError(`${name} returned a malformed result: ${errorText(error)}`);
        throw error;
      } finally {
        clearTimeout(timer);
        conn.calls.delete(scope);
        signal?.removeEventListener("abort", onAbort);
      }
    });
  }

  // --- prompts and resources --------------------------------------------------------------------

  async listPrompts(server: string): Promise<PromptInfo[]> {
    return this.withConnection(server, "prompts/list", undefined, async (conn) => {
      if (!conn.client.getServerCapabilities()?.prompts) return [];
      const prompts = await this.paginate((cursor) => conn.client.listPrompts(cursor, { timeout: timeoutOf(conn.config) }).then((r) => ({ nextCursor: r.nextCursor, items: r.prompts })));
      return prompts.map((prompt) => ({
        server,
        name: prompt.name,
        ...optional({ title: prompt.title, description: prompt.description }),
        ...(prompt.arguments ? { arguments: prompt.arguments.map((argument) => ({ name: argument.name, ...optional({ description: argument.description, required: argument.required }) })) } : {}),
      }));
    });
  }

  async getPrompt(request: PromptRequest, options: { signal?: AbortSignal } = {}): Promise<PromptResult> {
    const { server, name } = request;
    return this.withConnection(server, `prompts/get ${name}`, options.signal, async (conn) => {
      const result = await this.userFacing(`prompt '${name}' on '${server}'`, () =>
        conn.client.getPrompt({ name, arguments: request.arguments ?? {} }, { timeout: timeoutOf(conn.config), ...signalOf(options.signal) }),
      );
      return toPromptResult(server, name, result);
    });
  }

  async listResources(server: string): Promise<ResourceInfo[]> {
    return this.withConnection(server, "resources/list", undefined, async (conn) => {
      if (!conn.client.getServerCapabilities()?.resources) return [];
      const resources = await this.paginate((cursor) => conn.client.listResources(cursor, { timeout: timeoutOf(conn.config) }).then((r) => ({ nextCursor: r.nextCursor, items: r.resources })));
      return resources.map((resource) => ({
        server,
        uri: resource.uri,
        name: resource.name,
        ...optional({ title: resource.title, description: resource.description, mimeType: resource.mimeType, size: resource.size }),
      }));
    });
  }

  async listResourceTemplates(server: string): Promise<ResourceTemplateInfo[]> {
    return this.withConnection(server, "resources/templates/list", undefined, async (conn) => {
      if (!conn.client.getServerCapabilities()?.resources) return [];
      const templates = await this.paginate(
        (cursor) =>
          conn.client.listResourceTemplates(cursor, { timeout: timeoutOf(conn.config) }).then((r) => ({ nextCursor: r.nextCursor, items: r.resourceTemplates })),
      );
      return templates.map((template) => ({
        server,
        uriTemplate: template.uriTemplate,
        name: template.name,
        ...optional({ title: template.title, description: template.description, mimeType: template.mimeType }),
      }));
    });
  }

  async readResource(request: ResourceRequest, options: { signal?: AbortSignal } = {}): Promise<ResourceResult> {
    const { server, uri } = request;
    return this.withConnection(server, `resources/read ${uri}`, options.signal, async (conn) => {
      const result = await this.userFacing(`resource '${uri}' on '${server}'`, () =>
        conn.client.readResource({ uri }, { timeout: timeoutOf(conn.config), ...signalOf(options.signal) }),
      );
      return toResourceResult(server, uri, result);
    });
  }

  /** A server's refusal (unknown prompt or resource, bad arguments) is the caller's to fix, so never retried. */
  private async userFacing<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (isProtocolError(error)) {
        throw ApplicationFailure.nonRetryable(`MCP server refused ${what}: ${error.message}`, FailureType.configuration);
      }
      throw error;
    }
  }

  private async paginate<T>(page: (params: { cursor: string } | undefined) => Promise<{ nextCursor?: string | undefined; items: T[] }>): Promise<T[]> {
    const items: T[] = [];
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (let count = 0; count < MAX_TOOL_PAGES; count++) {
      const result = await page(cursor === undefined ? undefined : { cursor });
      items.push(...result.items);
      cursor = result.nextCursor;
      if (cursor === undefined || seen.has(cursor)) break;
      seen.add(cursor);
    }
    return items;
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

  // --- requests from the server -----------------------------------------------------------------

  /**
   * The tool call a server's request belongs to. MCP does not say (only Streamable HTTP ties it to
   * a call, and the SDK does not expose that), so a request is attributed to the one call in flight
   * on the connection; with several it could reach the wrong run, so it is refused instead.
   */
  private scopeOf(conn: Connection, what: string): CallScope {
    const scopes = [...conn.calls];
    if (scopes.length === 1) return scopes[0]!;
    if (scopes.length === 0) {
      throw new McpError(ErrorCode.InvalidRequest, `duragent answers ${what} only during a tool call; no tool call is in flight`);
    }
    throw new McpError(
      ErrorCode.InvalidRequest,
      `duragent cannot tell which of ${scopes.length} concurrent tool calls (${scopes.map((scope) => scope.tool).join(", ")}) sent ${what}; ` +
        `call this server's tools one at a time to use it`,
    );
  }

  /** Sends a request to the person behind the call's run, holding the call's timeout meanwhile. */
  private async askPerson(conn: Connection, scope: CallScope, build: (key: string) => ServerRequest, serverSignal: AbortSignal): Promise<ServerRequestAnswer> {
    if (!scope.askPerson) {
      throw new McpError(ErrorCode.InvalidRequest, `no person can answer requests from '${conn.server}' here (the call runs outside a duragent run)`);
    }
    const request = build(`${scope.callId}#${++scope.requests}`);
    scope.waiting++;
    try {
      return await scope.askPerson(request, AbortSignal.any([scope.signal, serverSignal]));
    } finally {
      scope.waiting--;
      scope.touch();
    }
  }

  private async elicit(conn: Connection, params: ElicitRequest["params"], serverSignal: AbortSignal): Promise<ElicitResult> {
    const scope = this.scopeOf(conn, "elicitation/create");
    this.logger.info({ mcpServer: conn.server, tool: scope.tool, mode: params.mode ?? "form" }, "MCP server asks a person (elicitation)");
    const context = { callId: scope.callId, server: conn.server, tool: scope.tool };
    const answer = await this.askPerson(conn, scope, (key) => toServerRequest(params, { ...context, key }), serverSignal);
    return answer.content ? { action: answer.action, content: answer.content as ElicitResult["content"] } : { action: answer.action };
  }

  private async sample(conn: Connection, params: CreateMessageRequest["params"], serverSignal: AbortSignal): Promise<CreateMessageResult> {
    if (!this.sampling) throw new McpError(ErrorCode.InvalidRequest, "sampling is not configured on this duragent worker");
    const settings = conn.config.sampling ?? {};
    const fallback = settings.model ?? this.sampling.defaultModel;
    const model = chooseSamplingModel(params.modelPreferences, [...(settings.models ?? []), fallback, this.sampling.defaultModel], fallback);
    const scope = settings.approval ? this.scopeOf(conn, "sampling/createMessage") : [...conn.calls][0];
    if (settings.approval && scope) {
      const message = samplingApprovalMessage(conn.server, scope.tool, model, params);
      const answer = await this.askPerson(
        conn,
        scope,
        (key) => ({ key, callId: scope.callId, server: conn.server, tool: scope.tool, kind: "sampling", mode: "form", message }),
        serverSignal,
      );
      // -1 is the code the MCP spec gives for a user's refusal of a sampling request.
      if (answer.action !== "accept") throw new McpError(-1, `The user ${answer.action === "decline" ? "declined" : "cancelled"} the sampling request`);
    }
    this.logger.info({ mcpServer: conn.server, model }, "Answering the MCP server's sampling request");
    const signal = scope ? AbortSignal.any([scope.signal, serverSignal]) : serverSignal;
    const response = await this.sampling.callLlm(toSamplingLlmRequest(params, model), signal);
    return toSamplingResult(response, model);
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
          throw unavailable(redactSecrets(config, `MCP server '${server}' rejected ${phase}: ${error.message}`));
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
    const client = new Client(this.clientInfo, {
      capabilities: {
        roots: {},
        ...(this.sampling ? { sampling: {} } : {}),
        elicitation: { form: { applyDefaults: true }, url: {} },
      },
    });
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
      calls: new Set(),
    };
    if (stdio) this.forwardStderr(conn, stdio);

    client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: rootsOf(config) }));
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      conn.tools = undefined;
      conn.validators.clear();
      this.logger.debug({ mcpServer: server }, "MCP tool list changed");
    });
    client.setRequestHandler(ElicitRequestSchema, (request, extra) => this.elicit(conn, request.params, extra.signal));
    // The SDK refuses a handler for a capability we do not declare.
    if (this.sampling) client.setRequestHandler(CreateMessageRequestSchema, (request, extra) => this.sample(conn, request.params, extra.signal));
    client.setNotificationHandler(LoggingMessageNotificationSchema, ({ params }) => {
      const text = typeof params.data === "string" ? params.data : JSON.stringify(params.data);
      const fields = { mcpServer: server, mcpLevel: params.level, ...(params.logger !== undefined ? { mcpLogger: params.logger } : {}) };
      this.logger[logLevelOf(params.level)](fields, text);
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
      this.shutdown(conn);
      // Retrying cannot sign anyone in; the message says which command will.
      if (error instanceof SignInRequired) throw ApplicationFailure.nonRetryable(error.message, FailureType.configuration);
      throw unavailable(this.failureMessage(conn, "initialize", error));
    }
    conn.pid = stdio?.pid ?? null;
    conn.connected = true;
    if (config.logLevel && client.getServerCapabilities()?.logging) {
      await client.setLoggingLevel(config.logLevel, { timeout }).catch((error: unknown) => {
        this.logger.warn({ mcpServer: server, err: errorText(error) }, "MCP server refused logging/setLevel");
      });
    }
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
        // The SDK's 10 MiB default drops the connection on a big file before our cut can apply.
        maxBufferSize: STDIO_MAX_MESSAGE_BYTES,
      });
      return { transport: stdio, stdio };
    }
    const url = new URL(config.url);
    const requestInit: RequestInit = config.headers ? { headers: config.headers } : {};
    // OAuth tokens come from the token store on this machine (see src/auth), never from the run.
    const authProvider = config.auth
      ? (this.authProvider?.(server, config) ?? new DuragentOAuthProvider(server, config.auth))
      : undefined;
    const options = { requestInit, ...(authProvider ? { authProvider } : {}) };
    if (config.transport === "sse") {
      return { transport: new SSEClientTransport(url, options), stdio: undefined };
    }
    this.logger.debug({ mcpServer: server, url: url.href }, "Using Streamable HTTP transport");
    return { transport: new StreamableHTTPClientTransport(url, options), stdio: undefined };
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

  /**
   * Says what happened to the server in words an operator can act on. The message becomes an
   * activity failure in workflow history, and it quotes the URL, the command line, error text and
   * stderr, so the server's configured secrets are masked.
   */
  private failureMessage(conn: Connection, phase: string, error: unknown): string {
    return redactSecrets(conn.config, this.describeFailure(conn, phase, error));
  }

  private describeFailure(conn: Connection, phase: string, error: unknown): string {
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

/** The defined fields only, for optional properties under exactOptionalPropertyTypes. */
function optional<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function signalOf(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

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

/** Flags whose value is a credential: `--api-key sk-...`, `--header "Authorization: Bearer ..."`. */
const secretFlag = /^--?[\w-]*(key|token|secret|passw|auth|header|credential|cookie)[\w-]*$/i;
/** Shorter values are settings ("true", "debug"), and masking them would garble every message. */
const MIN_SECRET_LENGTH = 8;

/**
 * The values in a server's config that may be secrets: env and header values, URL credentials
 * and query values, and the values of credential flags in `args`, with their parts after
 * "Bearer " or "Name:". Longest first, so a whole value is masked before a part of it.
 */
function secretValuesOf(config: McpServerConfig): string[] {
  const values: string[] = [];
  const withParts = (value: string) => values.push(value, ...value.split(/[\s:=]+/));
  if ("command" in config) {
    Object.values(config.env ?? {}).forEach(withParts);
    const args = config.args ?? [];
    args.forEach((arg, index) => {
      const [flag, inline] = arg.split(/=(.*)/s);
      if (!flag || !secretFlag.test(flag)) return;
      if (inline !== undefined) withParts(inline);
      else if (args[index + 1] !== undefined) withParts(args[index + 1]!);
    });
  } else {
    Object.values(config.headers ?? {}).forEach(withParts);
    const url = URL.canParse(config.url) ? new URL(config.url) : undefined;
    if (url) {
      for (const value of [url.username, url.password, ...url.searchParams.values()]) values.push(value, safeDecode(value));
      url.search.slice(1).split("&").forEach((pair) => values.push(pair.split("=")[1] ?? ""));
    }
  }
  return [...new Set(values)].filter((value) => value.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Masks a server's configured secrets in text bound for workflow history, logs or the Web UI. */
export function redactSecrets(config: McpServerConfig, text: string): string {
  return secretValuesOf(config).reduce((masked, secret) => masked.split(secret).join("***"), text);
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
