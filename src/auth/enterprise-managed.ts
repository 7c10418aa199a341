/**
 * Enterprise-managed authorization (`auth: { type: enterprise_managed }`, SEP-990 cross-app
 * access): the SDK's CrossAppAccessProvider does the grant (the ID-JAG for an access token, RFC
 * 7523); this supplies it with what only the worker has, read when a token is needed: the person's
 * ID token and the identity provider's client secret (for the RFC 8693 exchange that yields the
 * ID-JAG), and the client secret at the MCP server's authorization server. Tokens are kept in this
 * process's memory only, shared by its connections.
 */
import {
  CrossAppAccessProvider,
  discoverAndRequestJwtAuthGrant,
  requestJwtAuthorizationGrant,
  type CrossAppAccessContext,
  type OAuthClientMetadata,
  type OAuthClientProvider,
  type StoredOAuthClientInformation,
} from "@modelcontextprotocol/client";
import { createHash } from "node:crypto";
import type { EnterpriseManagedConfig } from "../config/schema.js";
import { CredentialsUnavailable, readCredential, WorkerGrantProvider } from "./worker-grant.js";

export class EnterpriseManagedProvider extends WorkerGrantProvider implements OAuthClientProvider {
  /** The grant itself; its client secret is filled in when the client information is read. */
  private readonly grant: CrossAppAccessProvider;
  /** A fingerprint of the ID token this provider's last grant exchanged. */
  private granted: string | undefined;

  constructor(
    server: string,
    /** The MCP server's URL. */
    url: string,
    private readonly config: EnterpriseManagedConfig,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {
    super(server, { url, auth: config }, {
      grant: "uses enterprise-managed authorization",
      scopeFix: `Add it to mcp.servers.${server}.auth.scope, or have the identity provider grant it.`,
    });
    this.grant = new CrossAppAccessProvider({
      assertion: (context) => this.idJag(context),
      clientId: config.clientId,
      clientSecret: "",
      clientName: "duragent",
      ...(config.issuer ? { expectedIssuer: config.issuer } : {}),
    });
  }

  /** The person's ID token, exchanged at the identity provider for an ID-JAG naming this server's authorization server. */
  private async idJag(context: CrossAppAccessContext): Promise<string> {
    const { idp } = this.config;
    const idToken = this.idToken();
    this.granted = fingerprint(idToken);
    const clientSecret =
      idp.clientSecretEnv !== undefined || idp.clientSecretFile !== undefined
        ? readCredential(this.server, "identity provider client secret", { env: idp.clientSecretEnv, file: idp.clientSecretFile, field: "auth.idp.clientSecret" }, this.env)
        : undefined;
    const scope = context.scope ?? this.config.scope;
    const request = {
      audience: context.authorizationServerUrl,
      resource: context.resourceUrl,
      idToken,
      clientId: idp.clientId,
      ...(clientSecret !== undefined ? { clientSecret } : {}),
      ...(scope !== undefined ? { scope } : {}),
      fetchFn: context.fetchFn,
    };
    try {
      const result = idp.tokenEndpoint
        ? await requestJwtAuthorizationGrant({ ...request, tokenEndpoint: idp.tokenEndpoint })
        : await discoverAndRequestJwtAuthGrant({ ...request, idpUrl: idp.issuer! });
      return result.jwtAuthGrant;
    } catch (error) {
      // The identity provider refused (an OAuth error answer): no retry changes that; its outage may pass.
      const said = error instanceof Error ? /^Token exchange failed(?:: | with status 4\d\d: )(.*)$/s.exec(error.message)?.[1] : undefined;
      if (said === undefined) throw error;
      const fix = /invalid_grant/.test(said) ? "The ID token may have expired: refresh it" : "Check the client";
      throw new CredentialsUnavailable(`The identity provider of MCP server '${this.server}' refused to exchange the ID token (${said}). ${fix} in mcp.servers.${this.server}.auth.idp.`);
    }
  }

  /**
   * The ID token decides whose the access token is. Read at every request (the SDK asks for the
   * token before each), so that once another person's ID token is in the file or variable, no
   * call goes out as the one before; an unreadable one drops the token, and the grant says why.
   */
  protected override currentCredential(): string {
    try {
      return fingerprint(this.idToken());
    } catch {
      return "unavailable";
    }
  }

  private idToken(): string {
    const { idp } = this.config;
    return readCredential(this.server, "ID token", { env: idp.idTokenEnv, file: idp.idTokenFile, field: "auth.idp.idToken" }, this.env);
  }

  protected override grantedCredential(): string {
    return this.granted ?? this.currentCredential();
  }

  get clientMetadata(): OAuthClientMetadata {
    return { ...this.grant.clientMetadata, ...(this.config.scope !== undefined ? { scope: this.config.scope } : {}) };
  }

  async clientInformation(): Promise<StoredOAuthClientInformation> {
    const secret = readCredential(this.server, "client secret", { env: this.config.clientSecretEnv, file: this.config.clientSecretFile, field: "auth.clientSecret" }, this.env);
    return { ...this.grant.clientInformation(), client_secret: secret };
  }

  saveAuthorizationServerUrl(url: string): void {
    this.grant.saveAuthorizationServerUrl(url);
  }

  authorizationServerUrl(): string | undefined {
    return this.grant.authorizationServerUrl();
  }

  saveResourceUrl(url: string): void {
    this.grant.saveResourceUrl?.(url);
  }

  resourceUrl(): string | undefined {
    return this.grant.resourceUrl?.();
  }

  prepareTokenRequest(scope?: string): Promise<URLSearchParams> {
    return this.grant.prepareTokenRequest(scope ?? this.config.scope);
  }
}

function fingerprint(idToken: string): string {
  return createHash("sha256").update(idToken).digest("base64url");
}
