/**
 * `duragent auth login <server>`: the interactive OAuth sign-in for one HTTP MCP server. A loopback
 * HTTP server receives the authorization server's redirect; the SDK's `auth()` does discovery,
 * registration, PKCE and the code exchange; the tokens land in the token store (0600).
 */
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { auth } from "@modelcontextprotocol/sdk/client/auth.js";
import type { HttpServerConfig, McpServerConfig } from "../config/schema.js";
import { DuragentOAuthProvider } from "./oauth-provider.js";
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
  /** `signed-in` after a new sign-in; `already-signed-in` when stored tokens still work or were refreshed. */
  outcome: "signed-in" | "already-signed-in";
  tokenFile: string;
  /** When the access token expires, in ms since the epoch, if the server said. */
  expiresAt?: number;
  scope?: string;
}

/** The OAuth settings of a configured server, or an error that says how to configure them. */
export function oauthServerConfig(server: string, config: McpServerConfig | undefined, configured: string[]): HttpServerConfig & { auth: NonNullable<HttpServerConfig["auth"]> } {
  if (!config) throw new Error(`No MCP server '${server}' in mcp.servers (configured: ${configured.join(", ") || "none"}).`);
  if (!("url" in config) || !config.auth) {
    throw new Error(`MCP server '${server}' does not use OAuth: give it a url and \`auth: { type: oauth }\` in mcp.servers.${server}.`);
  }
  return config as HttpServerConfig & { auth: NonNullable<HttpServerConfig["auth"]> };
}

export async function loginToServer(server: string, config: HttpServerConfig & { auth: NonNullable<HttpServerConfig["auth"]> }, options: LoginOptions): Promise<LoginResult> {
  const store = new TokenStore(server, options.directory);
  const callback = await startCallbackServer(config.auth.redirectPort ?? 0);
  try {
    const provider = new DuragentOAuthProvider(server, config.auth, store, {
      redirectUrl: callback.redirectUrl,
      onAuthorizationUrl: (url) => options.openUrl(url),
    });
    const serverUrl = config.url;
    const scope = config.auth.scope;
    let outcome: LoginResult["outcome"] = "already-signed-in";
    if ((await auth(provider, { serverUrl, ...(scope ? { scope } : {}) })) === "REDIRECT") {
      const params = await callback.wait(options.timeoutMs ?? 5 * 60_000);
      const error = params.get("error");
      if (error) throw new Error(`Sign-in to '${server}' failed: ${error}${params.get("error_description") ? ` (${params.get("error_description")})` : ""}.`);
      if (params.get("state") !== provider.expectedState) throw new Error(`Sign-in to '${server}' was refused: the redirect's state does not match this sign-in. Try again.`);
      const code = params.get("code");
      if (!code) throw new Error(`Sign-in to '${server}' failed: the redirect carried no authorization code.`);
      const result = await auth(provider, { serverUrl, authorizationCode: code, ...(scope ? { scope } : {}) });
      if (result !== "AUTHORIZED") throw new Error(`Sign-in to '${server}' did not complete; try again.`);
      outcome = "signed-in";
    }
    await store.clear(["codeVerifier"]);
    const stored = await store.read();
    const expiresIn = typeof stored.tokens?.expires_in === "number" ? stored.tokens.expires_in : undefined;
    const grantedScope = typeof stored.tokens?.scope === "string" ? stored.tokens.scope : undefined;
    return {
      server,
      outcome,
      tokenFile: store.file,
      ...(expiresIn !== undefined && stored.savedAt !== undefined ? { expiresAt: stored.savedAt + expiresIn * 1000 } : {}),
      ...(grantedScope ? { scope: grantedScope } : {}),
    };
  } finally {
    await callback.close();
  }
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
