/**
 * Temporal's codec-server protocol over HTTP, for the Web UI and the `temporal` CLI to show
 * encrypted payloads decrypted to whoever runs this server: `POST /decode` and `POST /encode`
 * (also under a prefix, such as `/<namespace>/decode`), each taking and returning
 * `{ "payloads": [{ "metadata": { "<key>": "<base64>" }, "data": "<base64>" }] }`.
 * One codec serves every namespace, so the `X-Namespace` header is accepted and not needed.
 *
 * Guards:
 * - A browser may call it only from a listed origin (the Web UI's): CORS answers those origins,
 *   with credentials allowed as the Web UI may send them, and a request from any other origin is
 *   refused outright, which also stops DNS-rebinding pages.
 * - A bearer token, when one is set (`Authorization: Bearer <token>`, e.g. the `temporal` CLI's
 *   `--codec-auth`). Serving beyond loopback without one is refused: this server decrypts for anyone.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Payload, PayloadCodec } from "@temporalio/common";
import { z } from "zod";
import { isUserError } from "../errors/user-error.js";
import { listenHttp } from "../http/listen.js";
import { isLoopbackHost, readBody, sameSecret } from "../http/requests.js";
import type { Logger } from "../logger.js";

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** The address to bind, e.g. `127.0.0.1`. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Origins (`scheme://host:port`) whose pages may call this server: the Web UI's. */
  origins: readonly string[];
  /** Required unless `host` is loopback; when set, required on every request but CORS preflights. */
  token?: string;
  logger?: Logger;
}

export interface CodecServer {
  /** `http://<host>:<port>`, the endpoint to give the Web UI or `--codec-endpoint`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The server would decrypt for the whole network; the message says how to fix it. */
export class UnsafeCodecBinding extends Error {
  override readonly name = "UnsafeCodecBinding";
  constructor(readonly host: string) {
    super(
      `Refusing to serve the codec on ${host} without a token: anyone who can reach it could decrypt your payloads. ` +
        "Pass --token <secret> (or set DURAGENT_CODEC_TOKEN), or bind to loopback with --host 127.0.0.1.",
    );
  }
}

/** Proto JSON of payloads: every bytes field in base64; an empty list may be left out (`{}`), as proto JSON does. */
const PayloadsBodySchema = z.object({
  payloads: z
    .array(
      z.object({
        metadata: z.record(z.string(), z.string()).nullish(),
        data: z.string().nullish(),
      }),
    )
    .nullish()
    .transform((payloads) => payloads ?? []),
});
type JsonPayload = z.infer<typeof PayloadsBodySchema>["payloads"][number];

const maxBodyBytes = 32 * 1024 * 1024;
const allowedHeaders = "X-Namespace, Content-Type, Authorization";

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const token = options.token === "" ? undefined : options.token;
  if (!token && !isLoopbackHost(options.host)) throw new UnsafeCodecBinding(options.host);
  const origins = new Set(options.origins.map(originOf));

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    const cors: Record<string, string> = {};
    if (origin !== undefined) {
      if (!origins.has(origin.toLowerCase())) {
        return send(res, 403, { "Content-Type": "text/plain" }, `Origin '${origin}' may not use this codec server; start it with --origin ${origin} to allow it.`);
      }
      Object.assign(cors, { "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", Vary: "Origin" });
    }
    const operation = /(?:^|\/)(encode|decode)\/?$/.exec(new URL(req.url ?? "/", "http://localhost").pathname)?.[1];
    if (!operation) return send(res, 404, { ...cors, "Content-Type": "text/plain" }, "Not found: the endpoints are POST /encode and POST /decode.");
    if (req.method === "OPTIONS") {
      return send(res, 204, { ...cors, "Access-Control-Allow-Methods": "POST, OPTIONS", "Access-Control-Allow-Headers": allowedHeaders, "Access-Control-Max-Age": "600" });
    }
    if (req.method !== "POST") return send(res, 405, { ...cors, Allow: "POST, OPTIONS", "Content-Type": "text/plain" }, `Use POST /${operation}.`);
    if (token !== undefined && !hasToken(req, token)) {
      return send(res, 401, { ...cors, "WWW-Authenticate": 'Bearer realm="duragent-codec"', "Content-Type": "text/plain" }, "Missing or wrong bearer token.");
    }
    const body = await readBody(req, maxBodyBytes);
    if (body === undefined) return send(res, 413, { ...cors, "Content-Type": "text/plain" }, `Requests are limited to ${maxBodyBytes} bytes.`);
    let parsed: z.infer<typeof PayloadsBodySchema>;
    try {
      parsed = PayloadsBodySchema.parse(JSON.parse(body));
    } catch {
      return send(res, 400, { ...cors, "Content-Type": "text/plain" }, 'Expected JSON like {"payloads": [{"metadata": {...}, "data": "<base64>"}]}.');
    }
    let payloads: Payload[];
    try {
      const input = parsed.payloads.map(fromJson);
      payloads = operation === "decode" ? await options.codec.decode(input) : await options.codec.encode(input);
    } catch (error) {
      // A payload under an unknown key, or altered: the message says which key, never any data.
      // Logged too: the Temporal CLI shows its operator only a timeout.
      if (isUserError(error)) {
        options.logger?.warn({ operation }, `codec-server: ${error.message}`);
        return send(res, 400, { ...cors, "Content-Type": "text/plain" }, error.message);
      }
      throw error;
    }
    send(res, 200, { ...cors, "Content-Type": "application/json" }, JSON.stringify({ payloads: payloads.map(toJson) }));
  };

  const listening = await listenHttp(handle, {
    host: options.host,
    port: options.port,
    onError: (error, res) => {
      options.logger?.error({ err: error }, "codec-server: request failed");
      send(res, 500, { "Content-Type": "text/plain" }, "Internal error; see the codec-server log.");
    },
  });
  return { url: listening.origin, port: listening.port, close: listening.close };
}

/** `scheme://host:port` in lower case, as browsers send it in the Origin header. */
export function originOf(url: string): string {
  return new URL(url).origin.toLowerCase();
}

function hasToken(req: IncomingMessage, token: string): boolean {
  const given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim();
  return given !== undefined && given !== "" && sameSecret(given, token);
}

function fromJson({ metadata, data }: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64")])),
    data: Buffer.from(data ?? "", "base64"),
  };
}

function toJson({ metadata, data }: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([key, value]) => [key, Buffer.from(value).toString("base64")])),
    data: Buffer.from(data ?? new Uint8Array()).toString("base64"),
  };
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body?: string): void {
  res.writeHead(status, headers);
  res.end(body);
}
