/**
 * `duragent auth login <server>`: the interactive OAuth sign-in for one HTTP MCP server.
 *
 * It first talks to the server without a token, as a worker would, and follows its challenge
 * (`WWW-Authenticate`): `resource_metadata` says where discovery starts, `scope` what to ask for,
 * together with scope a worker was refused (403 `insufficient_scope`), so a step-up asks for the
 * union. The SDK's `auth()` does discovery, registration, PKCE and the code exchange; duragent
 * checks the authorization server's metadata issuer (RFC 8414) and the response's `iss`
 * (RFC 9207) before any code is exchanged. A loopback HTTP server receives the redirect; the
 * tokens land in the token store (0600).
 *
 * A `client_credentials` server needs nobody: the login only checks that a token can be had.
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { auth } from "@modelcontextprotocol/client";
import type { ClientCredentialsConfig, EnterpriseManagedConfig, HttpServerConfig, McpAuthConfig, McpServerConfig, OAuthConfig } from "../config/schema.js";
import { systemCode } from "../errors/system-code.js";
import { checkAuthorizationResponseIssuer, checkingMetadataIssuer, describeOAuthFailure } from "./authorization-server.js";
import { probeChallenge, type AuthChallenge } from "./challenge.js";
import { ClientCredentialsProvider } from "./client-credentials.js";
import { EnterpriseManagedProvider } from "./enterprise-managed.js";
import { McpAuthorizationError, McpServerMisbehavior } from "./errors.js";
import { DuragentOAuthProvider } from "./oauth-provider.js";
import { coversScopes, unionScopes } from "./scopes.js";
import { TokenStore } from "./token-store.js";

export interface LoginOptions {
  /** Shows or opens the authorization URL; the person signs in there. */
  openUrl(url: URL): void | Promise<void>;
  /** Where the credentials go; `~/.duragent/oauth` (or `$DURAGENT_OAUTH_DIR`) by default. */
  directory?: string;
  /** How long to wait for the person; 5 minutes by default. */
  timeoutMs?: number;
}

export interface LoginResult {
  server: string;
  /**
   * `signed-in` after a new sign-in; `already-signed-in` when stored tokens still work or were
   * refreshed; `credentials-work` when a client-credentials server gave a token (nothing is stored).
   */
  outcome: "signed-in" | "already-signed-in" | "credentials-work";
  /** Where the tokens are kept; absent for client credentials, whose tokens live in each worker's memory. */
  tokenFile?: string;
  /** When the access token expires, in ms since the epoch, if the server said. */
  expiresAt?: number;
  scope?: string;
}

export type AuthServerConfig<A extends McpAuthConfig = McpAuthConfig> = HttpServerConfig & { auth: A };

/** The OAuth settings of a configured server, or an error that says how to configure them. */
export function oauthServerConfig(server: string, config: McpServerConfig | undefined, configured: string[]): AuthServerConfig {
  if (!config) throw new Error(`No MCP server '${server}' in mcp.servers (configured: ${configured.join(", ") || "none"}).`);
  if (!("url" in config) || !config.auth) {
    throw new Error(`MCP server '${server}' does not use OAuth: give it a url and \`auth: { type: oauth }\` in mcp.servers.${server}.`);
  }
  return config as AuthServerConfig;
}

export async function loginToServer(server: string, config: AuthServerConfig, options: LoginOptions): Promise<LoginResult> {
  if (config.auth.type === "client_credentials") return checkClientCredentials(server, config as AuthServerConfig<ClientCredentialsConfig>);
  if (config.auth.type === "enterprise_managed") return checkEnterpriseManaged(server, config as AuthServerConfig<EnterpriseManagedConfig>);
  return signIn(server, config as AuthServerConfig<OAuthConfig>, options);
}

async function signIn(server: string, config: AuthServerConfig<OAuthConfig>, options: LoginOptions): Promise<LoginResult> {
  const store = new TokenStore(server, options.directory);
  const challenge = await challengeFor(server, config);
  const stored = await store.read();
  const granted = typeof stored.tokens?.scope === "string" ? stored.tokens.scope : undefined;
  // A step-up keeps what was asked and granted before and adds what the server refused without;
  // otherwise the configured scope and the challenge's, else (in the SDK) the server's scopes_supported.
  const scope = stored.stepUpScope
    ? unionScopes(config.auth.scope, stored.requestedScope, granted, challenge?.scope, stored.stepUpScope)
    : unionScopes(config.auth.scope, challenge?.scope);
  // Tokens without the wanted scope must not merely be refreshed: refreshing never adds scope.
  if (stored.tokens && scope !== undefined && !coversScopes(granted ?? stored.requestedScope, scope)) await store.clear(["tokens", "savedAt"]);
  const callback = await startCallbackServer(config.auth.redirectPort ?? 0);
  try {
    const provider = new DuragentOAuthProvider(server, config.auth, store, {
      redirectUrl: callback.redirectUrl,
      onAuthorizationUrl: (url) => options.openUrl(url),
    });
    const authOptions = {
      serverUrl: config.url,
      ...(scope ? { scope } : {}),
      ...(challenge?.resourceMetadataUrl ? { resourceMetadataUrl: challenge.resourceMetadataUrl } : {}),
      fetchFn: checkingMetadataIssuer(server),
    };
    let outcome: LoginResult["outcome"] = "already-signed-in";
    if ((await attempt(server, () => auth(provider, authOptions))) === "REDIRECT") {
      const params = await callback.wait(options.timeoutMs ?? 5 * 60_000);
      try {
        const error = params.get("error");
        if (error) throw new Error(`Sign-in to '${server}' failed: ${error}${params.get("error_description") ? ` (${params.get("error_description")})` : ""}.`);
        if (params.get("state") !== provider.expectedState) throw new Error(`Sign-in to '${server}' was refused: the redirect's state does not match this sign-in. Try again.`);
        // Before the code goes anywhere: it must come from the authorization server the request went to.
        checkAuthorizationResponseIssuer(server, params, provider.authorizationServerMetadata, provider.discoveredAuthorizationServer);
        const code = params.get("code");
        if (!code) throw new Error(`Sign-in to '${server}' failed: the redirect carried no authorization code.`);
        provider.pinDiscovery();
        const iss = params.get("iss");
        const result = await attempt(server, () => auth(provider, { ...authOptions, authorizationCode: code, ...(iss !== null ? { iss } : {}) }));
        if (result !== "AUTHORIZED") throw new Error(`Sign-in to '${server}' did not complete; try again.`);
      } catch (error) {
        await store.clear(["codeVerifier"]);
        throw error;
      }
      outcome = "signed-in";
      await store.update(provider.requestedScope !== undefined ? { requestedScope: provider.requestedScope } : {});
      if (provider.requestedScope === undefined) await store.clear(["requestedScope"]);
      await store.clear(["stepUpScope"]);
    }
    await store.clear(["codeVerifier"]);
    const after = await store.read();
    const expiresIn = typeof after.tokens?.expires_in === "number" ? after.tokens.expires_in : undefined;
    const grantedScope = typeof after.tokens?.scope === "string" ? after.tokens.scope : undefined;
    // Tokens that already have what a server refused leave nothing to step up to.
    if (after.stepUpScope && coversScopes(grantedScope ?? after.requestedScope, after.stepUpScope)) await store.clear(["stepUpScope"]);
    return {
      server,
      outcome,
      tokenFile: store.file,
      ...(expiresIn !== undefined && after.savedAt !== undefined ? { expiresAt: after.savedAt + expiresIn * 1000 } : {}),
      ...(grantedScope ? { scope: grantedScope } : {}),
    };
  } finally {
    await callback.close();
  }
}

/** A client-credentials server: gets one token, to show the credentials work. Nothing is stored. */
async function checkClientCredentials(server: string, config: AuthServerConfig<ClientCredentialsConfig>): Promise<LoginResult> {
  const provider = new ClientCredentialsProvider(server, config.url, config.auth);
  provider.invalidateCredentials("tokens");
  const challenge = await challengeFor(server, config);
  const result = await attempt(server, () =>
    auth(provider, {
      serverUrl: config.url,
      ...(challenge?.resourceMetadataUrl ? { resourceMetadataUrl: challenge.resourceMetadataUrl } : {}),
      fetchFn: checkingMetadataIssuer(server),
    }),
  );
  const tokens = provider.tokens();
  if (result !== "AUTHORIZED" || !tokens) throw new Error(`MCP server '${server}': its authorization server gave no token for the client credentials.`);
  return {
    server,
    outcome: "credentials-work",
    ...(typeof tokens.expires_in === "number" ? { expiresAt: Date.now() + tokens.expires_in * 1000 } : {}),
    ...(tokens.scope ? { scope: tokens.scope } : {}),
  };
}

/** Gets a token the way a worker will (ID token, ID-JAG, access token), so a bad credential shows now. */
async function checkEnterpriseManaged(server: string, config: AuthServerConfig<EnterpriseManagedConfig>): Promise<LoginResult> {
  const provider = new EnterpriseManagedProvider(server, config.url, config.auth);
  provider.invalidateCredentials("tokens");
  const challenge = await challengeFor(server, config);
  const result = await attempt(server, () =>
    auth(provider, {
      serverUrl: config.url,
      ...(challenge?.resourceMetadataUrl ? { resourceMetadataUrl: challenge.resourceMetadataUrl } : {}),
      ...(challenge?.scope ? { scope: challenge.scope } : {}),
      fetchFn: checkingMetadataIssuer(server),
    }),
  );
  const tokens = provider.tokens();
  if (result !== "AUTHORIZED" || !tokens) throw new Error(`MCP server '${server}': its authorization server gave no token for the enterprise identity.`);
  return {
    server,
    outcome: "credentials-work",
    ...(typeof tokens.expires_in === "number" ? { expiresAt: Date.now() + tokens.expires_in * 1000 } : {}),
    ...(tokens.scope ? { scope: tokens.scope } : {}),
  };
}

/** The server's challenge to a client without a token, or why the server cannot be asked. */
async function challengeFor(server: string, config: HttpServerConfig): Promise<AuthChallenge | undefined> {
  try {
    return await probeChallenge(config);
  } catch (error) {
    throw new Error(`MCP server '${server}' at ${config.url} could not be reached: ${describe(error)}`, { cause: error });
  }
}

/** Runs a step of the SDK's flow, saying which server's sign-in failed and why. */
async function attempt<T>(server: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof McpAuthorizationError || error instanceof McpServerMisbehavior) throw error;
    throw new Error(`Sign-in to '${server}' failed: ${describe(error)}`, { cause: error });
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = systemCode(error);
  if (code !== undefined && !error.message.includes(code)) return `${error.message} (${code})`;
  // An authorization server's HTML error page says nothing useful at length.
  return describeOAuthFailure(error);
}

interface CallbackServer {
  redirectUrl: string;
  /** The query of the first request to /callback. */
  wait(timeoutMs: number): Promise<URLSearchParams>;
  close(): Promise<void>;
}

async function startCallbackServer(port: number): Promise<CallbackServer> {
  let resolve: (params: URLSearchParams) => void = () => undefined;
  const received = new Promise<URLSearchParams>((done) => (resolve = done));
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/callback") {
      res.writeHead(404).end();
      return;
    }
    const failed = url.searchParams.has("error");
    res.writeHead(failed ? 400 : 200, { "content-type": "text/plain; charset=utf-8" });
    res.end(failed ? "Sign-in failed; see the terminal.\n" : "Signed in to duragent. You can close this tab.\n");
    resolve(url.searchParams);
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  const { port: actual } = server.address() as AddressInfo;
  return {
    redirectUrl: `http://127.0.0.1:${actual}/callback`,
    async wait(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Nobody completed the sign-in within ${Math.round(timeoutMs / 1000)}s; run the command again.`)), timeoutMs);
      });
      try {
        return await Promise.race([received, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
