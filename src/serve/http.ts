/**
 * The Streamable HTTP listener for `duragent serve --transport http`, on `/mcp`, for both MCP eras:
 * - a 2026-07-28 (modern) request stands alone: it carries its protocol version and client
 *   capabilities in `_meta`, and the SDK's per-request handler answers it with a fresh server
 *   (`server/discover` included);
 * - a client of 2025-11-25 or earlier (legacy) opens a session with `initialize` and keeps one
 *   server for it, found again by its `Mcp-Session-Id`.
 *
 * Guards, in the order they apply to every request:
 * 1. DNS-rebinding protection: the Host header, and the Origin header when a browser sends one,
 *    must name this server (loopback names, the bound address, `allowedHosts`). A web page that
 *    rebinds its own domain to 127.0.0.1 therefore cannot reach it.
 * 2. A bearer token, when one is set (`Authorization: Bearer <token>`). Serving on anything but
 *    loopback without one is refused at start: the tools run agents with the server's credentials.
 *
 * Streams are resumable (MCP 2025-11-25): each session keeps what it sends in a bounded event store,
 * a POST's SSE stream opens with a priming event (an event id and `retry:`, for clients of
 * 2025-11-25 and later), and a client whose connection dropped reconnects with a GET carrying
 * `Last-Event-ID` to get the rest, such as the answer of a long `<agent>` call.
 *
 * Errors this listener answers itself echo the JSON-RPC id of the request when it could be read.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { hostname, networkInterfaces } from "node:os";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  createMcpHandler,
  isInitializeRequest,
  isJsonContentType,
  isLegacyRequest,
  WebStandardStreamableHTTPServerTransport,
  type McpServer,
} from "@modelcontextprotocol/server";
import { listenHttp } from "../http/listen.js";
import { isLoopbackHost, readBody, sameSecret } from "../http/requests.js";
import type { Logger } from "../logger.js";
import { BoundedEventStore, type EventStoreLimits } from "./event-store.js";
import type { DuragentServerFactory } from "./mcp-server.js";

export interface HttpServeOptions {
  /** The address to bind: `127.0.0.1` (the default in the CLI), `::1`, `0.0.0.0`, a host name. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Required unless `host` is loopback; when set, required on every request. */
  token?: string;
  /** Further host names (no port) accepted in Host and Origin headers, e.g. a reverse proxy's. */
  allowedHosts?: readonly string[];
  /** A fresh McpServer for each legacy client session and each modern request. */
  createServer: DuragentServerFactory;
  logger?: Logger;
  /** Bounds of each session's event store (for resuming streams); defaults suit long agent calls. */
  eventStore?: EventStoreLimits;
  /** The `retry:` (ms) a client is told to wait before reconnecting a dropped stream. */
  retryIntervalMs?: number;
}

export interface HttpMcpListener {
  /** `http://<host>:<port>/mcp` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The server would be open to the network without a token; the message says how to fix it. */
export class UnsafeBinding extends Error {
  override readonly name = "UnsafeBinding";
  constructor(readonly host: string) {
    super(
      `Refusing to serve on ${host} without a token: anyone who can reach it could run your agents. ` +
        "Pass --token <secret> (or set DURAGENT_SERVE_TOKEN), or bind to loopback with --host 127.0.0.1.",
    );
  }
}

const mcpPath = "/mcp";
const maxBodyBytes = 4 * 1024 * 1024;
/** A session unheard of this long is closed: clients that vanish without DELETE would pile up. */
const sessionIdleMs = 60 * 60 * 1000;
const defaultRetryIntervalMs = 1_000;

export async function startHttpMcpServer(options: HttpServeOptions): Promise<HttpMcpListener> {
  const token = options.token === "" ? undefined : options.token;
  if (!token && !isLoopbackHost(options.host)) throw new UnsafeBinding(options.host);
  const allowed = allowedHostnames(options.host, options.allowedHosts ?? []);
  const sessions = new Map<string, { transport: WebStandardStreamableHTTPServerTransport; server: McpServer; lastSeen: number }>();
  const sweep = setInterval(() => {
    for (const [id, session] of sessions) {
      if (Date.now() - session.lastSeen > sessionIdleMs) {
        sessions.delete(id);
        session.server.close().catch(() => undefined);
      }
    }
  }, 60_000).unref();
  // Modern requests only: legacy ones are routed to their sessions below, never to its stateless fallback.
  const modern = createMcpHandler(() => options.createServer("modern"), {
    legacy: "reject",
    maxRequestBodySize: maxBodyBytes,
    onerror: (error) => options.logger?.debug({ err: error }, "serve: modern request refused or failed"),
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const refusal = checkHeaders(req, allowed, token);
    if (refusal) return sendError(res, refusal.status, refusal.message, { headers: refusal.headers });
    if (new URL(req.url ?? "/", "http://localhost").pathname !== mcpPath) {
      return sendError(res, 404, `Not found: the MCP endpoint is ${mcpPath}.`);
    }
    const read = req.method === "POST" ? await readJson(req) : { ok: true as const, body: undefined, text: undefined };
    if (!read.ok) return sendError(res, read.status, read.message, { code: read.code });
    const body = read.body;
    const id = requestIdOf(body);
    // Checked here rather than by the SDK, whose answers to these would not echo the request id.
    if (req.method === "POST" && !isJsonContentType(req.headers["content-type"] ?? "")) {
      return sendError(res, 415, "Unsupported Media Type: Content-Type must be application/json.", { id });
    }
    const request = webRequest(req, res, read.text);

    if (!(await isLegacyRequest(request, body, { maxRequestBodySize: maxBodyBytes }))) {
      return sendResponse(res, await modern.fetch(request, { parsedBody: body }), id);
    }
    const accept = req.headers.accept ?? "";
    if (req.method === "POST" && !(accept.includes("application/json") && accept.includes("text/event-stream"))) {
      return sendError(res, 406, "Not Acceptable: a client of MCP 2025-11-25 or earlier must accept both application/json and text/event-stream.", { id });
    }
    const sessionId = req.headers["mcp-session-id"];
    if (typeof sessionId === "string") {
      const session = sessions.get(sessionId);
      // 404 tells a client its session is gone (e.g. after a restart), so it starts a new one.
      if (!session) return sendError(res, 404, `No MCP session '${sessionId}' (it ended, or the server restarted); initialize a new one.`, { id, code: -32001 });
      session.lastSeen = Date.now();
      return sendResponse(res, await session.transport.handleRequest(request, { parsedBody: body }), id);
    }
    if (req.method !== "POST" || !isInitializeRequest(body)) {
      return sendError(res, 400, "No Mcp-Session-Id header: send an initialize request first.", { id });
    }
    const server = options.createServer("legacy");
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: new BoundedEventStore(options.eventStore),
      retryInterval: options.retryIntervalMs ?? defaultRetryIntervalMs,
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, lastSeen: Date.now() });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return sendResponse(res, await transport.handleRequest(request, { parsedBody: body }), id);
  };

  const listening = await listenHttp(handle, {
    host: options.host,
    port: options.port,
    onError: (error, res) => {
      options.logger?.error({ err: error }, "serve: HTTP request failed");
      if (!res.headersSent) sendError(res, 500, "Internal error; see the duragent serve log.");
      else res.destroy();
    },
  });
  const { port } = listening;
  return {
    url: `${listening.origin}${mcpPath}`,
    port,
    async close() {
      clearInterval(sweep);
      await modern.close().catch(() => undefined);
      await Promise.all([...sessions.values()].map(({ server }) => server.close().catch(() => undefined)));
      sessions.clear();
      await listening.close();
    },
  };
}

/**
 * The web Request the SDK's handlers take, for a Node request whose body was already read. Its
 * signal aborts when the client goes away before the answer is written, which ends the exchange.
 */
function webRequest(req: IncomingMessage, res: ServerResponse, body: string | undefined): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const abort = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  return new Request(new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`), {
    method: req.method ?? "GET",
    headers,
    ...(body !== undefined ? { body } : {}),
    signal: abort.signal,
  });
}

/** Writes a web Response to Node, streaming its body (an SSE stream stays open as long as it does). */
async function sendResponse(res: ServerResponse, response: Response, id: JsonRpcId): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  // The SDK's transport answers some requests it refuses (a second initialize, a protocol
  // version it does not speak) with id null; the request's id was read, so the error echoes it.
  if (response.status >= 400 && id !== null && /application\/json/.test(response.headers.get("content-type") ?? "")) {
    const text = await response.text();
    const echoed = withRequestId(text, id);
    delete headers["content-length"];
    res.writeHead(response.status, headers);
    res.end(echoed);
    return;
  }
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  res.flushHeaders();
  // pipeline ends the response with the body, and cancels the body when the client goes away, so
  // the SDK sees its stream end (and keeps what is left for a resume, when it is resumable).
  await pipeline(Readable.fromWeb(response.body as import("node:stream/web").ReadableStream), res).catch(() => undefined);
}

/** Host names (lower case, IPv6 in brackets, no port) this server answers to. */
function allowedHostnames(bound: string, extra: readonly string[]): Set<string> {
  const names = new Set(["localhost", "127.0.0.1", "[::1]"]);
  const add = (name: string) => names.add(name.includes(":") && !name.startsWith("[") ? `[${name.toLowerCase()}]` : name.toLowerCase());
  extra.forEach(add);
  if (bound === "0.0.0.0" || bound === "::" || bound === "[::]") {
    // Bound to every interface: its addresses and the machine's name are this server.
    add(hostname());
    for (const addresses of Object.values(networkInterfaces())) for (const address of addresses ?? []) add(address.address);
  } else {
    add(bound);
  }
  return names;
}

function hostnameOf(value: string): string | undefined {
  try {
    return new URL(value.includes("://") ? value : `http://${value}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

function checkHeaders(req: IncomingMessage, allowed: Set<string>, token: string | undefined): Refusal | undefined {
  const host = hostnameOf(req.headers.host ?? "");
  if (!host || !allowed.has(host)) {
    return {
      status: 403,
      message: `Host '${req.headers.host ?? ""}' is not allowed (DNS-rebinding protection); add it with --allowed-host if it is really this server.`,
    };
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const originHost = hostnameOf(origin);
    if (!originHost || !allowed.has(originHost)) {
      return { status: 403, message: `Origin '${origin}' is not allowed (DNS-rebinding protection).` };
    }
  }
  if (token !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    if (!match?.[1] || !sameSecret(match[1].trim(), token)) {
      return {
        status: 401,
        message: "Missing or wrong bearer token: send 'Authorization: Bearer <token>' with the token duragent serve was started with.",
        headers: { "WWW-Authenticate": 'Bearer realm="duragent"' },
      };
    }
  }
  return undefined;
}

type BodyRead = { ok: true; body: unknown; text: string } | { ok: false; status: number; message: string; code: number };

async function readJson(req: IncomingMessage): Promise<BodyRead> {
  const text = await readBody(req, maxBodyBytes);
  if (text === undefined) return { ok: false, status: 413, message: `Requests are limited to ${maxBodyBytes} bytes.`, code: -32600 };
  try {
    return { ok: true, body: JSON.parse(text) as unknown, text };
  } catch {
    // JSON-RPC's own code for a body that does not parse.
    return { ok: false, status: 400, message: "The request body is not JSON.", code: -32700 };
  }
}

type JsonRpcId = string | number | null;

/** The id of a single JSON-RPC request, so an error answers it; null when there is none to echo (a batch, a notification). */
function requestIdOf(body: unknown): JsonRpcId {
  if (typeof body !== "object" || body === null || Array.isArray(body) || !("id" in body)) return null;
  const { id } = body;
  return typeof id === "string" || (typeof id === "number" && Number.isInteger(id)) ? id : null;
}

/** A JSON-RPC error body with the request's id in place of null; any other body as it is. */
function withRequestId(text: string, id: JsonRpcId): string {
  try {
    const body = JSON.parse(text) as { error?: unknown; id?: unknown };
    return body.error !== undefined && body.id === null ? JSON.stringify({ ...body, id }) : text;
  } catch {
    return text;
  }
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  options: { id?: JsonRpcId; code?: number; headers?: Record<string, string> | undefined } = {},
): void {
  res.writeHead(status, { "Content-Type": "application/json", ...options.headers });
  // A JSON-RPC error body, which MCP clients know how to show.
  res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: options.code ?? -32000, message }, id: options.id ?? null }));
}
