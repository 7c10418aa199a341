/**
 * The MCP operations activities perform on a worker: list and call tools, get prompts, read
 * resources. Connections come from ./connections.ts (opened lazily, reopened when a server goes
 * away); what servers ask during a call goes through ./server-request-relay.ts. A server's tool
 * list is fetched once per connection, filtered by its `allowedTools`, and dropped when the
 * server says it changed.
 */
import { LOG_LEVEL_META_KEY, ProtocolError, SdkError, SdkErrorCode, UrlElicitationRequiredError, type OAuthClientProvider, type Tool } from "@modelcontextprotocol/client";
import { ApplicationFailure } from "@temporalio/common";
import { FailureType } from "../../common/failures.js";
import { globMatcher } from "../../common/glob.js";
import type {
  PromptInfo,
  PromptRequest,
  PromptResult,
  ResourceInfo,
  ResourceRequest,
  ResourceResult,
  ResourceTemplateInfo,
} from "../../common/mcp-context.js";
import { runMetaKey, toolError, type RunMeta, type ToolCallRequest, type ToolDefinition, type ToolResult } from "../../common/tools.js";
import type { StepAttempt } from "../../common/effects.js";
import type { McpServerConfig } from "../../config/schema.js";
import { duragentVersion } from "../../package-info.js";
import { ToolArgumentValidator, type ToolValidators } from "./argument-validation.js";
import { isMalformedResult, isProtocolError, malformedText, runUnreachable } from "./connection-errors.js";
import { Connections, silentLogger, timeoutOf, type Connection, type McpConnectionInfo, type McpPoolLogger } from "./connections.js";
import { toPromptResult, toResourceResult } from "./context-items.js";
import { ServerRequestRelay, type AskPerson, type CallScope, type McpLogMessage, type McpSamplingOptions } from "./server-request-relay.js";
import { toToolResult } from "./tool-results.js";

export type { McpConnectionInfo, McpPoolLogger, McpSamplingOptions };

export interface McpConnectionPoolOptions {
  logger?: McpPoolLogger;
  clientInfo?: { name: string; version: string };
  /** Answers servers' `sampling/createMessage`; without it, sampling requests are refused. */
  sampling?: McpSamplingOptions;
  /** Supplies the OAuth client for servers configured with `auth` (see src/auth). */
  authProvider?: (server: string, config: McpServerConfig) => OAuthClientProvider | undefined;
  /** The most a server may send in one message (64 MiB by default); more fails the call as a misbehaving server. */
  maxMessageBytes?: number;
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
  askPerson?: AskPerson;
  /** Receives the call's progress notifications. */
  onProgress?: (progress: McpProgress) => void;
  /** Receives the server's log messages during the call, when no other call of it is in flight. */
  onLog?: (message: McpLogMessage) => void;
  /**
   * The most the call's own work may take, time a person takes to answer its server not counted
   * (`ToolCallRequest.workLimitMs`); past it the call fails as `AttemptTimedOut`, to be retried.
   */
  workLimitMs?: number;
  /** Which step and attempt the call is, told to a server that takes the run's tool context. */
  step?: StepAttempt;
}

/** The SDK's own request timer, effectively off: our timer for tool calls pauses while a person answers. */
const SDK_TIMEOUT_OFF_MS = 2_000_000_000;
const MAX_PAGES = 1_000;

/** A connection with what the pool keeps per connection. */
interface PoolConnection extends Connection {
  tools: Promise<Tool[]> | undefined;
  /** The tools as definitions, made once per tool list: every run of an agent gets the same array. */
  definitions: Promise<ToolDefinition[]> | undefined;
  validators: ToolValidators;
  /** Tool calls in flight, for routing the server's requests to the right run. */
  calls: Set<CallScope>;
}

export class McpConnectionPool {
  private readonly connections: Connections<PoolConnection>;
  private readonly argumentValidator: ToolArgumentValidator;
  private readonly relay: ServerRequestRelay;

  constructor(servers: Record<string, McpServerConfig>, options: McpConnectionPoolOptions = {}) {
    const logger = options.logger ?? silentLogger;
    const relay = new ServerRequestRelay(logger, options.sampling);
    this.relay = relay;
    this.argumentValidator = new ToolArgumentValidator(logger);
    this.connections = new Connections<PoolConnection>(
      servers,
      {
        logger,
        clientInfo: options.clientInfo ?? { name: "duragent", version: duragentVersion },
        capabilities: { roots: {}, ...(options.sampling ? { sampling: {} } : {}), elicitation: { form: { applyDefaults: true }, url: {} } },
        ...(options.authProvider ? { authProvider: options.authProvider } : {}),
        ...(options.maxMessageBytes !== undefined ? { maxMessageBytes: options.maxMessageBytes } : {}),
        onOpen: (conn) => {
          relay.attach(conn);
          conn.client.setNotificationHandler("notifications/tools/list_changed", () => {
            forgetTools(conn);
            logger.debug({ mcpServer: conn.server }, "MCP tool list changed");
          });
        },
      },
      (conn) => ({ ...conn, tools: undefined, definitions: undefined, validators: new Map(), calls: new Set() }),
    );
  }

  /** The tools of a server, filtered by its `allowedTools`. */
  async listTools(server: string): Promise<ToolDefinition[]> {
    return this.connections.withConnection(server, "tools/list", undefined, (conn) => {
      conn.definitions ??= this.toolsOf(conn).then((tools) => [
        ...tools.map((tool) => ({
          server,
          name: tool.name,
          inputSchema: tool.inputSchema,
          ...(tool.description !== undefined ? { description: tool.description } : {}),
          ...(tool.title !== undefined ? { title: tool.title } : {}),
          ...(tool.annotations ? { annotations: hintsOf(tool.annotations) } : {}),
        })),
        ...resourceToolsOf(conn, tools).map((name) => ({ server, name, ...resourceTools[name] })),
      ]);
      return conn.definitions;
    });
  }

  /**
   * Calls a tool. The model's mistakes (unknown tool, bad arguments, errors the server reports)
   * come back as `isError` results; a server that cannot be reached throws a retryable failure.
   */
  async callTool(request: ToolCallRequest, options: McpCallOptions = {}): Promise<ToolResult> {
    const { server, tool: name } = request;
    const { signal } = options;
    return this.connections.withConnection(server, `tools/call ${name}`, signal, async (conn) => {
      const cached = conn.tools;
      let tools = await this.toolsOf(conn);
      if (isResourceTool(name) && resourceToolsOf(conn, tools).includes(name)) return this.callResourceTool(conn, name, request.arguments, signal);
      let tool = tools.find((t) => t.name === name);
      if (!tool && cached) {
        // The server may have added it since we listed: over HTTP its list_changed comes on another
        // stream, after the response of the call that added it. One fresh look before refusing.
        if (conn.tools === cached) forgetTools(conn);
        tools = await this.toolsOf(conn);
        tool = tools.find((t) => t.name === name);
      }
      if (!tool) {
        const available = tools.map((t) => t.name).join(", ") || "(none)";
        return toolError(`Unknown tool '${name}' on server '${server}'. Available: ${available}`);
      }
      const checked = this.argumentValidator.check(conn.validators, server, tool, request.arguments);
      if ("error" in checked) return toolError(checked.error);
      const timeout = timeoutOf(conn.config);
      // Our own timer rather than the SDK's: it restarts on progress and stands still while a
      // person answers the server, who may take far longer than any request timeout.
      const controller = new AbortController();
      const onAbort = (): void => controller.abort(signal?.reason);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
      let timer: ReturnType<typeof setTimeout> | undefined;
      let failure: { error: unknown } | undefined;
      const work = options.workLimitMs === undefined ? undefined : new WorkClock(options.workLimitMs, () => controller.abort(attemptTimedOut(server, name, options.workLimitMs!)));
      const scope: CallScope = {
        callId: request.callId ?? `${name}-${Date.now()}`,
        tool: name,
        signal: controller.signal,
        askPerson: options.askPerson,
        ...(options.onLog ? { onLog: options.onLog } : {}),
        requests: 0,
        waiting: 0,
        samplingUsage: {},
        touch: () => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            if (scope.waiting > 0) return scope.touch();
            controller.abort(new SdkError(SdkErrorCode.RequestTimeout, `Request timed out after ${timeout}ms`));
          }, timeout);
        },
        fail: (error) => {
          failure ??= { error };
          controller.abort(error);
        },
        ...(work ? { holdWork: () => work.stop(), resumeWork: () => work.start() } : {}),
      };
      scope.touch();
      work?.start();
      conn.calls.add(scope);
      try {
        // A 2026-07-28 server logs only when the request asks, at the level it names.
        const logLevel = conn.config.logLevel && conn.client.getProtocolEra() === "modern" ? { [LOG_LEVEL_META_KEY]: conn.config.logLevel } : undefined;
        const run = conn.config.toolContext && options.step ? { [runMetaKey]: runMeta(options.step, request.toolContext) } : undefined;
        const meta = logLevel || run ? { _meta: { ...logLevel, ...run } } : {};
        const call = () =>
          conn.client.callTool({ name, arguments: checked.args, ...meta }, {
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
        // A server that needs the person at a URL first says so with -32042: once they have been
        // there, the call is made again, once (a second refusal goes to the model as any error).
        // Awaited in a try, not chained with .catch: every tool call would pay for one more promise.
        let result: Awaited<ReturnType<typeof call>>;
        try {
          result = await call();
        } catch (error) {
          if (!(error instanceof UrlElicitationRequiredError) || !options.askPerson) throw error;
          if (!(await this.relay.completeUrlElicitations(conn, scope, error.elicitations))) {
            throw new ProtocolError(error.code, `${error.message} (the person did not complete ${error.elicitations.map((elicitation) => elicitation.url).join(", ")})`);
          }
          result = await call();
        }
        const mapped = toToolResult(result);
        return Object.keys(scope.samplingUsage).length > 0 ? { ...mapped, samplingUsage: scope.samplingUsage } : mapped;
      } catch (error) {
        if (failure) throw runUnreachable(server, name, failure.error);
        if (work?.ran && controller.signal.reason instanceof ApplicationFailure) throw controller.signal.reason;
        // The server answered with a JSON-RPC error: the model's mistake, so the model should see it.
        if (isProtocolError(error)) return toolError(`${name} failed: ${error.message}`);
        // A tool that keeps asking (input_required) past the SDK's rounds would ask again on every retry.
        if (error instanceof SdkError && error.code === SdkErrorCode.InputRequiredRoundsExceeded) {
          return toolError(`${name} on MCP server '${server}' kept asking for input and never answered: ${error.message}`);
        }
        // A result that is not what MCP says: the model is told (it may try another way), never a retry.
        if (isMalformedResult(error)) return toolError(`${name} on MCP server '${server}' returned a malformed result: ${malformedText(error)}`);
        throw error;
      } finally {
        clearTimeout(timer);
        work?.stop();
        conn.calls.delete(scope);
        signal?.removeEventListener("abort", onAbort);
      }
    }, { idempotent: false, exclusive: this.connections.configOf(server).exclusiveCalls === true });
  }

  // --- prompts and resources --------------------------------------------------------------------

  async listPrompts(server: string): Promise<PromptInfo[]> {
    return this.connections.withConnection(server, "prompts/list", undefined, async (conn) => {
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
    return this.connections.withConnection(server, `prompts/get ${name}`, options.signal, async (conn) => {
      const result = await this.userFacing(`prompt '${name}' on '${server}'`, () =>
        conn.client.getPrompt({ name, arguments: request.arguments ?? {} }, { timeout: timeoutOf(conn.config), ...signalOf(options.signal) }),
      );
      return toPromptResult(server, name, result);
    });
  }

  async listResources(server: string): Promise<ResourceInfo[]> {
    return this.connections.withConnection(server, "resources/list", undefined, async (conn) => {
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
    return this.connections.withConnection(server, "resources/templates/list", undefined, async (conn) => {
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
    return this.connections.withConnection(server, `resources/read ${uri}`, options.signal, async (conn) => {
      const result = await this.userFacing(`resource '${uri}' on '${server}'`, () =>
        conn.client.readResource({ uri }, { timeout: timeoutOf(conn.config), ...signalOf(options.signal) }),
      );
      return toResourceResult(server, uri, result);
    });
  }

  /** One of the tools `resourceTools: true` gives agents, answered from the server's resources; the model's mistakes are its tool errors. */
  private async callResourceTool(conn: PoolConnection, name: ResourceToolName, args: Record<string, unknown>, signal: AbortSignal | undefined): Promise<ToolResult> {
    const { server } = conn;
    if (!conn.client.getServerCapabilities()?.resources) return toolError(`MCP server '${server}' offers no resources.`);
    if (name === "list_resources") {
      const [resources, templates] = [await this.listResources(server), await this.listResourceTemplates(server)];
      const line = (uri: string, item: { name: string; title?: string; description?: string; mimeType?: string }) =>
        [`- ${uri}: ${item.title ?? item.name}`, item.mimeType ? ` (${item.mimeType})` : "", item.description ? ` — ${item.description}` : ""].join("");
      const text = [
        resources.length > 0 ? `Resources:\n${resources.map((resource) => line(resource.uri, resource)).join("\n")}` : "No resources.",
        ...(templates.length > 0 ? [`URI templates (fill in the {…} parts):\n${templates.map((template) => line(template.uriTemplate, template)).join("\n")}`] : []),
      ].join("\n\n");
      return { content: [{ type: "text", text }], isError: false };
    }
    const uri = args.uri;
    if (typeof uri !== "string" || uri === "") return toolError("read_resource needs the resource's 'uri' (a string), from list_resources or a resource link.");
    // readResource's refusal is the caller's to fix: here the caller is the model.
    const read = await this.readResource({ server, uri }, signal ? { signal } : {}).catch((error: unknown) => {
      if (error instanceof ApplicationFailure && error.type === FailureType.configuration) return error.message;
      throw error;
    });
    return typeof read === "string" ? toolError(read) : { content: read.contents.map((item) => item.part), isError: false };
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
    for (let count = 0; count < MAX_PAGES; count++) {
      const result = await page(cursor === undefined ? undefined : { cursor });
      items.push(...result.items);
      cursor = result.nextCursor;
      // A server that repeats a cursor would otherwise keep us here forever.
      if (cursor === undefined || seen.has(cursor)) break;
      seen.add(cursor);
    }
    return items;
  }

  /** The open connection to a server, if any. */
  getConnection(server: string): Promise<McpConnectionInfo | undefined> {
    return this.connections.info(server);
  }

  /** Closes one server's connection; the next use reopens it. */
  close(server: string): Promise<void> {
    return this.connections.close(server);
  }

  /** Closes every connection and waits until no server process is left. */
  closeAll(): Promise<void> {
    return this.connections.closeAll();
  }

  // --- tools ----------------------------------------------------------------------------------

  private toolsOf(conn: PoolConnection): Promise<Tool[]> {
    if (conn.tools) return conn.tools;
    const loading = this.fetchTools(conn);
    conn.tools = loading;
    loading.catch(() => {
      if (conn.tools === loading) conn.tools = conn.definitions = undefined;
    });
    return loading;
  }

  private async fetchTools(conn: PoolConnection): Promise<Tool[]> {
    if (!conn.client.getServerCapabilities()?.tools) return [];
    const tools = await this.paginate((cursor) => conn.client.listTools(cursor, { timeout: timeoutOf(conn.config) }).then((r) => ({ nextCursor: r.nextCursor, items: r.tools })));
    const allowed = allowedToolsMatcher(conn.config.allowedTools);
    return tools.filter((tool) => allowed(tool.name));
  }
}

// --- helpers ------------------------------------------------------------------------------------

/** Drops a connection's cached tool list, and what was derived from it: the next use lists again. */
function forgetTools(conn: PoolConnection): void {
  conn.tools = undefined;
  conn.definitions = undefined;
  conn.validators.clear();
}

/** The defined fields only, for optional properties under exactOptionalPropertyTypes. */
function optional<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function signalOf(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

function runMeta(step: StepAttempt, toolContext: Record<string, unknown> | undefined): RunMeta {
  return { runId: step.runId, idempotencyKey: step.key, attempt: step.attempt, toolContext: toolContext ?? {} };
}

/** `allowedTools` patterns, where `*` matches any run of characters. */
function allowedToolsMatcher(patterns: string[] | undefined): (name: string) => boolean {
  return patterns ? globMatcher(patterns) : () => true;
}

/** A call's own working time: it stands still while a person answers the server, and ends the call once spent. */
class WorkClock {
  private left: number;
  private since: number | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** The time ran out. */
  ran = false;

  constructor(
    limitMs: number,
    private readonly onSpent: () => void,
  ) {
    this.left = limitMs;
  }

  start(): void {
    if (this.since !== undefined || this.ran) return;
    this.since = Date.now();
    this.timer = setTimeout(() => {
      this.ran = true;
      this.onSpent();
    }, this.left);
  }

  stop(): void {
    if (this.since === undefined) return;
    clearTimeout(this.timer);
    this.left = Math.max(0, this.left - (Date.now() - this.since));
    this.since = undefined;
  }
}

function attemptTimedOut(server: string, tool: string, limitMs: number): ApplicationFailure {
  return ApplicationFailure.retryable(
    `${tool} on MCP server '${server}' worked longer than its attempt's limit of ${limitMs} ms (time a person took to answer the server not counted)`,
    FailureType.attemptTimedOut,
  );
}

/** The annotations' hints, without their title or anything a server adds: they travel in every run's history. */
function hintsOf(annotations: NonNullable<Tool["annotations"]>): NonNullable<ToolDefinition["annotations"]> {
  const hints: NonNullable<ToolDefinition["annotations"]> = {};
  for (const key of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const) {
    if (typeof annotations[key] === "boolean") hints[key] = annotations[key];
  }
  return hints;
}

/** The tools `resourceTools: true` gives agents, as a server's own tools would be defined. */
const resourceTools = {
  list_resources: {
    description: "List the resources this server offers (URI, name, type) and its URI templates.",
    inputSchema: { type: "object", properties: {}, additionalProperties: false },
    annotations: { readOnlyHint: true },
  },
  read_resource: {
    description: "Read one of this server's resources by its URI: from list_resources, a filled-in URI template, or a resource link in a tool's result.",
    inputSchema: { type: "object", properties: { uri: { type: "string", description: "The resource's URI" } }, required: ["uri"], additionalProperties: false },
    annotations: { readOnlyHint: true },
  },
} as const satisfies Record<string, Omit<ToolDefinition, "server" | "name">>;
type ResourceToolName = keyof typeof resourceTools;

function isResourceTool(name: string): name is ResourceToolName {
  return Object.hasOwn(resourceTools, name);
}

/** The resource tools a connection's agents get: none unless asked for, and none a tool of the server's own already names. */
function resourceToolsOf(conn: PoolConnection, tools: readonly Tool[]): ResourceToolName[] {
  if (conn.config.resourceTools !== true) return [];
  return (Object.keys(resourceTools) as ResourceToolName[]).filter((name) => !tools.some((tool) => tool.name === name));
}
