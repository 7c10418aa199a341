/**
 * The OAuth client-credentials grant (`auth: { type: client_credentials }`): a worker gets its own
 * tokens from the server's authorization server and gets new ones when they expire or the server
 * refuses them, with nobody signing in. The client secret (client_secret_basic or _post) or
 * private key (private_key_jwt, RFC 7523) is read on the worker, from the environment variable or
 * file the config names, when a token is needed; tokens are kept in this process's memory only.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createPrivateKeyJwtAuth } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import type { AddClientAuthentication, OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import type { ClientCredentialsConfig } from "../config/schema.js";
import type { AuthChallenge } from "./challenge.js";
import type { ScopeChallengeHandler } from "./oauth-provider.js";
import { scopeRefused } from "./step-up.js";

/** The secret or key of a client-credentials server cannot be read on this worker: a configuration problem. */
export class CredentialsUnavailable extends Error {
  override readonly name = "CredentialsUnavailable";
}

/** A token is replaced this long before it expires (a quarter of its life for short-lived ones), so no request carries it past its end. */
const EXPIRY_MARGIN_MS = 30_000;

/**
 * Tokens a worker got for itself (no person, no token store), by server and client, shared by
 * every connection of this process and kept in its memory only.
 */
export class WorkerTokens {
  private static readonly cache = new Map<string, { tokens: OAuthTokens; usableUntil: number | undefined }>();

  constructor(private readonly key: string) {}

  /** The token, unless it is about to expire. */
  get(): OAuthTokens | undefined {
    const cached = WorkerTokens.cache.get(this.key);
    if (!cached) return undefined;
    if (cached.usableUntil !== undefined && Date.now() > cached.usableUntil) {
      WorkerTokens.cache.delete(this.key);
      return undefined;
    }
    return cached.tokens;
  }

  save(tokens: OAuthTokens): void {
    const lifeMs = typeof tokens.expires_in === "number" ? tokens.expires_in * 1000 : undefined;
    WorkerTokens.cache.set(this.key, { tokens, usableUntil: lifeMs === undefined ? undefined : Date.now() + lifeMs - Math.min(EXPIRY_MARGIN_MS, lifeMs / 4) });
  }

  drop(): void {
    WorkerTokens.cache.delete(this.key);
  }
}

export class ClientCredentialsProvider implements OAuthClientProvider, ScopeChallengeHandler {
  /** private_key_jwt: signs a fresh assertion for each token request. */
  readonly addClientAuthentication: AddClientAuthentication | undefined;

  constructor(
    readonly server: string,
    private readonly config: ClientCredentialsConfig,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {
    this.addClientAuthentication = this.usesPrivateKey
      ? async (headers, params, url, metadata) => {
          const key = this.parseKey(await this.read("private key", config.privateKeyEnv, config.privateKeyFile, "privateKey"));
          const alg = config.signingAlgorithm ?? this.algorithmOf(key);
          // The SDK imports PKCS#8 only; a SEC1 or PKCS#1 key is converted here.
          const privateKey = key.export({ format: "pem", type: "pkcs8" }).toString();
          await createPrivateKeyJwtAuth({ issuer: config.clientId, subject: config.clientId, privateKey, alg })(headers, params, url, metadata);
        }
      : undefined;
  }

  async insufficientScope(challenge: AuthChallenge): Promise<Error> {
    return scopeRefused(this.server, challenge, `Add it to mcp.servers.${this.server}.auth.scope, or have the authorization server grant it to the client.`);
  }

  private get usesPrivateKey(): boolean {
    return this.config.privateKeyEnv !== undefined || this.config.privateKeyFile !== undefined;
  }

  private get cache(): WorkerTokens {
    return new WorkerTokens(`${this.server}\n${this.config.clientId}`);
  }

  /** No redirect: the SDK takes that to mean a grant without a person. */
  get redirectUrl(): undefined {
    return undefined;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: "duragent",
      redirect_uris: [],
      grant_types: ["client_credentials"],
      ...(this.method ? { token_endpoint_auth_method: this.method } : {}),
      ...(this.config.scope !== undefined ? { scope: this.config.scope } : {}),
    };
  }

  private get method(): string | undefined {
    return this.usesPrivateKey ? "private_key_jwt" : this.config.tokenEndpointAuthMethod;
  }

  /**
   * The configured client. With `issuer` set it is bound to that authorization server, and the
   * SDK presents it to no other. There is no saveClientInformation: nothing is registered.
   */
  async clientInformation(): Promise<OAuthClientInformationMixed> {
    const secret = this.usesPrivateKey ? undefined : await this.read("client secret", this.config.clientSecretEnv, this.config.clientSecretFile, "clientSecret");
    return {
      client_id: this.config.clientId,
      ...(secret !== undefined ? { client_secret: secret } : {}),
      ...(this.method ? { token_endpoint_auth_method: this.method } : {}),
      ...(this.config.issuer ? { issuer: this.config.issuer } : {}),
    } as OAuthClientInformationMixed;
  }

  tokens(): OAuthTokens | undefined {
    return this.cache.get();
  }

  saveTokens(tokens: OAuthTokens): void {
    this.cache.save(tokens);
  }

  prepareTokenRequest(scope?: string): URLSearchParams {
    const params = new URLSearchParams({ grant_type: "client_credentials" });
    if (scope) params.set("scope", scope);
    return params;
  }

  redirectToAuthorization(): never {
    throw new CredentialsUnavailable(`MCP server '${this.server}' uses client credentials; nobody signs in to it.`);
  }

  saveCodeVerifier(): void {}

  codeVerifier(): never {
    throw new CredentialsUnavailable(`MCP server '${this.server}' uses client credentials; there is no authorization code.`);
  }

  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
    if (scope === "all" || scope === "tokens" || scope === "client") this.cache.drop();
  }

  private read(what: string, envName: string | undefined, file: string | undefined, field: string): Promise<string> {
    return readCredential(this.server, what, { env: envName, file, field: `auth.${field}` }, this.env);
  }

  private parseKey(pem: string): KeyObject {
    try {
      return createPrivateKey(pem);
    } catch (error) {
      throw new CredentialsUnavailable(`The private key of MCP server '${this.server}' is not a PEM private key: ${(error as Error).message}`);
    }
  }

  /** The JWS algorithm that fits the key: ES256/384/512 by curve, RS256 for RSA, PS256 for RSA-PSS. */
  private algorithmOf(key: KeyObject): string {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    switch (key.asymmetricKeyType) {
      case "rsa":
        return "RS256";
      case "rsa-pss":
        return "PS256";
      case "ec":
        if (curve === "prime256v1") return "ES256";
        if (curve === "secp384r1") return "ES384";
        if (curve === "secp521r1") return "ES512";
    }
    throw new CredentialsUnavailable(
      `The private key of MCP server '${this.server}' is of a kind duragent cannot sign client assertions with (${key.asymmetricKeyType}${curve ? ` ${curve}` : ""}); use an RSA key or an EC key on P-256, P-384 or P-521.`,
    );
  }
}

/**
 * Reads a credential from its environment variable or file (read each time, so a rotated one is
 * picked up), or says which one is missing and where the config names it.
 */
export async function readCredential(
  server: string,
  what: string,
  source: { env: string | undefined; file: string | undefined; field: string },
  env: Record<string, string | undefined> = process.env,
): Promise<string> {
  const at = `mcp.servers.${server}.${source.field}${source.env !== undefined ? "Env" : "File"}`;
  if (source.env !== undefined) {
    const value = env[source.env];
    if (!value) throw new CredentialsUnavailable(`MCP server '${server}' needs its ${what} in the environment variable ${source.env} (${at}), which is not set on this worker.`);
    return value;
  }
  try {
    const value = (await readFile(source.file!, "utf8")).trim();
    if (!value) throw new CredentialsUnavailable(`The ${what} file ${source.file} of MCP server '${server}' (${at}) is empty.`);
    return value;
  } catch (error) {
    if (error instanceof CredentialsUnavailable) throw error;
    throw new CredentialsUnavailable(`MCP server '${server}' cannot read its ${what} file ${source.file} (${at}): ${(error as Error).message}`);
  }
}
