/**
 * A worker's answer to 403 `insufficient_scope` (MCP's scope challenge): the request needs scope
 * the sign-in lacks. Nobody can sign in on a worker, so the refused scope goes into the token
 * store and the error names the login command, whose next sign-in asks for the union of what was
 * asked before and what the server now requires. When the sign-in already has that scope, or the
 * server names none, signing in again cannot help, and the error says so instead.
 */
import type { AuthChallenge } from "./challenge.js";
import { ScopeRefused, ScopeStepUpRequired, type McpAuthorizationError } from "./errors.js";
import { coversScopes, unionScopes } from "./scopes.js";
import type { TokenStore } from "./token-store.js";

export async function recordScopeChallenge(server: string, store: TokenStore, challenge: AuthChallenge): Promise<McpAuthorizationError> {
  const required = challenge.scope;
  if (!required) {
    return new ScopeRefused(
      server,
      `MCP server '${server}' refused the request for insufficient scope without saying which scope it needs; signing in again cannot help until it does. Ask its operators which scope the request needs.`,
    );
  }
  const stored = await store.read();
  const granted = typeof stored.tokens?.scope === "string" ? stored.tokens.scope : stored.requestedScope;
  if (coversScopes(granted, required)) {
    return new ScopeRefused(
      server,
      `MCP server '${server}' refused the request for insufficient scope, asking for '${required}', which the current sign-in already has; ` +
        `signing in again will not help. Ask the server's operators why it refuses.`,
    );
  }
  const stepUpScope = unionScopes(stored.stepUpScope, required)!;
  await store.update({ stepUpScope });
  return new ScopeStepUpRequired(server, required, unionScopes(stored.requestedScope, granted, stepUpScope)!);
}

/** A 403 `insufficient_scope` that no sign-in by duragent can fix: the scope is someone else's to grant. */
export function scopeRefused(server: string, challenge: AuthChallenge, remedy = "No retry can add it."): ScopeRefused {
  return new ScopeRefused(server, `MCP server '${server}' refused the request: it needs scope '${challenge.scope ?? "(unnamed)"}', which its token lacks. ${remedy}`);
}
