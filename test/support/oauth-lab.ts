/**
 * An OAuth authorization server and a protected MCP server on loopback, each on its own port,
 * whose behaviour a test sets: where the protected-resource metadata lives and whether the
 * challenge names it, the scope the challenge asks for and the scope `tools/call` needs (403
 * `insufficient_scope` without it), RFC 9207 `iss` in the redirect, a metadata issuer that lies,
 * client credentials (Basic or a private_key_jwt assertion, checked with node:crypto), and
 * token responses that are not tokens. The MCP side is the real SDK server (stateless).
 * Everything the authorization server receives is recorded in `events`.
 */
import { createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { listenHttp, type Listening } from "../../src/http/listen.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

export interface AuthorizationServerOptions {
  /** A path the issuer has, e.g. `/tenant1`; its endpoints live under it. */
  prefix?: string;
  /** Serve this issuer in the metadata instead of the real one. */
  metadataIssuer?: string;
  /** `authorization_response_iss_parameter_supported`. */
  issAdvertised?: boolean;
  /** What the redirect says in `iss`: the metadata's issuer, another, or nothing. */
  iss?: "correct" | "wrong" | "omit";
  /** Seconds an access token lives. */
  tokenTtlS?: number;
  /** Issue refresh tokens. */
  refreshTokens?: boolean;
  /** Client credentials this server accepts. */
  clientCredentials?: { clientId: string; secret?: string; publicKey?: KeyObject };
  /** The jwt-bearer grant (RFC 7523) for ID-JAGs this identity provider issued, from this client. */
  jwtBearer?: { clientId: string; secret: string; idp: IdentityProvider };
  /** Answer token requests with this (status 200) instead of a token. */
  brokenTokenResponse?: unknown;
  /** Answer registration with an HTML error page of this status. */
  registrationErrorPage?: number;
  /** Refuse registration with this RFC 7591 error (status 400). */
  registrationRefusal?: { error: string; error_description?: string };
}

export interface LabEvent {
  kind: "metadata" | "register" | "authorize" | "token";
  /** The registration body, the authorization query, the token form. */
  data: Record<string, unknown>;
  authorization?: string;
}

interface Token {
  scopes: string[];
  expiresAt: number;
  issuer: string;
  clientId: string;
}

/** A lab server on a free loopback port; a handler's failure is its 500. */
abstract class LabServer {
  base = "";
  private listening?: Listening;

  protected abstract handle(req: IncomingMessage, res: ServerResponse): Promise<void>;

  async start(): Promise<this> {
    this.listening = await listenHttp((req, res) => this.handle(req, res), {
      host: "127.0.0.1",
      port: 0,
      onError: (error, res) => res.writeHead(500, { "content-type": "text/plain" }).end(String(error)),
    });
    this.base = this.listening.origin;
    return this;
  }

  async close(): Promise<void> {
    await this.listening?.close();
  }
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString("base64url");

/** A token store shared by authorization servers and the resource server, as one deployment's. */
export class TokenRegistry {
  readonly tokens = new Map<string, Token>();
}

export class AuthorizationServer extends LabServer {
  readonly events: LabEvent[] = [];
  private codes = new Map<string, { scopes: string[]; challenge: string; clientId: string }>();
  private refresh = new Map<string, { scopes: string[]; clientId: string }>();
  private count = 0;

  constructor(
    readonly registry: TokenRegistry,
    readonly options: AuthorizationServerOptions = {},
  ) {
    super();
  }

  get issuer(): string {
    return `${this.base}${this.options.prefix ?? ""}`;
  }

  events_(kind: LabEvent["kind"]): LabEvent[] {
    return this.events.filter((event) => event.kind === kind);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.base);
    const prefix = this.options.prefix ?? "";
    const o = this.options;
    if (req.method === "GET" && url.pathname === `/.well-known/oauth-authorization-server${prefix}`) {
      this.events.push({ kind: "metadata", data: {} });
      json(res, 200, {
        issuer: o.metadataIssuer ?? this.issuer,
        authorization_endpoint: `${this.base}${prefix}/authorize`,
        token_endpoint: `${this.base}${prefix}/token`,
        registration_endpoint: `${this.base}${prefix}/register`,
        response_types_supported: ["code"],
        grant_types_supported: ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        code_challenge_methods_supported: ["S256"],
        token_endpoint_auth_methods_supported: o.clientCredentials?.publicKey ? ["private_key_jwt"] : ["client_secret_basic", "client_secret_post", "none"],
        ...(o.issAdvertised !== undefined ? { authorization_response_iss_parameter_supported: o.issAdvertised } : {}),
      });
      return;
    }
    if (req.method === "POST" && url.pathname === `${prefix}/register`) {
      if (o.registrationErrorPage) return void res.writeHead(o.registrationErrorPage, { "content-type": "text/html" }).end("<!DOCTYPE html><html><body><h1>Bad Gateway</h1><p>upstream is asleep</p></body></html>");
      if (o.registrationRefusal) return void res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify(o.registrationRefusal));
      const body = JSON.parse(await bodyOf(req)) as Record<string, unknown>;
      this.events.push({ kind: "register", data: body });
      json(res, 201, { ...body, client_id: `client-${this.base.split(":").at(-1)}-${++this.count}` });
      return;
    }
    if (req.method === "GET" && url.pathname === `${prefix}/authorize`) {
      const query = Object.fromEntries(url.searchParams);
      this.events.push({ kind: "authorize", data: query });
      const code = `code-${++this.count}`;
      this.codes.set(code, { scopes: (query.scope ?? "").split(" ").filter(Boolean), challenge: query.code_challenge ?? "", clientId: query.client_id ?? "" });
      const back = new URL(query.redirect_uri!);
      back.searchParams.set("code", code);
      if (query.state) back.searchParams.set("state", query.state);
      const iss = o.iss ?? (o.issAdvertised ? "correct" : "omit");
      if (iss === "correct") back.searchParams.set("iss", o.metadataIssuer ?? this.issuer);
      if (iss === "wrong") back.searchParams.set("iss", "https://evil.example.com");
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    if (req.method === "POST" && url.pathname === `${prefix}/token`) {
      const form = Object.fromEntries(new URLSearchParams(await bodyOf(req)));
      const authorization = req.headers.authorization;
      this.events.push({ kind: "token", data: form, ...(authorization ? { authorization } : {}) });
      if (o.brokenTokenResponse !== undefined) return json(res, 200, o.brokenTokenResponse);
      if (form.grant_type === "authorization_code") {
        const grant = this.codes.get(form.code ?? "");
        this.codes.delete(form.code ?? "");
        const verifierOk = grant && base64url(createHash("sha256").update(form.code_verifier ?? "").digest()) === grant.challenge;
        if (!grant || !verifierOk) return json(res, 400, { error: "invalid_grant", error_description: "bad code or verifier" });
        return json(res, 200, this.issue(grant.scopes, grant.clientId));
      }
      if (form.grant_type === "refresh_token") {
        const grant = this.refresh.get(form.refresh_token ?? "");
        if (!grant) return json(res, 400, { error: "invalid_grant", error_description: "unknown refresh token" });
        this.refresh.delete(form.refresh_token!);
        return json(res, 200, this.issue(grant.scopes, grant.clientId));
      }
      if (form.grant_type === "urn:ietf:params:oauth:grant-type:jwt-bearer" && o.jwtBearer) {
        const secret = authorization?.startsWith("Basic ") ? Buffer.from(authorization.slice(6), "base64").toString("utf8").split(":").map(decodeURIComponent) : [form.client_id, form.client_secret];
        if (secret[0] !== o.jwtBearer.clientId || secret[1] !== o.jwtBearer.secret) return json(res, 401, { error: "invalid_client", error_description: "client authentication failed" });
        const grant = o.jwtBearer.idp.grants.get(form.assertion ?? "");
        if (!grant || grant.audience !== this.issuer) return json(res, 400, { error: "invalid_grant", error_description: "not an ID-JAG the identity provider issued for this server" });
        return json(res, 200, this.issue(grant.scopes, `${o.jwtBearer.clientId} for ${grant.subject}`, false));
      }
      if (form.grant_type === "client_credentials") {
        const expected = o.clientCredentials;
        const clientId = this.authenticate(form, authorization);
        if (!expected || clientId !== expected.clientId) return json(res, 401, { error: "invalid_client", error_description: "client authentication failed" });
        return json(res, 200, this.issue((form.scope ?? "").split(" ").filter(Boolean), clientId, false));
      }
      return json(res, 400, { error: "unsupported_grant_type" });
    }
    res.writeHead(404, { "content-type": "text/html" }).end("<!DOCTYPE html><p>not here</p>");
  }

  /** The client a client-credentials request authenticates as: Basic, a posted secret, or a private_key_jwt assertion. */
  private authenticate(form: Record<string, string>, authorization: string | undefined): string | undefined {
    const expected = this.options.clientCredentials;
    if (!expected) return undefined;
    if (expected.publicKey) {
      if (form.client_assertion_type !== "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || !form.client_assertion) return undefined;
      const [header, payload, signature] = form.client_assertion.split(".");
      const valid = verify("sha256", Buffer.from(`${header}.${payload}`), { key: expected.publicKey, dsaEncoding: "ieee-p1363" }, Buffer.from(signature ?? "", "base64url"));
      const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString("utf8")) as { iss?: string; sub?: string; aud?: string; exp?: number };
      const audienceOk = [this.issuer, `${this.issuer}/`, `${this.base}${this.options.prefix ?? ""}/token`].includes(String(claims.aud));
      if (!valid || claims.iss !== expected.clientId || claims.sub !== expected.clientId || !audienceOk || (claims.exp ?? 0) * 1000 < Date.now()) return undefined;
      return claims.iss;
    }
    if (authorization?.startsWith("Basic ")) {
      const [id, secret] = Buffer.from(authorization.slice(6), "base64").toString("utf8").split(":").map(decodeURIComponent);
      return secret === expected.secret ? id : undefined;
    }
    return form.client_secret === expected.secret ? form.client_id : undefined;
  }

  private issue(scopes: string[], clientId: string, withRefresh = this.options.refreshTokens ?? false): Record<string, unknown> {
    const token = `token-${this.base.split(":").at(-1)}-${++this.count}`;
    const ttl = this.options.tokenTtlS ?? 3600;
    this.registry.tokens.set(token, { scopes, expiresAt: Date.now() + ttl * 1000, issuer: this.issuer, clientId });
    const refresh = withRefresh ? `refresh-${this.count}` : undefined;
    if (refresh) this.refresh.set(refresh, { scopes, clientId });
    return { access_token: token, token_type: "Bearer", expires_in: ttl, ...(scopes.length > 0 ? { scope: scopes.join(" ") } : {}), ...(refresh ? { refresh_token: refresh } : {}) };
  }
}

export interface ResourceServerOptions {
  /** Where the protected-resource metadata lives; `/.well-known/oauth-protected-resource/mcp` by default. */
  prmPath?: string;
  /** Name the metadata URL in the challenge (`resource_metadata`); true by default. */
  prmInChallenge?: boolean;
  /** The scope the 401 challenge asks for. */
  challengeScope?: string;
  /** `scopes_supported` in the metadata. */
  scopesSupported?: string[];
  /** Scope `tools/call` needs; a token without it gets 403 `insufficient_scope` naming it. */
  callScope?: string;
  /** Let `initialize` and notifications through without a token (the challenge comes with `tools/list`). */
  openInitialize?: boolean;
  /** Refuse every `tools/call` with 403 `insufficient_scope` naming this scope, whatever the token has. */
  alwaysForbid?: string;
}

/** The protected MCP server: one tool, `whoami`, which says who called with which scopes. */
export class ResourceServer extends LabServer {
  /** The paths of every request it received. */
  readonly requests: string[] = [];
  /** The authorization server the metadata names; tokens of any other are refused. */
  authorizationServer: AuthorizationServer;

  constructor(
    authorizationServer: AuthorizationServer,
    readonly options: ResourceServerOptions = {},
  ) {
    super();
    this.authorizationServer = authorizationServer;
  }

  get url(): string {
    return `${this.base}/mcp`;
  }

  get prmUrl(): string {
    return `${this.base}${this.options.prmPath ?? "/.well-known/oauth-protected-resource/mcp"}`;
  }

  private challenge(res: ServerResponse, status: 401 | 403, scope: string | undefined, error: string): void {
    const parts = [`error="${error}"`];
    if (scope) parts.push(`scope="${scope}"`);
    if (this.options.prmInChallenge ?? true) parts.push(`resource_metadata="${this.prmUrl}"`);
    json(res, status, { error }, { "www-authenticate": `Bearer ${parts.join(", ")}` });
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.base);
    this.requests.push(url.pathname);
    if (req.method === "GET" && url.href === this.prmUrl) {
      json(res, 200, {
        resource: this.url,
        authorization_servers: [this.authorizationServer.issuer],
        ...(this.options.scopesSupported ? { scopes_supported: this.options.scopesSupported } : {}),
      });
      return;
    }
    if (url.pathname !== "/mcp") return void res.writeHead(404).end();
    if (req.method !== "POST") return void res.writeHead(405).end();
    const body = JSON.parse(await bodyOf(req)) as { method?: string };
    const open = this.options.openInitialize && (body.method === "initialize" || body.method?.startsWith("notifications/"));
    let token: Token | undefined;
    if (!open) {
      const presented = req.headers.authorization?.startsWith("Bearer ") ? req.headers.authorization.slice(7) : undefined;
      token = presented ? this.authorizationServer.registry.tokens.get(presented) : undefined;
      if (!token || token.expiresAt < Date.now() || token.issuer !== this.authorizationServer.issuer) {
        return this.challenge(res, 401, this.options.challengeScope, "invalid_token");
      }
      if (body.method === "tools/call" && this.options.alwaysForbid) return this.challenge(res, 403, this.options.alwaysForbid, "insufficient_scope");
      const needed = body.method === "tools/call" ? this.options.callScope : undefined;
      if (needed && !needed.split(" ").every((scope) => token!.scopes.includes(scope))) return this.challenge(res, 403, needed, "insufficient_scope");
    }
    const server = new McpServer({ name: "lab", version: "1.0.0" });
    server.registerTool("whoami", { description: "Says who called" }, async () => ({
      content: [{ type: "text", text: `client ${token?.clientId ?? "none"} scopes ${token?.scopes.join(" ") ?? ""}` }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }
}

/** Plays the person: opens the authorization URL and follows its redirect back to the login's loopback callback. */
export async function signInAsPerson(url: URL): Promise<void> {
  const authorization = await fetch(url, { redirect: "manual" });
  const location = authorization.headers.get("location");
  await authorization.body?.cancel();
  if (!location) throw new Error(`the authorization server answered ${authorization.status} without a redirect`);
  const landed = await fetch(location);
  await landed.body?.cancel();
}

export function publicKeyOf(privateKeyPem: string): KeyObject {
  return createPublicKey(privateKeyPem);
}

/**
 * An enterprise identity provider's token exchange (RFC 8693): a person's ID token, from this
 * client, for an ID-JAG naming the authorization server (`audience`) and the MCP server
 * (`resource`) it is for. Everything it receives is recorded in `events`.
 */
export class IdentityProvider extends LabServer {
  readonly events: Record<string, string>[] = [];
  /** The ID-JAGs it issued, with whom and what they are for. */
  readonly grants = new Map<string, { subject: string; audience: string; resource: string; scopes: string[] }>();

  constructor(readonly options: { clientId: string; idTokens: Record<string, string> }) {
    super();
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST" || new URL(req.url ?? "/", this.base).pathname !== "/token") return void res.writeHead(404).end();
    const form = Object.fromEntries(new URLSearchParams(await bodyOf(req)));
    this.events.push(form);
    const subject = this.options.idTokens[form.subject_token ?? ""];
    if (form.grant_type !== "urn:ietf:params:oauth:grant-type:token-exchange" || form.client_id !== this.options.clientId) return json(res, 400, { error: "unauthorized_client" });
    if (!subject || form.subject_token_type !== "urn:ietf:params:oauth:token-type:id_token") return json(res, 400, { error: "invalid_grant", error_description: "unknown ID token" });
    const idJag = `${base64url(JSON.stringify({ typ: "oauth-id-jag+jwt", alg: "none" }))}.${base64url(JSON.stringify({ sub: subject, aud: form.audience }))}.${this.grants.size}`;
    this.grants.set(idJag, { subject, audience: form.audience ?? "", resource: form.resource ?? "", scopes: (form.scope ?? "").split(" ").filter(Boolean) });
    json(res, 200, { issued_token_type: "urn:ietf:params:oauth:token-type:id-jag", access_token: idJag, token_type: "N_A", expires_in: 300 });
  }
}
