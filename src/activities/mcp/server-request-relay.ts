/**
 * What a server asks of us during a tool call, relayed to whoever can answer: sampling to our
 * models (after a person's approval, when configured), elicitation to the person behind the
 * call's run, roots from the config; and its log messages to our logs. The decisions are pure
 * (./server-requests.ts); this module wires them into each connection and does the asking.
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import {
  ProtocolError,
  ProtocolErrorCode,
  type Client,
  type CreateMessageRequest,
  type CreateMessageResult,
  type ElicitRequest,
  type ElicitRequestURLParams,
  type ElicitResult,
  type LoggingLevel,
  type Root,
} from "@modelcontextprotocol/client";
import type { LlmRequest, LlmResponse, TokenUsage } from "../../common/llm.js";
import { RunUnreachable, type ServerRequest, type ServerRequestAnswer } from "../../common/server-requests.js";
import { addUsage, usageKey } from "../../common/usage.js";
import type { McpServerConfig } from "../../config/schema.js";
import type { McpPoolLogger } from "./connections.js";
import { redactSecrets } from "../redact-secrets.js";
import { logLevelOf, samplingApprovalSchema, samplingApproved, samplingPlan, toSamplingLlmRequest, toSamplingResult, toServerRequest } from "./server-requests.js";

export interface McpSamplingOptions {
  /** One model turn, through the same provider layer as agents. */
  callLlm(request: LlmRequest, signal?: AbortSignal): Promise<LlmResponse>;
  /** `llm.defaultModel`: used when neither hints nor `sampling.model` pick another. */
  defaultModel: string;
}

/**
 * Asks a person on the server's behalf; the same `request.key` must give the same answer. Rejects
 * with `RunUnreachable` when the run could not be asked (see `RunChannel.ask`).
 */
export type AskPerson = (request: ServerRequest, signal: AbortSignal) => Promise<ServerRequestAnswer>;

/** One tool call in flight on a connection: where the server's requests during it are routed. */
export interface CallScope {
  callId: string;
  tool: string;
  signal: AbortSignal;
  askPerson: AskPerson | undefined;
  /** Server requests during this attempt, numbering their keys; a retry starts again at 1. */
  requests: number;
  /** Requests waiting for a person; the call's timeout stands still meanwhile. */
  waiting: number;
  /** Restarts the call's timeout (progress, an answer). */
  touch(): void;
  /** Stop and restart the clock of the call's own work (`McpCallOptions.workLimitMs`) while a person answers. */
  holdWork?(): void;
  resumeWork?(): void;
  /** Ends the call with this failure, to be retried, whatever the server does with its request's error. */
  fail(error: unknown): void;
  /** Tokens spent on the server's sampling requests during this call, per model. */
  samplingUsage: Record<string, TokenUsage>;
  /** Receives the server's log messages during this call (when it is the only one in flight). */
  onLog?: (message: McpLogMessage) => void;
}

/** A server's `notifications/message`, as a tool call's caller receives it. */
export interface McpLogMessage {
  level: LoggingLevel;
  logger?: string;
  data: unknown;
}

/** What the relay needs of a connection. */
export interface RelayedConnection {
  readonly server: string;
  readonly config: McpServerConfig;
  readonly client: Client;
  /** Tool calls in flight, for routing the server's requests to the right run. */
  readonly calls: Set<CallScope>;
}

export class ServerRequestRelay {
  constructor(
    private readonly logger: McpPoolLogger,
    /** Answers servers' `sampling/createMessage`; without it, sampling requests are refused. */
    private readonly sampling: McpSamplingOptions | undefined,
  ) {}

  /** Installs the handlers on a new connection's client, before it connects. */
  attach(conn: RelayedConnection): void {
    const { client, server, config } = conn;
    // On 2026-07-28 the SDK also answers a tool's `input_required` result through these handlers
    // (then calls the tool again with the answers), so those questions are asked as these are.
    client.setRequestHandler("roots/list", () => ({ roots: rootsOf(config) }));
    client.setRequestHandler("elicitation/create", (request, ctx) => this.elicit(conn, request.params, ctx.mcpReq.signal));
    // The SDK refuses a handler for a capability we do not declare.
    if (this.sampling && config.sampling !== false) client.setRequestHandler("sampling/createMessage", (request, ctx) => this.sample(conn, request.params, ctx.mcpReq.signal));
    client.setNotificationHandler("notifications/message", ({ params }) => {
      const raw = typeof params.data === "string" ? params.data : JSON.stringify(params.data);
      // A server may log what it was configured with, as its stderr may.
      const text = redactSecrets(config, raw);
      const fields = { mcpServer: server, mcpLevel: params.level, ...(params.logger !== undefined ? { mcpLogger: params.logger } : {}) };
      this.logger[logLevelOf(params.level)](fields, text);
      // Also to the run of the call in flight; with several, MCP does not say whose it is.
      if (conn.calls.size === 1) {
        const data = text === raw ? params.data : text;
        conn.calls.values().next().value?.onLog?.({ level: params.level, ...(params.logger !== undefined ? { logger: params.logger } : {}), data });
      }
    });
  }

  /**
   * The tool call a server's request belongs to. MCP does not say (only Streamable HTTP ties it to
   * a call, and the SDK does not expose that), so a request is attributed to the one call in flight
   * on the connection; with several it could reach the wrong run, so it is refused instead.
   */
  private scopeOf(conn: RelayedConnection, what: string): CallScope {
    const scopes = [...conn.calls];
    if (scopes.length === 1) return scopes[0]!;
    if (scopes.length === 0) {
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `duragent answers ${what} only during a tool call; no tool call is in flight`);
    }
    this.logger.warn(
      { mcpServer: conn.server, tools: scopes.map((scope) => scope.tool) },
      `MCP server '${conn.server}' sent ${what} while ${scopes.length} of its tool calls were in flight on one connection; refused, as MCP does not say whose it is. Set mcp.servers.${conn.server}.exclusiveCalls: true to give each call its own.`,
    );
    throw new ProtocolError(
      ProtocolErrorCode.InvalidRequest,
      `duragent cannot tell which of ${scopes.length} concurrent tool calls (${scopes.map((scope) => scope.tool).join(", ")}) sent ${what}; ` +
        `give each call a connection of its own (mcp.servers.${conn.server}.exclusiveCalls: true) or call its tools one at a time`,
    );
  }

  /** Sends a request to the person behind the call's run, holding the call's timeout meanwhile. */
  private async askPerson(conn: RelayedConnection, scope: CallScope, build: (key: string) => ServerRequest, serverSignal: AbortSignal): Promise<ServerRequestAnswer> {
    if (!scope.askPerson) {
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `no person can answer requests from '${conn.server}' here (the call runs outside a duragent run)`);
    }
    const request = build(`${scope.callId}#${++scope.requests}`);
    if (scope.waiting++ === 0) scope.holdWork?.();
    try {
      return await scope.askPerson(request, AbortSignal.any([scope.signal, serverSignal]));
    } catch (error) {
      // The question never reached the run (and the server still waits, and the call goes on):
      // answering the server with the error would end the call with a tool error in the answer's
      // place, so the call fails instead and its retry asks again. A refusal the server hears.
      if (error instanceof RunUnreachable && !serverSignal.aborted && !scope.signal.aborted) scope.fail(error);
      throw error;
    } finally {
      scope.waiting--;
      // Not for a call that has ended meanwhile: its timer would hold the process for nothing.
      if (conn.calls.has(scope)) {
        scope.touch();
        if (scope.waiting === 0) scope.resumeWork?.();
      }
    }
  }

  /**
   * A call the server refused until the person completes URL elicitations (MCP's -32042,
   * `UrlElicitationRequiredError`): each is asked as the server's own URL elicitation would be.
   * True once the person has accepted them all, and the call may be made again.
   */
  async completeUrlElicitations(conn: RelayedConnection, scope: CallScope, elicitations: readonly ElicitRequestURLParams[]): Promise<boolean> {
    const context = { callId: scope.callId, server: conn.server, tool: scope.tool };
    for (const params of elicitations) {
      this.logger.info({ mcpServer: conn.server, tool: scope.tool, mode: "url" }, "MCP server needs a person at a URL before the call (elicitation required)");
      const answer = await this.askPerson(conn, scope, (key) => toServerRequest({ ...params, mode: "url" }, { ...context, key }), scope.signal);
      if (answer.action !== "accept") return false;
    }
    return true;
  }

  private async elicit(conn: RelayedConnection, params: ElicitRequest["params"], serverSignal: AbortSignal): Promise<ElicitResult> {
    const scope = this.scopeOf(conn, "elicitation/create");
    this.logger.info({ mcpServer: conn.server, tool: scope.tool, mode: params.mode ?? "form" }, "MCP server asks a person (elicitation)");
    const context = { callId: scope.callId, server: conn.server, tool: scope.tool };
    const answer = await this.askPerson(conn, scope, (key) => toServerRequest(params, { ...context, key }), serverSignal);
    return answer.content ? { action: answer.action, content: answer.content as ElicitResult["content"] } : { action: answer.action };
  }

  private async sample(conn: RelayedConnection, params: CreateMessageRequest["params"], serverSignal: AbortSignal): Promise<CreateMessageResult> {
    const sampling = this.sampling;
    const settings = conn.config.sampling;
    if (!sampling || settings === false) throw new ProtocolError(ProtocolErrorCode.InvalidRequest, "sampling is not offered to this server");
    const plan = samplingPlan(conn.server, settings, sampling.defaultModel, params);
    const scope = plan.approval ? this.scopeOf(conn, "sampling/createMessage") : [...conn.calls][0];
    if (plan.approval && scope) {
      const message = plan.approval(scope.tool);
      const answer = await this.askPerson(
        conn,
        scope,
        (key) => ({ key, callId: scope.callId, server: conn.server, tool: scope.tool, kind: "sampling", mode: "form", message, requestedSchema: { ...samplingApprovalSchema } }),
        serverSignal,
      );
      // -1 is the code the MCP spec gives for a user's refusal of a sampling request. Only a yes
      // sends it: a "no", and an accept without a yes (an answer from before the yes-or-no form), refuse.
      if (!samplingApproved(answer)) throw new ProtocolError(-1, `The user ${answer.action === "cancel" ? "cancelled" : "declined"} the sampling request`);
    }
    this.logger.info({ mcpServer: conn.server, model: plan.model }, "Answering the MCP server's sampling request");
    const signal = scope ? AbortSignal.any([scope.signal, serverSignal]) : serverSignal;
    const response = await sampling.callLlm(toSamplingLlmRequest(params, plan.model), signal);
    if (scope) addUsage(scope.samplingUsage, usageKey(plan.model, response.model), response.usage);
    return toSamplingResult(response, plan.model);
  }
}

function rootsOf(config: McpServerConfig): Root[] {
  return (config.roots ?? []).map((root) => {
    if (/^file:\/\//i.test(root)) return { uri: root };
    const absolute = path.resolve(process.cwd(), root);
    return { uri: pathToFileURL(absolute).href, name: path.basename(absolute) || absolute };
  });
}
