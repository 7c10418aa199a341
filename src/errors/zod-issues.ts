/**
 * Zod's issues in user terms: dotted key paths and "expected X, got Y", one message naming where
 * the input came from (a config file, `--input`, an answer). Shared by every boundary that parses.
 */
import type { z } from "zod";

/** One problem at one place in a document; `path` is dotted (`mcp.servers.fs.command`), "" for the whole. */
export interface Issue {
  path: string;
  message: string;
  /** 1-based position in the file, when known (YAML syntax errors). */
  line?: number;
  column?: number;
}

/**
 * One message for a list of issues: `where: path: message` for one, a list under a header for more.
 * `where` names the source: a file, `--input`, `the answer`.
 */
export function formatIssues(where: string, issues: readonly Issue[]): string {
  const lines = issues.map((issue) => {
    const position = issue.line === undefined ? "" : `:${issue.line}${issue.column === undefined ? "" : `:${issue.column}`}`;
    const at = issue.path === "" ? "" : `${issue.path}: `;
    return { position, text: `${at}${issue.message}` };
  });
  if (lines.length === 0) return `${where}: invalid`;
  if (lines.length === 1) return `${where}${lines[0]!.position}: ${lines[0]!.text}`;
  const list = lines.map((line) => `  - ${line.position === "" ? "" : `line ${line.position.slice(1)}: `}${line.text}`);
  return `${where} has ${lines.length} problems:\n${list.join("\n")}`;
}

/** The issues of a Zod error in user terms: dotted paths, "expected X, got Y". */
export function zodIssues(error: z.ZodError, schema?: z.ZodType): Issue[] {
  const known = schema ? (path: readonly PropertyKey[]) => keysAt(schema, path) : undefined;
  return error.issues.flatMap((issue) => describeIssue(issue, [], known));
}

/**
 * Formats a Zod error as one readable message naming `where` and each key path.
 * Parse with `{ reportInput: true }` to get "got a number" rather than only "expected a string".
 */
export function formatZodError(error: z.ZodError, where: string, schema?: z.ZodType): string {
  return formatIssues(where, zodIssues(error, schema));
}

type ZodIssue = z.core.$ZodIssue;

/** What a sender sent, as JSON cut short, for the message that refuses it. */
export function inputPreview(value: unknown, max = 80): string {
  if (value === undefined || value === null) return "empty";
  const text = JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** `a.b.0.c`; keys that would be ambiguous in a dotted path are quoted. */
export function formatPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((segment) => {
      if (typeof segment === "number") return String(segment);
      const key = typeof segment === "symbol" ? segment.toString() : segment;
      return /^[^.\s"[\]]+$/.test(key) ? key : JSON.stringify(key);
    })
    .join(".");
}

/** The keys an object may have at `path`: what a misspelt key is compared with. */
type KnownKeys = (path: readonly PropertyKey[]) => string[];

function describeIssue(issue: ZodIssue, prefix: readonly PropertyKey[], known?: KnownKeys): Issue[] {
  const segments = [...prefix, ...issue.path];
  const at = (message: string, extra: readonly PropertyKey[] = []): Issue => ({ path: formatPath([...segments, ...extra]), message });
  switch (issue.code) {
    case "invalid_type":
      return [at(describeInvalidType(issue))];
    case "unrecognized_keys":
      // One issue per key, each at its own path, so the user sees exactly which line to delete.
      return issue.keys.map((key) => {
        const candidates = known?.(segments) ?? [];
        const foreign = foreignKeyHint(key, candidates);
        if (foreign) return at(`unknown key; ${foreign}`, [key]);
        const near = closestKey(key, candidates);
        // A key that another variant of a union takes (an MCP server's `command` beside its `url`).
        if (near === key) return at("belongs to another kind of entry than the one the other keys here make it; keep the keys of one kind", [key]);
        return at(near ? `unknown key; did you mean '${near}'?` : "unknown key (check the spelling, or remove it)", [key]);
      });
    case "invalid_union":
      return describeUnion(issue, segments, known);
    case "invalid_value":
      return [at(`expected ${listValues(issue.values)}${gotValue(issue.input)}`)];
    case "too_small":
      return [at(describeBound(issue.origin, issue.minimum, issue.inclusive, issue.exact, "min") + gotValue(issue.input))];
    case "too_big":
      return [at(describeBound(issue.origin, issue.maximum, issue.inclusive, issue.exact, "max") + gotValue(issue.input))];
    case "invalid_format":
      return [at(describeFormat(issue) + gotValue(issue.input))];
    case "not_multiple_of":
      return [at(`expected a multiple of ${issue.divisor}${gotValue(issue.input)}`)];
    case "invalid_key":
      return issue.issues.flatMap((inner) => describeIssue(inner, segments)).map((inner) => ({ ...inner, message: `key ${inner.message}` }));
    case "invalid_element":
      return issue.issues.flatMap((inner) => describeIssue(inner, segments));
    case "custom":
      return [at(issue.message)];
  }
}

function describeInvalidType(issue: z.core.$ZodIssueInvalidType): string {
  // A required key of any type (`z.unknown()`) says only that it is missing.
  if (issue.expected === "nonoptional") return "missing";
  const expected = typeNoun(issue.expected);
  if ("input" in issue) {
    if (issue.input === undefined) return `missing: expected ${expected}`;
    // A whole-number check failing on a number: the value says more than its type.
    if (typeof issue.input === "number" && typeof issue.expected === "string" && issue.expected === "int") return `expected ${expected}, got ${issue.input}`;
    return `expected ${expected}, got ${typeNoun(jsonType(issue.input))}`;
  }
  // Without reportInput the input is gone, but Zod's own message still names what it received.
  const received = /received (\w+)/.exec(issue.message)?.[1];
  if (received === "undefined") return `missing: expected ${expected}`;
  return received ? `expected ${expected}, got ${typeNoun(received)}` : `expected ${expected}`;
}

/**
 * A union error: when one branch got past the type check (the input had the right shape but a bad
 * field), its issues are the useful ones; otherwise the union simply expected one of several types.
 */
function describeUnion(issue: z.core.$ZodIssueInvalidUnion, segments: readonly PropertyKey[], known?: KnownKeys): Issue[] {
  const path = formatPath(segments);
  if ("discriminator" in issue && issue.discriminator !== undefined && issue.errors.length === 0) {
    const options = "options" in issue && issue.options ? issue.options.filter((option) => option !== undefined) : [];
    return [{ path, message: options.length > 0 ? `expected ${listValues(options)}${gotValue(issue.input)}` : "matches no allowed variant" }];
  }
  if (issue.errors.length === 0) return [{ path, message: "matches more than one allowed variant; make it unambiguous" }];
  const isTypeMismatch = (branch: readonly ZodIssue[]): boolean =>
    branch.length === 1 && branch[0]!.path.length === 0 && (branch[0]!.code === "invalid_type" || branch[0]!.code === "invalid_value");
  const deeper = issue.errors.filter((branch) => !isTypeMismatch(branch));
  if (deeper.length > 0) {
    const best = deeper.reduce((a, b) => (b.length < a.length ? b : a));
    return best.flatMap((inner) => describeIssue(inner, segments, known));
  }
  const expectations = issue.errors.map((branch) => {
    const only = branch[0]!;
    if (only.code === "invalid_value") return listValues(only.values);
    return only.code === "invalid_type" ? typeNoun(only.expected) : "something else";
  });
  const got = issue.input !== undefined ? `, got ${typeNoun(jsonType(issue.input))}` : "";
  return [{ path, message: `expected ${joinOr([...new Set(expectations)])}${got}` }];
}

function describeBound(origin: string, limit: number | bigint, inclusive: boolean | undefined, exact: boolean | undefined, side: "min" | "max"): string {
  const n = Number(limit);
  switch (origin) {
    case "string":
      if (side === "min" && n === 1 && !exact) return "expected a non-empty string";
      return `expected a string of ${exact ? "exactly" : side === "min" ? "at least" : "at most"} ${n} character${n === 1 ? "" : "s"}`;
    case "array":
    case "set":
      if (side === "min" && n === 1 && !exact) return "expected a non-empty list";
      return `expected ${exact ? "exactly" : side === "min" ? "at least" : "at most"} ${n} item${n === 1 ? "" : "s"}`;
    default: {
      const op = side === "min" ? (inclusive ? ">=" : ">") : inclusive ? "<=" : "<";
      const what = origin === "int" ? "an integer" : origin === "number" ? "a number" : typeNoun(origin);
      if (side === "min" && n === 0 && !inclusive) return `expected a positive ${origin === "int" ? "integer" : "number"}`;
      return `expected ${what} ${op} ${n}`;
    }
  }
}

function describeFormat(issue: z.core.$ZodIssueInvalidStringFormat): string {
  // A message set on the schema (`.regex(p, { message })`) explains the format better than its name.
  if (issue.message && !issue.message.startsWith("Invalid")) return issue.message;
  switch (issue.format) {
    case "url":
      return "expected a URL such as https://example.com";
    case "regex":
      return issue.pattern ? `expected text matching ${issue.pattern}` : "expected text in another format";
    case "starts_with":
    case "ends_with":
    case "includes":
      return issue.message;
    default:
      return `expected ${/^[aeiou]/i.test(issue.format) ? "an" : "a"} ${issue.format}`;
  }
}

/** The name of a value's type as the user wrote it (YAML/JSON terms). */
function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number" && Number.isNaN(value)) return "nan";
  return typeof value;
}

const typeNouns: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean (true or false)",
  bigint: "an integer",
  object: "a mapping (key: value)",
  record: "a mapping (key: value)",
  map: "a mapping (key: value)",
  array: "a list",
  tuple: "a list",
  set: "a list",
  null: "null",
  undefined: "nothing",
  nan: "NaN",
  date: "a date",
  function: "a function",
  symbol: "a symbol",
  never: "nothing (remove it)",
};

function typeNoun(type: string): string {
  return typeNouns[type] ?? type;
}

function listValues(values: readonly unknown[]): string {
  const shown = values.map((value) => (typeof value === "string" ? `"${value}"` : String(value)));
  return shown.length === 1 ? shown[0]! : `one of ${shown.join(", ")}`;
}

function joinOr(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items.at(-1)}`;
}

/** ", got <value>" for short primitives only, so secrets and long text never land in messages. */
function gotValue(input: unknown): string {
  if (typeof input === "number" || typeof input === "boolean") return `, got ${input}`;
  if (input === null) return ", got null";
  return "";
}

/** The parts of a Zod schema's definition that lead to the objects below it. */
interface SchemaDefinition {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  options?: readonly z.ZodType[];
  valueType?: z.ZodType;
  element?: z.ZodType;
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
}

const definitionOf = (schema: z.ZodType): SchemaDefinition => (schema as unknown as { _zod: { def: SchemaDefinition } })._zod.def;

/** The schemas a value at `path` may be checked against: every union option, both ends of a pipe. */
function schemasAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType[] {
  const def = definitionOf(schema);
  const inner = [def.innerType, def.in, def.out, def.left, def.right, ...(def.options ?? []), def.type === "lazy" ? def.getter?.() : undefined];
  const wrapped = inner.filter((candidate): candidate is z.ZodType => candidate !== undefined && typeof candidate === "object");
  if (wrapped.length > 0 && def.type !== "object") return wrapped.flatMap((candidate) => schemasAt(candidate, path));
  if (path.length === 0) return [schema];
  const [head, ...rest] = path;
  const next = def.type === "object" ? def.shape?.[String(head)] : def.type === "record" ? def.valueType : def.type === "array" ? def.element : undefined;
  return next ? schemasAt(next, rest) : [];
}

/** The keys an object at `path` of `schema` may have. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  return [...new Set(schemasAt(schema, path).flatMap((found) => Object.keys(definitionOf(found).shape ?? {})))];
}

/**
 * mcp-agent's names (its `mcp_agent.config.yaml` and `Agent` fields) for what duragent calls
 * otherwise, said where duragent's own key belongs; names that differ only by snake_case
 * (`max_iterations`) are found as misspellings.
 */
const foreignKeys: Record<string, { key: string; words: string }> = {
  server_names: { key: "servers", words: "mcp-agent's 'server_names' is 'servers' here" },
  execution_engine: { key: "engine", words: "mcp-agent's 'execution_engine' is 'engine' here (memory or temporal)" },
  read_timeout_seconds: { key: "timeoutMs", words: "mcp-agent's 'read_timeout_seconds' is 'timeoutMs' here, in milliseconds" },
  request_params: { key: "maxTokens", words: "mcp-agent's 'request_params' are the agent's own keys here (model, maxTokens, maxIterations, temperature)" },
  otel: { key: "telemetry", words: "mcp-agent's 'otel' is 'telemetry' here (OpenTelemetry traces and metrics)" },
  logger: { key: "telemetry", words: "duragent's logging is set by DURAGENT_LOG_LEVEL and DURAGENT_LOG_FORMAT (json or text), not in the config" },
  human_input_callback: { key: "humanInput", words: "mcp-agent's 'human_input_callback' is 'humanInput: true' here; people answer with `duragent answer` or the client" },
};

function foreignKeyHint(key: string, candidates: readonly string[]): string | undefined {
  const foreign = Object.hasOwn(foreignKeys, key) ? foreignKeys[key] : undefined;
  return foreign && candidates.includes(foreign.key) ? foreign.words : undefined;
}

/** The known key a misspelt one most likely meant: same letters in another case or with `_` or `-` between words, or a few edits away. */
export function closestKey(key: string, candidates: readonly string[]): string | undefined {
  const plain = (name: string) => name.toLowerCase().replace(/[_-]/g, "");
  const lower = plain(key);
  let best: { key: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(lower, plain(candidate));
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  return best && best.distance <= Math.max(1, Math.floor(key.length / 4)) ? best.key : undefined;
}

/** Edits (insert, delete, replace, swap two neighbours) from one string to another. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[a.length]![b.length]!;
}
