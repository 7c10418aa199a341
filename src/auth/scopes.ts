/** OAuth scopes as the space-separated strings they travel in (RFC 6749 §3.3). */

/** The scopes of a scope string, each once, in order. */
export function scopeList(scope: string | undefined): string[] {
  return [...new Set((scope ?? "").split(/\s+/).filter(Boolean))];
}

/** All the scopes of all the strings, each once, in the order first seen; undefined when none. */
export function unionScopes(...scopes: (string | undefined)[]): string | undefined {
  const union = scopeList(scopes.join(" "));
  return union.length > 0 ? union.join(" ") : undefined;
}

/** Whether `granted` includes every scope of `wanted`. */
export function coversScopes(granted: string | undefined, wanted: string | undefined): boolean {
  const have = new Set(scopeList(granted));
  return scopeList(wanted).every((scope) => have.has(scope));
}
