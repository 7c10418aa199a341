/**
 * Values known to be secret: those `${VAR}` interpolation took from variables whose names say
 * they hold a secret (`GITHUB_TOKEN`, `DB_PASSWORD`), and the secrets file's values under such
 * names (`apiKey`, `Authorization`). A config may place such a value anywhere, even as a bare
 * argument whose place says nothing, so every redaction in this process masks these too.
 * Process-wide, as the environment they come from is.
 */

/** Names of variables, flags and headers that hold credentials. */
export const secretName = /key|token|secret|passw|auth|credential|cookie|dsn|private/i;

/** Shorter values are settings ("true", "debug"), and masking them would garble every message. */
export const MIN_SECRET_LENGTH = 8;

const remembered = new Set<string>();
/** Longest first, so a whole value is masked before one it contains. */
let sorted: readonly string[] = [];

export function rememberSecretValue(variable: string, value: string): void {
  if (secretName.test(variable)) rememberSecret(value);
}

/** A value known to be secret wherever it stands. */
function rememberSecret(value: string): void {
  if (value.length < MIN_SECRET_LENGTH || remembered.has(value)) return;
  remembered.add(value);
  sorted = [...remembered].sort((a, b) => b.length - a.length);
}

export function rememberedSecretValues(): readonly string[] {
  return sorted;
}
