/**
 * Masks configured secrets in text bound for workflow history, logs, spans or the Web UI: an MCP
 * server's failure quotes its URL, command line and stderr; a model call's failure quotes the
 * SDK's error, which can quote a header or a URL. Each secret is masked whole and in its parts
 * (after "Bearer ", "Name:" or "="), and so is every value `${VAR}` took from a variable whose
 * name says it is a secret (src/config/secret-values.ts).
 */
import type { McpServerConfig } from "../config/schema.js";
import { MIN_SECRET_LENGTH, rememberedSecretValues, secretName } from "../config/secret-values.js";

/** Flags whose value is a credential: `--api-key sk-...`, `--header "Authorization: Bearer ..."`. */
const secretFlag = new RegExp(`^--?[\\w.-]*(${secretName.source}|header)[\\w.-]*$`, "i");
/** `GITHUB_TOKEN=ghp_...`, as `docker run -e` takes it. */
const secretAssignment = new RegExp(`^[A-Za-z_][\\w.-]*(${secretName.source})[\\w.-]*=(.+)$`, "is");
/** `Authorization: Bearer ...`, as a header given in one argument. */
const secretHeader = new RegExp(`^[\\w-]*(${secretName.source})[\\w-]*\\s*:\\s*(.+)$`, "is");
/** URLs inside a value: a `DATABASE_URL`-style argument, or one after `--dsn=`. */
const urlInText = /[a-z][\w+.-]*:\/\/[^\s'"<>]+/gi;
/** A path segment that reads as a key (`/mcp/sk-ak-3f9…/sse`): long, with letters and digits. */
const keyLikeSegment = /^(?=.*[a-z])(?=.*\d)[\w~.%-]{16,}$/i;

/**
 * The secret parts of every URL in `text`: its credentials, and its query values and key-like path
 * segments when `all` (an MCP server's URL, where hosted servers put keys), or else only the values
 * of secret-named query parameters (a model provider's base URL, whose `api-version` is not one).
 */
function urlSecrets(text: string, into: string[], all: boolean): void {
  for (const [match] of text.matchAll(urlInText)) {
    if (!URL.canParse(match)) continue;
    const url = new URL(match);
    for (const value of [url.username, url.password]) into.push(value, safeDecode(value));
    for (const pair of url.search.slice(1).split("&")) {
      const [name = "", value = ""] = pair.split(/=(.*)/s);
      if (all || secretName.test(safeDecode(name))) into.push(value, safeDecode(value));
    }
    if (all) for (const segment of url.pathname.split("/")) if (keyLikeSegment.test(segment)) into.push(segment, safeDecode(segment));
  }
}

function withParts(value: string, into: string[]): void {
  into.push(value, ...value.split(/[\s:=]+/));
}

/** Longest first, so a whole value is masked before a part of it. */
function finish(values: string[]): readonly string[] {
  return [...new Set(values)].filter((value) => value.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

const serverSecrets = new WeakMap<McpServerConfig, readonly string[]>();

/**
 * The values in a server's config that may be secrets: env and header values, URL credentials,
 * query values and key-like path segments, and in `args` the values of credential flags,
 * `NAME=value` and `Header: value` pairs, and URLs.
 */
function secretValuesOf(config: McpServerConfig): readonly string[] {
  const known = serverSecrets.get(config);
  if (known) return known;
  const values: string[] = [];
  if ("command" in config) {
    Object.values(config.env ?? {}).forEach((value) => withParts(value, values));
    const args = config.args ?? [];
    args.forEach((arg, index) => {
      urlSecrets(arg, values, true);
      const assigned = secretAssignment.exec(arg) ?? secretHeader.exec(arg);
      if (assigned) withParts(assigned[2]!, values);
      const [flag, inline] = arg.split(/=(.*)/s);
      if (!flag || !secretFlag.test(flag) || flag.startsWith("--no-")) return;
      const next = args[index + 1];
      if (inline !== undefined) withParts(inline, values);
      // `--no-auth --verbose`: a flag that takes no value is followed by another flag.
      else if (next !== undefined && !next.startsWith("-")) withParts(next, values);
    });
  } else {
    Object.values(config.headers ?? {}).forEach((value) => withParts(value, values));
    urlSecrets(config.url, values, true);
  }
  const secrets = finish(values);
  serverSecrets.set(config, secrets);
  return secrets;
}

/**
 * A model provider's secrets: its API key, the values of its secret-named headers, and its base
 * URL's credentials and secret-named query values. Not its `anthropic-version` or `api-version`:
 * masking those would hide model names and dates in every error.
 */
export function providerSecrets(provider: { apiKey?: string; headers?: Record<string, string>; baseURL?: string }): readonly string[] {
  const values: string[] = [];
  if (provider.apiKey !== undefined) values.push(provider.apiKey);
  for (const [name, value] of Object.entries(provider.headers ?? {})) if (secretName.test(name)) withParts(value, values);
  if (provider.baseURL !== undefined) urlSecrets(provider.baseURL, values, false);
  return finish(values);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Masks `secrets` and every remembered secret value in `text`, longest first over both. */
export function redact(text: string, secrets: readonly string[]): string {
  const remembered = rememberedSecretValues();
  const all = remembered.length === 0 ? secrets : secrets.length === 0 ? remembered : [...secrets, ...remembered].sort((a, b) => b.length - a.length);
  let masked = text;
  for (const secret of all) if (masked.includes(secret)) masked = masked.split(secret).join("***");
  return masked;
}

/** Masks a server's configured secrets in text bound for workflow history, logs or the Web UI. */
export function redactSecrets(config: McpServerConfig, text: string): string {
  return redact(text, secretValuesOf(config));
}

/**
 * Masks secrets in an error and its causes, in place: their messages and stacks go into history
 * when the error is an activity's failure, and into logs and spans.
 */
export function redactError<E extends Error>(error: E, secrets: readonly string[]): E {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const masked = redact(current.message, secrets);
    if (masked !== current.message) current.message = masked;
    if (current.stack !== undefined) {
      const stack = redact(current.stack, secrets);
      if (stack !== current.stack) current.stack = stack;
    }
    // A logger writes an error's own fields too: an SDK's error keeps the provider's answer
    // (`error.error.message`), which may quote the key it refused.
    for (const key of Object.keys(current)) if (key !== "cause") redactFields(current as unknown as Record<string, unknown>, key, secrets, 0);
    current = current.cause;
  }
  return error;
}

/** Masks secrets in the strings under `holder[key]`, in place, a few levels down. */
function redactFields(holder: Record<string, unknown>, key: string, secrets: readonly string[], depth: number): void {
  const value = holder[key];
  try {
    if (typeof value === "string") {
      const masked = redact(value, secrets);
      if (masked !== value) holder[key] = masked;
    } else if (typeof value === "object" && value !== null && !(value instanceof Error) && depth < 4) {
      for (const inner of Object.keys(value)) redactFields(value as Record<string, unknown>, inner, secrets, depth + 1);
    }
  } catch {
    // A read-only field: a logger that writes it would have to read past this too.
  }
}
