/**
 * The MCP SDK's `OAuthClientProvider` for one configured HTTP server, backed by the token store.
 * The SDK does the protocol (discovery, PKCE, registration, code exchange, refresh on 401); this
 * class only keeps its state and decides what happens when a person must sign in: during
 * `duragent auth login` the authorization URL is handed to the login flow; on a worker, where
 * nobody can sign in, the connection fails with an error that says to run the login command.
 */
import { randomBytes } from "node:crypto";
import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import type { OAuthConfig } from "../config/schema.js";
import { TokenStore } from "./token-store.js";

/** Thrown on a worker when the server needs a sign-in nobody can do there. */
export class SignInRequired extends Error {
  override readonly name = "SignInRequired";
  constructor(readonly server: string) {
    super(`MCP server '${server}' needs you to sign in: run \`duragent auth login ${server}\` (the tokens are then shared with workers on this machine).`);
  }
}

export interface InteractiveSignIn {
  /** The loopback URL the authorization server redirects back to. */
  redirectUrl: string;
  /** Receives the URL the person must open. */
  onAuthorizationUrl(url: URL): void | Promise<void>;
}

export class DuragentOAuthProvider implements OAuthClientProvider {
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
    return {
      client_name: "duragent",
      redirect_uris: [this.redirectUrl ?? ""],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: this.config.clientSecret ? "client_secret_post" : "none",
      ...(this.config.scope !== undefined ? { scope: this.config.scope } : {}),
    };
  }

  async clientInformation(): Promise<OAuthClientInformationMixed | undefined> {
    if (this.config.clientId) {
      return { client_id: this.config.clientId, ...(this.config.clientSecret ? { client_secret: this.config.clientSecret } : {}) };
    }
    const credentials = await this.store.read();
    this.storedRedirectUrl = credentials.redirectUrl;
    const stored = credentials.clientInformation as OAuthClientInformationMixed | undefined;
    // Registering needs a redirect URL, which only a sign-in has; a worker says what to do instead.
    if (!stored && !this.interactive) throw new SignInRequired(this.server);
    return stored;
  }

  async saveClientInformation(clientInformation: OAuthClientInformationMixed): Promise<void> {
    // A configured client id stays in the config; only registered clients are stored.
    if (!this.config.clientId) await this.store.update({ clientInformation: { ...clientInformation } });
  }

  async tokens(): Promise<OAuthTokens | undefined> {
    return (await this.store.read()).tokens as OAuthTokens | undefined;
  }

  async saveTokens(tokens: OAuthTokens): Promise<void> {
    await this.store.update({
      tokens: { ...tokens },
      savedAt: Date.now(),
      ...(this.interactive ? { redirectUrl: this.interactive.redirectUrl } : {}),
    });
  }

  async redirectToAuthorization(authorizationUrl: URL): Promise<void> {
    if (!this.interactive) throw new SignInRequired(this.server);
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
    if (scope === "all") await this.store.clear(["clientInformation", "tokens", "savedAt", "codeVerifier"]);
    else if (scope === "client") await this.store.clear(["clientInformation"]);
    else if (scope === "tokens") await this.store.clear(["tokens", "savedAt"]);
    else if (scope === "verifier") await this.store.clear(["codeVerifier"]);
  }
}
