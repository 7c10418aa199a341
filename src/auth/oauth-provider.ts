/**
 * The MCP SDK's `OAuthClientProvider` for one configured HTTP server, backed by the token store.
 * The SDK does the protocol (discovery, PKCE, registration, code exchange, refresh on 401); this
 * class keeps its state and decides what happens when a person must sign in: during
 * `duragent auth login` the authorization URL is handed to the login flow; on a worker, where
 * nobody can sign in, the connection fails with an error that says to run the login command.
 *
 * Clients are kept per authorization server: when the MCP server's metadata names another one,
 * duragent registers anew there rather than present one server's client to another.
 */
import { randomBytes } from "node:crypto";
import type { AuthorizationServerMetadata, OAuthClientInformationMixed, OAuthClientMetadata, OAuthClientProvider, OAuthDiscoveryState, OAuthTokens } from "@modelcontextprotocol/client";
import type { OAuthConfig } from "../config/schema.js";
import type { AuthChallenge } from "./challenge.js";
import { SignInRequired, type McpAuthorizationError } from "./errors.js";
import { recordScopeChallenge } from "./step-up.js";
import { TokenStore } from "./token-store.js";

export { SignInRequired };

export interface InteractiveSignIn {
  /** The loopback URL the authorization server redirects back to. */
  redirectUrl: string;
  /** Receives the URL the person must open. */
  onAuthorizationUrl(url: URL): void | Promise<void>;
}

/** An authorization server's URL as a key: parsed, so `https://a.example` and `https://a.example/` are one server. */
export function authorizationServerKey(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}

/** An auth provider that knows what a 403 `insufficient_scope` means for its server. */
export interface ScopeChallengeHandler {
  insufficientScope(challenge: AuthChallenge): Promise<Error>;
}

export class DuragentOAuthProvider implements OAuthClientProvider, ScopeChallengeHandler {
  readonly clientMetadataUrl: string | undefined;

  constructor(
    readonly server: string,
    private readonly config: OAuthConfig,
    readonly store: TokenStore = new TokenStore(server),
    /** Present during `duragent auth login`; absent on workers. */
    private readonly interactive?: InteractiveSignIn,
  ) {
    this.clientMetadataUrl = config.clientMetadataUrl;
  }

  /** Records the refused scope, so the next `duragent auth login` asks for it with the rest. */
  insufficientScope(challenge: AuthChallenge): Promise<McpAuthorizationError> {
    return recordScopeChallenge(this.server, this.store, challenge);
  }

  /** The `state` sent with the authorization request; the login flow checks the callback against it. */
  readonly expectedState = randomBytes(16).toString("hex");

  state(): string {
    return this.expectedState;
  }

  /**
   * Workers have no redirect, yet must not look like a client-credentials client to the SDK (it
   * decides the flow by whether there is one), so they present the URL the sign-in used.
   */
  private storedRedirectUrl: string | undefined;

  get redirectUrl(): string | undefined {
    return this.interactive?.redirectUrl ?? this.storedRedirectUrl ?? "http://127.0.0.1/callback";
  }

  get clientMetadata(): OAuthClientMetadata {
    // SEP-837: a CLI and workers on this machine, redirecting to loopback, are a native application.
    const metadata: OAuthClientMetadata & { application_type: "native" } = {
      client_name: "duragent",
      application_type: "native",
      redirect_uris: [this.redirectUrl ?? ""],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: this.config.clientSecret ? "client_secret_post" : "none",
      ...(this.config.scope !== undefined ? { scope: this.config.scope } : {}),
    };
    return metadata;
  }

  // --- discovery ---------------------------------------------------------------------------------

  /** What the SDK's latest discovery found: the authorization server and its (issuer-checked) metadata. */
  private discovered: OAuthDiscoveryState | undefined;
  /** During a sign-in's code exchange: the discovery the authorization request was made with. */
  private pinned: OAuthDiscoveryState | undefined;

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.discovered = state;
  }

  /**
   * Only a sign-in in progress reuses a discovery: its code goes to the authorization server whose
   * `iss` the login checked. Everything else discovers afresh, so a moved server is noticed.
   */
  discoveryState(): OAuthDiscoveryState | undefined {
    return this.pinned;
  }

  /** Makes the next `auth()` calls use the discovery the authorization request was made with. */
  pinDiscovery(): void {
    this.pinned = this.discovered;
  }

  /** The authorization server of the latest discovery. */
  get discoveredAuthorizationServer(): string | undefined {
    return this.discovered ? String(this.discovered.authorizationServerUrl) : undefined;
  }

  get authorizationServerMetadata(): AuthorizationServerMetadata | undefined {
    return this.discovered?.authorizationServerMetadata;
  }

  // --- the client --------------------------------------------------------------------------------

  async clientInformation(): Promise<OAuthClientInformationMixed | undefined> {
    if (this.config.clientId) {
      return { client_id: this.config.clientId, ...(this.config.clientSecret ? { client_secret: this.config.clientSecret } : {}) };
    }
    const credentials = await this.store.read();
    this.storedRedirectUrl = credentials.redirectUrl;
    const authorizationServer = this.discoveredAuthorizationServer;
    const registered = authorizationServer ? credentials.clients?.[authorizationServerKey(authorizationServer)] : undefined;
    // A client from an earlier duragent names no authorization server; the SDK binds it to the first that accepts it.
    const stored = (registered ?? credentials.clientInformation) as OAuthClientInformationMixed | undefined;
    if (stored || this.interactive) return stored;
    // Registering needs a redirect URL, which only a sign-in has; a worker says what to do instead.
    const elsewhere = Object.keys(credentials.clients ?? {});
    throw new SignInRequired(
      this.server,
      elsewhere.length > 0 && authorizationServer ? `it now uses the authorization server ${authorizationServer}, where duragent has not signed in` : undefined,
    );
  }

  async saveClientInformation(clientInformation: OAuthClientInformationMixed): Promise<void> {
    // A configured client id stays in the config; only registered clients (and CIMD URLs) are stored.
    if (this.config.clientId) return;
    const authorizationServer = (clientInformation as { issuer?: unknown }).issuer ?? this.discoveredAuthorizationServer;
    if (typeof authorizationServer !== "string") {
      await this.store.update({ clientInformation: { ...clientInformation } });
      return;
    }
    const credentials = await this.store.read();
    await this.store.update({ clients: { ...credentials.clients, [authorizationServerKey(authorizationServer)]: { ...clientInformation } } });
    if (credentials.clientInformation) await this.store.clear(["clientInformation"]);
  }

  // --- tokens ------------------------------------------------------------------------------------

  async tokens(): Promise<OAuthTokens | undefined> {
    return (await this.store.read()).tokens as OAuthTokens | undefined;
  }

  async saveTokens(tokens: OAuthTokens): Promise<void> {
    const authorizationServer = tokens.issuer ?? this.discoveredAuthorizationServer;
    await this.store.update({
      tokens: { ...tokens },
      savedAt: Date.now(),
      ...(authorizationServer ? { authorizationServer: authorizationServerKey(authorizationServer) } : {}),
      ...(this.interactive ? { redirectUrl: this.interactive.redirectUrl } : {}),
    });
  }

  // --- the sign-in -------------------------------------------------------------------------------

  /** The scope the latest authorization request asked for, as sent. */
  requestedScope: string | undefined;

  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    if (!this.interactive) throw new SignInRequired(this.server);
    this.requestedScope = authorizationUrl.searchParams.get("scope") ?? undefined;
    await this.interactive.onAuthorizationUrl(authorizationUrl);
  }

  async saveCodeVerifier(codeVerifier: string): Promise<void> {
    await this.store.update({ codeVerifier });
  }

  async codeVerifier(): Promise<string> {
    const { codeVerifier } = await this.store.read();
    if (!codeVerifier) throw new Error(`No sign-in to '${this.server}' is in progress; run \`duragent auth login ${this.server}\`.`);
    return codeVerifier;
  }

  async invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): Promise<void> {
    if (scope === "all" || scope === "client") await this.forgetClient();
    if (scope === "all" || scope === "tokens") await this.store.clear(["tokens", "savedAt", "authorizationServer"]);
    if (scope === "all" || scope === "verifier") await this.store.clear(["codeVerifier"]);
    if (scope === "discovery") this.pinned = undefined;
  }

  /** Forgets the client of the current authorization server (the server refused it). */
  private async forgetClient(): Promise<void> {
    const credentials = await this.store.read();
    const authorizationServer = this.discoveredAuthorizationServer;
    const clients = { ...credentials.clients };
    if (authorizationServer) delete clients[authorizationServerKey(authorizationServer)];
    await this.store.update({ clients });
    await this.store.clear(["clientInformation"]);
  }
}
