/**
 * The OAuth client-credentials grant (`auth: { type: client_credentials }`): a worker gets its own
 * tokens from the server's authorization server and gets new ones when they expire or the server
 * refuses them, with nobody signing in. The client secret (client_secret_basic or _post) or
 * private key (private_key_jwt, RFC 7523) is read on the worker, from the environment variable or
 * file the config names, when a token is needed; tokens are kept in this process's memory only.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { createPrivateKeyJwtAuth, type AddClientAuthentication, type OAuthClientInformationMixed, type OAuthClientMetadata, type OAuthClientProvider } from "@modelcontextprotocol/client";
import type { ClientCredentialsConfig } from "../config/schema.js";
import { CredentialsUnavailable, readCredential, WorkerGrantProvider } from "./worker-grant.js";

export class ClientCredentialsProvider extends WorkerGrantProvider implements OAuthClientProvider {
  /** private_key_jwt: signs a fresh assertion for each token request. */
  readonly addClientAuthentication: AddClientAuthentication | undefined;

  constructor(
    server: string,
    /** The MCP server's URL. */
    url: string,
    private readonly config: ClientCredentialsConfig,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {
    super(server, { url, auth: config }, {
      grant: "uses client credentials",
      scopeFix: `Add it to mcp.servers.${server}.auth.scope, or have the authorization server grant it to the client.`,
    });
    this.addClientAuthentication = this.usesPrivateKey
      ? async (headers, params, url, metadata) => {
          const key = this.parseKey(this.read("private key", config.privateKeyEnv, config.privateKeyFile, "privateKey"));
          const alg = config.signingAlgorithm ?? this.algorithmOf(key);
          // The SDK imports PKCS#8 only; a SEC1 or PKCS#1 key is converted here.
          const privateKey = key.export({ format: "pem", type: "pkcs8" }).toString();
          await createPrivateKeyJwtAuth({ issuer: config.clientId, subject: config.clientId, privateKey, alg })(headers, params, url, metadata);
        }
      : undefined;
  }

  private get usesPrivateKey(): boolean {
    return this.config.privateKeyEnv !== undefined || this.config.privateKeyFile !== undefined;
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
    const secret = this.usesPrivateKey ? undefined : this.read("client secret", this.config.clientSecretEnv, this.config.clientSecretFile, "clientSecret");
    return {
      client_id: this.config.clientId,
      ...(secret !== undefined ? { client_secret: secret } : {}),
      ...(this.method ? { token_endpoint_auth_method: this.method } : {}),
      ...(this.config.issuer ? { issuer: this.config.issuer } : {}),
    } as OAuthClientInformationMixed;
  }

  prepareTokenRequest(scope?: string): URLSearchParams {
    const params = new URLSearchParams({ grant_type: "client_credentials" });
    if (scope) params.set("scope", scope);
    return params;
  }

  private read(what: string, envName: string | undefined, file: string | undefined, field: string): string {
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
