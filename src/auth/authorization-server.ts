/**
 * Checks on what an authorization server says, which the SDK leaves to its callers:
 *
 * - its metadata and token responses must be what OAuth says they are, or the error says so
 *   (rather than that some schema failed somewhere);
 * - its metadata must name the issuer it was looked up for (RFC 8414 §3.3, OpenID Connect
 *   Discovery §4.3), else nothing in it is used: not its endpoints, not its registration;
 * - an authorization response must come from that issuer (RFC 9207 `iss`), else its code is
 *   never exchanged: it may be a mix-up attack, a code from another server.
 */
import { RegistrationRejectedError, specTypeSchemas, type AuthorizationServerMetadata, type FetchLike } from "@modelcontextprotocol/client";
import { AuthorizationServerMisbehaved } from "./errors.js";

const OAUTH_METADATA = "/.well-known/oauth-authorization-server";
const OPENID_CONFIGURATION = "/.well-known/openid-configuration";
const PROTECTED_RESOURCE = "/.well-known/oauth-protected-resource";

/**
 * The issuer a metadata document at `url` must name: the well-known segment inserted after the
 * origin (RFC 8414 and its OpenID variant) or appended to the issuer's path (OpenID Discovery).
 * Undefined for any other URL.
 */
function issuerForMetadataUrl(url: URL): string | undefined {
  const { origin, pathname } = url;
  for (const prefix of [OAUTH_METADATA, OPENID_CONFIGURATION]) {
    if (pathname === prefix || pathname.startsWith(`${prefix}/`)) return origin + pathname.slice(prefix.length);
  }
  if (pathname.endsWith(OPENID_CONFIGURATION)) return origin + pathname.slice(0, -OPENID_CONFIGURATION.length);
  return undefined;
}

/**
 * The same issuer: identical once parsed (so the spelling of scheme and host does not matter), or
 * apart only by a final `/`, which the well-known URL cannot carry: `https://as.example` is looked
 * up at the same URL as `https://as.example/`.
 */
function sameIssuer(named: string, expected: string): boolean {
  const normal = (value: string): string => {
    try {
      return new URL(value).href.replace(/\/$/, "");
    } catch {
      return value;
    }
  };
  return normal(named) === normal(expected);
}

function urlOf(input: string | URL | Request): URL {
  return new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
}

/**
 * `fetchFn`, refusing authorization server metadata whose issuer is not the one it was looked up
 * for: the SDK's discovery then stops with an error instead of using the document.
 *
 * The check applies when the authorization server came from protected-resource metadata (RFC
 * 9728), which is how an issuer is learned. A server without any (the 2025-03-26 spec's way) is
 * its own authorization server: its metadata is looked up at its origin, which is no issuer
 * identifier, so there is nothing to compare with.
 */
export function checkingMetadataIssuer(server: string, fetchFn: FetchLike = fetch): FetchLike {
  /** Whether the latest protected-resource metadata lookup at a well-known URL found a document. */
  let resourceMetadata: "found" | "absent" | undefined;
  return async (input, init) => {
    const response = await fetchFn(input, init);
    const url = urlOf(input);
    if (url.pathname.startsWith(PROTECTED_RESOURCE)) resourceMetadata = response.ok ? "found" : "absent";
    if (!response.ok) return response;
    if (isTokenRequest(init)) {
      await checkTokenResponse(server, url, response);
      return response;
    }
    const expected = issuerForMetadataUrl(url);
    if (expected === undefined) return response;
    const document = await jsonOf(server, url, response, "metadata");
    const schema = url.pathname.includes(OPENID_CONFIGURATION) ? specTypeSchemas.OpenIdProviderDiscoveryMetadata : specTypeSchemas.OAuthMetadata;
    const parsed = schema["~standard"].validate(document);
    if (parsed.issues) {
      const issue = parsed.issues[0];
      const path = issue?.path?.map((segment) => (typeof segment === "object" ? String(segment.key) : String(segment))).join(".");
      throw new AuthorizationServerMisbehaved(
        server,
        `The authorization server metadata of MCP server '${server}' at ${url.href} is not valid: ${issue ? `${path || "document"}: ${issue.message}` : "it does not parse"}.`,
      );
    }
    if (resourceMetadata === "absent") return response;
    const issuer = parsed.value.issuer;
    if (!sameIssuer(issuer, expected)) {
      throw new AuthorizationServerMisbehaved(
        server,
        `The authorization server metadata of MCP server '${server}' at ${url.href} names the issuer '${issuer}', not '${expected}', ` +
          `the issuer it was looked up for (RFC 8414 §3.3). duragent does not use it: another server may be posing as the authorization server.`,
      );
    }
    return response;
  };
}

async function jsonOf(server: string, url: URL, response: Response, what: string): Promise<unknown> {
  try {
    return await response.clone().json();
  } catch {
    throw new AuthorizationServerMisbehaved(server, `The authorization server of MCP server '${server}' answered ${url.href} with something other than JSON ${what}.`);
  }
}

/** A POST of an OAuth grant (`grant_type=…`) to a token endpoint. */
function isTokenRequest(init: RequestInit | undefined): boolean {
  return init?.method === "POST" && init.body instanceof URLSearchParams && init.body.has("grant_type");
}

/** A token endpoint's success must be a token (RFC 6749 §5.1); the SDK would only say its schema failed. */
async function checkTokenResponse(server: string, url: URL, response: Response): Promise<void> {
  const body = (await jsonOf(server, url, response, "token response")) as { access_token?: unknown; token_type?: unknown } | null;
  if (typeof body?.access_token !== "string" || typeof body.token_type !== "string") {
    throw new AuthorizationServerMisbehaved(
      server,
      `The authorization server of MCP server '${server}' answered a token request at ${url.href} without an access token and token type (RFC 6749 §5.1).`,
    );
  }
}

/**
 * RFC 9207: an authorization response's `iss` must be exactly the issuer the request went to
 * (simple string comparison), and must be there when the server says it sends it. Throws when
 * the response cannot be trusted; its code must then not be exchanged.
 */
export function checkAuthorizationResponseIssuer(
  server: string,
  params: URLSearchParams,
  metadata: AuthorizationServerMetadata | undefined,
  authorizationServerUrl: string | undefined,
): void {
  const iss = params.get("iss");
  const advertised = (metadata as { authorization_response_iss_parameter_supported?: unknown } | undefined)?.authorization_response_iss_parameter_supported === true;
  const expected = metadata?.issuer ?? authorizationServerUrl;
  const refused = `Sign-in to '${server}' was refused, and its authorization code was not used`;
  if (iss === null) {
    if (advertised) {
      throw new AuthorizationServerMisbehaved(
        server,
        `${refused}: the authorization server ${expected ?? ""} says it names itself in every authorization response (iss, RFC 9207), but this one carried no iss. It may not come from that server.`,
      );
    }
    return;
  }
  // Without metadata, the issuer is only known as the URL discovery fell back to.
  const matches = metadata?.issuer !== undefined ? iss === metadata.issuer : expected !== undefined && sameIssuer(iss, expected);
  if (!matches) {
    throw new AuthorizationServerMisbehaved(
      server,
      `${refused}: the authorization response names the issuer '${iss}', but the sign-in went to '${expected ?? "an unknown issuer"}' (RFC 9207). ` +
        `It may come from another authorization server (a mix-up attack).`,
    );
  }
}

/**
 * An OAuth failure in a line: the SDK quotes a non-OAuth error body (an HTML error page) whole,
 * which says nothing useful at length; it becomes the status and the start of its text.
 */
export function describeOAuthFailure(error: unknown): string {
  // A refused registration carries the endpoint's answer: an RFC 7591 error, or a page.
  if (error instanceof RegistrationRejectedError) {
    const refusal = oauthErrorIn(error.body);
    return refusal ? `the registration was refused (HTTP ${error.status}, ${refusal})` : notAnOAuthError(error.status, error.body);
  }
  const text = error instanceof Error ? error.message : String(error);
  const raw = /^HTTP (\d+): Invalid OAuth error response: [\s\S]*?Raw body: ([\s\S]*)$/.exec(text);
  if (raw) return notAnOAuthError(Number(raw[1]), raw[2]!);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function notAnOAuthError(status: number, body: string): string {
  const words = body.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim();
  return `HTTP ${status} with a body that is not an OAuth error${words ? ` ("${words.length > 120 ? `${words.slice(0, 120)}…` : words}")` : ""}`;
}

/** `error: error_description` of an OAuth error document, if `body` is one. */
function oauthErrorIn(body: string): string | undefined {
  try {
    const document: unknown = JSON.parse(body);
    if (typeof document !== "object" || document === null || typeof (document as { error?: unknown }).error !== "string") return undefined;
    const { error, error_description: description } = document as { error: string; error_description?: unknown };
    return typeof description === "string" && description ? `${error}: ${description}` : error;
  } catch {
    return undefined;
  }
}
