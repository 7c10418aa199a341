/**
 * What an MCP server says when it wants a token: the `WWW-Authenticate` challenge of its 401 (or
 * 403) answer. It may name where its protected-resource metadata lives (`resource_metadata`,
 * RFC 9728 §5.1), which is the only way to find metadata kept off the well-known URLs, and the
 * scope it wants (`scope`), which comes first in MCP's scope selection.
 */
import { Client, extractWWWAuthenticateParams, StreamableHTTPClientTransport, type FetchLike } from "@modelcontextprotocol/client";
import type { HttpServerConfig } from "../config/schema.js";
import { systemCode } from "../errors/system-code.js";
import { duragentVersion } from "../package-info.js";

export interface AuthChallenge {
  /** 401 (no or a bad token) or 403 (a token without enough scope). */
  status: number;
  resourceMetadataUrl?: URL;
  scope?: string;
  error?: string;
}

/** The challenge of a 401 or 403 response; undefined for any other. */
export function challengeOf(response: Response): AuthChallenge | undefined {
  if (response.status !== 401 && response.status !== 403) return undefined;
  const { resourceMetadataUrl, scope, error } = extractWWWAuthenticateParams(response);
  return {
    status: response.status,
    ...(resourceMetadataUrl ? { resourceMetadataUrl } : {}),
    ...(scope ? { scope } : {}),
    ...(error ? { error } : {}),
  };
}

/**
 * Talks to the server as a client without a token would, until it challenges: the workers' own
 * opening (a `server/discover` probe, then `initialize` for a 2025 server), and when that goes
 * through (some servers let anyone in), `tools/list`. Undefined when the server challenged
 * nothing. A server that cannot be reached at all throws.
 */
export async function probeChallenge(config: HttpServerConfig, timeoutMs = 15_000): Promise<AuthChallenge | undefined> {
  let challenge: AuthChallenge | undefined;
  const observing: FetchLike = async (input, init) => {
    const response = await fetch(input, init);
    challenge ??= challengeOf(response);
    return response;
  };
  const url = new URL(config.url);
  const requestInit: RequestInit = config.headers ? { headers: config.headers } : {};
  if (config.transport === "sse") {
    const controller = new AbortController();
    const response = await observing(url, { ...requestInit, headers: { ...config.headers, accept: "text/event-stream" }, signal: AbortSignal.any([controller.signal, AbortSignal.timeout(timeoutMs)]) });
    controller.abort();
    await response.body?.cancel().catch(() => undefined);
    return challenge;
  }
  const transport = new StreamableHTTPClientTransport(url, { requestInit, fetch: observing });
  const client = new Client({ name: "duragent", version: duragentVersion }, { capabilities: {}, versionNegotiation: { mode: "auto" } });
  try {
    await client.connect(transport, { timeout: timeoutMs });
    if (!challenge) await client.listTools(undefined, { timeout: timeoutMs });
  } catch (error) {
    // A challenge is what we came for; anything else that is not an HTTP answer means nobody is there.
    if (!challenge && isUnreachable(error)) throw error;
  } finally {
    if (transport.sessionId) await transport.terminateSession().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
  return challenge;
}

/** A network failure (a system code on its causes), not an answer from the server. */
function isUnreachable(error: unknown): boolean {
  return systemCode(error) !== undefined;
}
