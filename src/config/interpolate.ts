/**
 * `${VAR}` interpolation over a parsed YAML tree, so secrets and per-machine values can come
 * from the environment rather than the file.
 *
 *   ${VAR}            the value of VAR; an error when VAR is unset
 *   ${VAR:-default}   the value of VAR, or `default` when VAR is unset or empty (as in sh)
 *   $${               a literal `${`
 *
 * Only string values change: keys are left alone, and a substituted value stays a string
 * (`timeoutMs: ${T}` yields "5000", which the schema rejects as not a number).
 *
 * A model provider's `apiKey: ${VAR}` with VAR unset is left out instead, as if not written:
 * commands that call no model (steering a run on Temporal) need no model keys, and whatever
 * calls one says which key it lacks (a worker when it starts). With `steering`, so is every value
 * of a model provider's and an MCP server's `headers` and `env` that names an unset variable, and
 * a provider's `baseURL`: a command that only steers runs calls neither, and needs none of them.
 */
import { ConfigError } from "../errors/user-error.js";
import { formatPath, type Issue } from "../errors/zod-issues.js";
import { rememberSecretValue } from "./secret-values.js";

// `$${` first so an escaped reference is never read as a reference.
const token = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const reference = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Returns a copy of `tree` with every string interpolated from `env`.
 * Throws one `ConfigError` for `file` listing every unset variable and malformed reference.
 */
export function interpolate(tree: unknown, env: NodeJS.ProcessEnv, file: string | undefined, options: { steering?: boolean } = {}): unknown {
  const issues: Issue[] = [];
  const leftOut = options.steering ? isUnsetForSteering : isUnsetProviderKey;
  const result = walk(tree, [], { env, issues, leftOut });
  if (issues.length > 0) throw new ConfigError(file, issues);
  return result;
}

/** Interpolates one string; `path` only names the value in errors. */
function interpolateString(text: string, env: NodeJS.ProcessEnv, path: readonly (string | number)[], issues: Issue[]): string {
  if (!text.includes("$")) return text;
  return text.replace(token, (match: string, body: string | undefined) => {
    if (match === "$${") return "${";
    const at = formatPath(path);
    const parsed = body === undefined ? null : reference.exec(body);
    if (!parsed) {
      const shown = body === undefined ? match : `\${${body}}`;
      issues.push({ path: at, message: `"${shown}" is not a valid reference: write \${NAME} or \${NAME:-default}, or $\${ for a literal \${` });
      return match;
    }
    const name = parsed[1]!;
    const fallback = parsed[2];
    const value = env[name];
    if (fallback !== undefined && (value === undefined || value === "")) return fallback;
    if (value === undefined) {
      issues.push({ path: at, message: `environment variable ${name} is not set (write \${${name}:-} to allow empty)` });
      return match;
    }
    rememberSecretValue(name, value);
    return value;
  });
}

type LeftOut = (text: string, env: NodeJS.ProcessEnv, path: readonly (string | number)[]) => boolean;

const leaveOut = Symbol("left out");

/** Deeper than any config needs, and far above where walking it would run out of stack. */
const maxDepth = 64;

function walk(node: unknown, path: (string | number)[], walker: { env: NodeJS.ProcessEnv; issues: Issue[]; leftOut: LeftOut; within?: Set<object> }): unknown {
  const { env, issues, leftOut } = walker;
  if (typeof node === "string") return leftOut(node, env, path) ? leaveOut : interpolateString(node, env, path, issues);
  if (typeof node === "object" && node !== null) {
    // A YAML alias inside its own anchor (`a: &x {b: *x}`) makes a value that contains itself.
    if (walker.within?.has(node)) {
      issues.push({ path: formatPath(path), message: "contains itself, through a YAML alias inside its own anchor (&name … *name)" });
      return leaveOut;
    }
    if (path.length > maxDepth) {
      issues.push({ path: formatPath(path.slice(0, 3)), message: `is nested more than ${maxDepth} levels deep` });
      return leaveOut;
    }
    const within = (walker.within ??= new Set());
    within.add(node);
    try {
      if (Array.isArray(node)) return node.map((item, index) => walk(item, [...path, index], walker));
      if (isPlainObject(node)) {
        const out: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(node)) {
          const walked = walk(value, [...path, key], walker);
          if (walked === leaveOut) continue;
          // defineProperty, so a `__proto__` key in the file stays data and never becomes a prototype.
          Object.defineProperty(out, key, { value: walked, enumerable: true, writable: true, configurable: true });
        }
        return out;
      }
    } finally {
      within.delete(node);
    }
  }
  return node;
}

function isUnsetProviderKey(text: string, env: NodeJS.ProcessEnv, path: readonly (string | number)[]): boolean {
  if (path.length !== 4 || path[0] !== "llm" || path[1] !== "providers" || path[3] !== "apiKey") return false;
  const name = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(text)?.[1];
  return name !== undefined && env[name] === undefined;
}

/** Also a provider's `baseURL`, and a provider's or an MCP server's header or environment value, that names an unset variable. */
function isUnsetForSteering(text: string, env: NodeJS.ProcessEnv, path: readonly (string | number)[]): boolean {
  if (isUnsetProviderKey(text, env, path)) return true;
  const [section, list, , field] = path;
  const provider = section === "llm" && list === "providers" && ((path.length === 4 && field === "baseURL") || (path.length === 5 && field === "headers"));
  const server = section === "mcp" && list === "servers" && path.length === 5 && (field === "headers" || field === "env");
  return (provider || server) && namesUnsetVariable(text, env);
}

function namesUnsetVariable(text: string, env: NodeJS.ProcessEnv): boolean {
  for (const [, body] of text.matchAll(/\$\{([^}]*)\}/g)) {
    const parsed = body === undefined ? null : reference.exec(body);
    if (parsed && parsed[2] === undefined && env[parsed[1]!] === undefined) return true;
  }
  return false;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
