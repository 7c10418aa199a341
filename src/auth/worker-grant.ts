/**
 * What the providers of grants a worker makes on its own share (client credentials,
 * enterprise-managed): credentials read from the worker's environment or files when a token is
 * needed, tokens kept in this process's memory only, and nobody to send to a sign-in page.
 */
import { readFileSync } from "node:fs";
import type { OAuthTokens } from "@modelcontextprotocol/client";
import type { AuthChallenge } from "./challenge.js";
import type { ScopeChallengeHandler } from "./oauth-provider.js";
import { scopeRefused } from "./step-up.js";

/** A credential of a server the worker authorizes itself cannot be read on this worker: a configuration problem. */
export class CredentialsUnavailable extends Error {
  override readonly name = "CredentialsUnavailable";
}

/** A token is replaced this long before it expires (a quarter of its life for short-lived ones), so no request carries it past its end. */
const EXPIRY_MARGIN_MS = 30_000;

/**
 * Tokens a worker got for itself (no person, no token store), shared by every connection of this
 * process to the same server with the same grant, and kept in its memory only.
 */
export class WorkerTokens {
  private static readonly cache = new Map<string, { tokens: OAuthTokens; usableUntil: number | undefined; credential: string | undefined }>();

  constructor(private readonly key: string) {}

  /**
   * The token, unless it is about to expire, or was got with another credential than `credential`
   * (a fingerprint of the one the worker holds now; see `save`).
   */
  get(credential?: string): OAuthTokens | undefined {
    const cached = WorkerTokens.cache.get(this.key);
    if (!cached) return undefined;
    if ((cached.usableUntil !== undefined && Date.now() > cached.usableUntil) || cached.credential !== credential) {
      WorkerTokens.cache.delete(this.key);
      return undefined;
    }
    return cached.tokens;
  }

  /** Keeps a token, with a fingerprint of the credential it was got with when that decides whose it is. */
  save(tokens: OAuthTokens, credential?: string): void {
    const lifeMs = typeof tokens.expires_in === "number" ? tokens.expires_in * 1000 : undefined;
    WorkerTokens.cache.set(this.key, { tokens, usableUntil: lifeMs === undefined ? undefined : Date.now() + lifeMs - Math.min(EXPIRY_MARGIN_MS, lifeMs / 4), credential });
  }

  drop(): void {
    WorkerTokens.cache.delete(this.key);
  }
}

/** The OAuth provider methods every worker grant answers the same way. */
export abstract class WorkerGrantProvider implements ScopeChallengeHandler {
  private readonly cache: WorkerTokens;

  constructor(
    readonly server: string,
    /** The MCP server's URL and its `auth` config: what the tokens are for and how they are got. */
    grant: { url: string; auth: object },
    /** How the grant is told: "uses client credentials"; and what to do about a refused scope. */
    private readonly words: { grant: string; scopeFix: string },
  ) {
    // Keyed by all of it, not by name and client: two configs in one process may give one name to
    // other servers, scopes or identities, and a token got for one must never reach the other.
    // The config names where secrets are, never holds them.
    this.cache = new WorkerTokens(JSON.stringify([server, grant.url, grant.auth]));
  }

  async insufficientScope(challenge: AuthChallenge): Promise<Error> {
    return scopeRefused(this.server, challenge, this.words.scopeFix);
  }

  /** No redirect: the SDK takes that to mean a grant without a person. */
  get redirectUrl(): undefined {
    return undefined;
  }

  /**
   * A fingerprint of the credential that decides whose the tokens are, as the worker holds it now;
   * a token got with another is not used. None by default: a client's own secret may rotate, and
   * its tokens stay the client's.
   */
  protected currentCredential(): string | undefined {
    return undefined;
  }

  /** The fingerprint of the credential the grant in flight was made with. */
  protected grantedCredential(): string | undefined {
    return undefined;
  }

  tokens(): OAuthTokens | undefined {
    return this.cache.get(this.currentCredential());
  }

  saveTokens(tokens: OAuthTokens): void {
    this.cache.save(tokens, this.grantedCredential());
  }

  redirectToAuthorization(): never {
    throw new CredentialsUnavailable(`MCP server '${this.server}' ${this.words.grant}; nobody signs in to it.`);
  }

  saveCodeVerifier(): void {}

  codeVerifier(): never {
    throw new CredentialsUnavailable(`MCP server '${this.server}' ${this.words.grant}; there is no authorization code.`);
  }

  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
    if (scope === "all" || scope === "tokens" || scope === "client") this.cache.drop();
  }
}

/**
 * Reads a credential from its environment variable or file (read each time, so a rotated one is
 * picked up), or says which one is missing and where the config names it.
 */
export function readCredential(
  server: string,
  what: string,
  source: { env: string | undefined; file: string | undefined; field: string },
  env: Record<string, string | undefined> = process.env,
): string {
  const at = `mcp.servers.${server}.${source.field}${source.env !== undefined ? "Env" : "File"}`;
  if (source.env !== undefined) {
    const value = env[source.env];
    if (!value) throw new CredentialsUnavailable(`MCP server '${server}' needs its ${what} in the environment variable ${source.env} (${at}), which is not set on this worker.`);
    return value;
  }
  try {
    // Synchronous: a credential file is a few bytes, and the token check before each request reads it too.
    const value = readFileSync(source.file!, "utf8").trim();
    if (!value) throw new CredentialsUnavailable(`The ${what} file ${source.file} of MCP server '${server}' (${at}) is empty.`);
    return value;
  } catch (error) {
    if (error instanceof CredentialsUnavailable) throw error;
    throw new CredentialsUnavailable(`MCP server '${server}' cannot read its ${what} file ${source.file} (${at}): ${(error as Error).message}`);
  }
}
