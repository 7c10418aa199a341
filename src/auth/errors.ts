/**
 * What can go wrong with an MCP server's authorization, as errors whose messages say what to do.
 * Workers turn them into non-retryable failures (src/activities/mcp/connections.ts): the two
 * kinds below need a person or a fix, and no retry can stand in for either.
 */

/** A person must sign in (again, or with more scope) before the server answers. */
export class McpAuthorizationError extends Error {
  override readonly name: string = "McpAuthorizationError";
  constructor(
    readonly server: string,
    message: string,
  ) {
    super(message);
  }
}

/** The server needs a sign-in nobody can do on a worker. */
export class SignInRequired extends McpAuthorizationError {
  override readonly name = "SignInRequired";
  constructor(server: string, reason?: string) {
    super(
      server,
      `MCP server '${server}' needs you to sign in${reason ? ` (${reason})` : ""}: run \`duragent auth login ${server}\` (the tokens are then shared with workers on this machine).`,
    );
  }
}

/**
 * The server refused a request with 403 `insufficient_scope` for scope the sign-in lacks. The
 * refused scope is in the token store, so the login command named here asks for it too.
 */
export class ScopeStepUpRequired extends McpAuthorizationError {
  override readonly name = "ScopeStepUpRequired";
  constructor(
    server: string,
    readonly required: string,
    /** What the next `duragent auth login` asks for: what was asked before, plus `required`. */
    readonly union: string,
  ) {
    super(
      server,
      `MCP server '${server}' refused the request: it needs scope '${required}', which the current sign-in lacks. ` +
        `Run \`duragent auth login ${server}\` to sign in again; it will ask for '${union}'.`,
    );
  }
}

/** A 403 `insufficient_scope` that signing in again cannot fix (the scope is already granted, or the server named none). */
export class ScopeRefused extends McpAuthorizationError {
  override readonly name = "ScopeRefused";
}

/**
 * An MCP server or its authorization server broke the protocol in a way a retry would only
 * repeat: a malformed or oversized message, metadata that names another issuer, an authorization
 * response from another issuer, a token response that is not one.
 */
export class McpServerMisbehavior extends Error {
  override readonly name: string = "McpServerMisbehavior";
  constructor(
    readonly server: string,
    message: string,
  ) {
    super(message);
  }
}

/** The authorization server's answer cannot be trusted or used; nothing was sent on the strength of it. */
export class AuthorizationServerMisbehaved extends McpServerMisbehavior {
  override readonly name = "AuthorizationServerMisbehaved";
}

/** A message from an MCP server over the size duragent accepts. */
export class MessageTooLarge extends McpServerMisbehavior {
  override readonly name = "MessageTooLarge";
  constructor(
    server: string,
    readonly limit: number,
  ) {
    super(server, `MCP server '${server}' sent a message over ${limit} bytes, the most duragent accepts`);
  }
}
