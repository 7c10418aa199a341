/**
 * Worker-side MCP connections: one lazily opened client per configured server, shared by every
 * activity on the worker, reopened when the server goes away.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
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
import { FailureType } from "../../common/failures.js";
import { globMatcher } from "../../common/glob.js";
import type { LlmRequest, LlmResponse, TokenUsage } from "../../common/llm.js";
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
import type { McpServerConfig } from "../../config/schema.js";
import { SignInRequired } from "../../auth/oauth-provider.js";
import { ToolArgumentValidator, type ToolValidators } from "./argument-validation.js";
import { errorText, failureMessage, isMalformedResult, isProtocolError, missingCommand, unavailable } from "./connection-errors.js";
import { toPromptResult, toResourceResult } from "./context-items.js";
import { redactSecrets } from "./redact-secrets.js";
import {
  chooseSamplingModel,
  logLevelOf,
  samplingApprovalMessage,
  toSamplingLlmRequest,
  toSamplingResult,
  toServerRequest,
} from "./server-requests.js";
import {
  describeExit,
  ensureExited,
  ensureExitedByPid,
  forwardStderr,
  SHUTDOWN_GRACE_MS,
  stderrEnded,
  withTimeout,
  type ObservedStdioTransport,
} from "./stdio-transport.js";
import { toToolResult } from "./tool-results.js";
import { createTransport } from "./transports.js";

export { redactSecrets };

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
  /** Tokens spent on the server's sampling requests during this call, per model. */
  samplingUsage: Record<string, TokenUsage>;
}

/** A live connection, for diagnostics and tests. */
export interface McpConnectionInfo {
  client: Client;
  transport: Transport;
  /** The server process, for stdio servers. */
  pid: number | null;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** The SDK's own request timer, effectively off: our timer for tool calls pauses while a person answers. */
const SDK_TIMEOUT_OFF_MS = 2_000_000_000;
const MAX_TOOL_PAGES = 1_000;

const noop: LogFn = () => {};
const silentLogger: McpPoolLogger = { debug: noop, info: noop, warn: noop, error: noop };

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
  validators: ToolValidators;
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
  private readonly argumentValidator: ToolArgumentValidator;
  private readonly sampling: McpSamplingOptions | undefined;
  private readonly authProvider: McpConnectionPoolOptions["authProvider"];

  constructor(servers: Record<string, McpServerConfig>, options: McpConnectionPoolOptions = {}) {
    this.servers = servers;
    this.logger = options.logger ?? silentLogger;
    this.clientInfo = options.clientInfo ?? { name: "duragent", version: "0.1.0" };
    this.sampling = options.sampling;
    this.authProvider = options.authProvider;
    this.argumentValidator = new ToolArgumentValidator(this.logger);
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
      const invalid = this.argumentValidator.check(conn.validators, server, tool, request.arguments);
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
        samplingUsage: {},
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
        const mapped = toToolResult(result);
        return Object.keys(scope.samplingUsage).length > 0 ? { ...mapped, samplingUsage: scope.samplingUsage } : mapped;
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
    if (scope) {
      const spent = scope.samplingUsage[model] ?? { inputTokens: 0, outputTokens: 0 };
      scope.samplingUsage[model] = {
        inputTokens: spent.inputTokens + response.usage.inputTokens,
        outputTokens: spent.outputTokens + response.usage.outputTokens,
      };
    }
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
        const message = failureMessage(conn, phase, error);
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
    const { transport, stdio } = createTransport(server, config, { authProvider: this.authProvider, logger: this.logger });
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
    if (stdio) forwardStderr(stdio, conn.stderrTail, (text) => this.logger.info({ mcpServer: server, stream: "stderr" }, text));

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
      // The server's last words (npm's, for `npx`) say why it did not start.
      if (stdio) await stderrEnded(stdio, SHUTDOWN_GRACE_MS);
      await settle();
      this.shutdown(conn);
      // Retrying cannot sign anyone in, or install a command; the message says what will.
      if (error instanceof SignInRequired) throw ApplicationFailure.nonRetryable(error.message, FailureType.configuration);
      const missing = missingCommand(conn, error);
      if (missing) throw ApplicationFailure.nonRetryable(missing, FailureType.configuration);
      throw unavailable(failureMessage(conn, "initialize", error));
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

function rootsOf(config: McpServerConfig): Root[] {
  return (config.roots ?? []).map((root) => {
    if (/^file:\/\//i.test(root)) return { uri: root };
    const absolute = path.resolve(process.cwd(), root);
    return { uri: pathToFileURL(absolute).href, name: path.basename(absolute) || absolute };
  });
}

/** `allowedTools` patterns, where `*` matches any run of characters. */
export function allowedToolsMatcher(patterns: string[] | undefined): (name: string) => boolean {
  return patterns ? globMatcher(patterns) : () => true;
}

/** Lets pending close/exit/stderr events land before we describe what happened. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
