/**
 * Loads `duragent.config.yaml`: find, parse, interpolate `${VAR}`, merge the secrets file and
 * overrides over it, validate, and resolve relative paths. Every failure is a `UserError`
 * naming the file and what to change.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { isScalar, LineCounter, parseDocument, visit, type Document } from "yaml";
import { ConfigError, ExitCode, UserError, displayPath } from "../errors/user-error.js";
import { zodIssues } from "../errors/zod-issues.js";
import { runPrices } from "../common/pricing.js";
import { defaultRunSettings, historyLimitDefaults, type ActivitySettings, type RunSettings } from "../common/run-settings.js";
import { interpolate, isPlainObject } from "./interpolate.js";
import { rememberSecretValue } from "./secret-values.js";
import type { z } from "zod";
import { ConfigSchema, type DuragentConfig } from "./schema.js";
import { temporalEnvironment } from "./temporal-environment.js";

const configFileNames = ["duragent.config.yaml", "duragent.config.yml"] as const;
const secretsFileNames = ["duragent.secrets.yaml", "duragent.secrets.yml"] as const;

/** Objects are partial all the way down; arrays are replaced whole, so they stay whole. */
export type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

export interface LoadConfigOptions {
  /** The config file, or a directory holding one; relative to `cwd`. Must exist when given. */
  path?: string;
  /** Where to look for the config when `path` is absent; defaults to `process.cwd()`. */
  cwd?: string;
  /** Variables for `${VAR}`; defaults to `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Merged over the files before validation (e.g. from command-line flags); not interpolated. */
  overrides?: DeepPartial<DuragentConfig>;
  /**
   * For a command that steers runs and calls no model or MCP server: unset variables in model
   * providers' `baseURL` and `headers` and MCP servers' `headers` and `env` are left out, not errors.
   */
  steering?: boolean;
}

export interface LoadedConfig {
  config: DuragentConfig;
  /** Absolute path of the config file; undefined when none was found and defaults apply. */
  path?: string;
  /** The config file's directory, or `cwd` without one; relative paths were resolved against it. */
  dir: string;
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const env = options.env ?? process.env;

  const configPath = options.path === undefined ? await findUp(cwd, configFileNames) : await explicitConfig(path.resolve(cwd, options.path));
  const dir = configPath === undefined ? cwd : path.dirname(configPath);
  const secretsPath = await findIn(dir, secretsFileNames);

  let tree: unknown = {};
  const steering = options.steering === true ? { steering: true } : {};
  if (configPath !== undefined) tree = interpolate(await readYaml(configPath), env, configPath, steering);
  if (secretsPath !== undefined) {
    const secrets = interpolate(await readYaml(secretsPath), env, secretsPath, steering);
    rememberSecretsIn(secrets);
    tree = deepMerge(tree, secrets);
  }
  if (options.overrides !== undefined) tree = deepMerge(tree, options.overrides);

  const files = [configPath, secretsPath].filter((f): f is string => f !== undefined);
  const result: LoadedConfig = { config: parseConfig(tree, { env, dir, files }), dir };
  if (configPath !== undefined) result.path = configPath;
  return result;
}

/** Where a config comes from: a file (or its directory), or the config itself as data. */
export type ConfigSource = string | z.input<typeof ConfigSchema> | DuragentConfig;

/**
 * The config from a source: a path is loaded like `duragent.config.yaml`, data is validated;
 * without a source, `DURAGENT_CONFIG` or `./duragent.config.yaml` (defaults when there is none).
 */
export async function configFrom(source?: ConfigSource, overrides?: DeepPartial<DuragentConfig>): Promise<DuragentConfig> {
  if (source !== undefined && source !== null && typeof source !== "string" && typeof source !== "object") {
    throw new UserError(`config must be a path to a duragent.config.yaml (or its folder), or the config as an object; got a ${typeof source}.`, { name: "ConfigError" });
  }
  if (typeof source === "object" && source !== null) return parseConfig(overrides ? deepMerge(source, overrides) : source);
  const path = source ?? process.env.DURAGENT_CONFIG;
  return (await loadConfig({ ...(path !== undefined ? { path } : {}), ...(overrides ? { overrides } : {}) })).config;
}

export interface ParseConfigOptions {
  /** Fills Temporal keys the config leaves out (Temporal's environment configuration); `process.env` by default. */
  env?: NodeJS.ProcessEnv;
  /** Relative paths resolve against it; `process.cwd()` by default. */
  dir?: string;
  /** The files the data came from, first the config file: errors name them. */
  files?: string[];
}

/**
 * Validates config data, from files or written in code: Temporal's environment configuration
 * fills the `temporal:` keys it leaves out, and relative paths resolve against `dir`. Throws a
 * `ConfigError` naming every problem.
 */
export function parseConfig(input: unknown, options: ParseConfigOptions = {}): DuragentConfig {
  const env = options.env ?? process.env;
  const section = isPlainObject(input) && isPlainObject(input.temporal) ? input.temporal : {};
  const profile = typeof section.profile === "string" ? section.profile : undefined;
  const fromEnvironment = temporalEnvironment(env, profile);
  if (env.DURAGENT_TEMPORAL_UI) fromEnvironment.uiUrl = env.DURAGENT_TEMPORAL_UI;
  const tree = deepMerge({ temporal: fromEnvironment }, input);
  const parsed = ConfigSchema.safeParse(tree, { reportInput: true });
  if (!parsed.success) {
    const [file, ...mergedWith] = options.files ?? [];
    throw new ConfigError(file, zodIssues(parsed.error, ConfigSchema), { mergedWith });
  }
  return resolvePaths(parsed.data, path.resolve(options.dir ?? process.cwd()));
}

/** The settings every run carries, from `llm.defaultModel` and `execution`, over the defaults. */
export function runSettingsFromConfig(config: DuragentConfig): RunSettings {
  const tools = activitySettings(defaultRunSettings.tools, config.execution.tools);
  const servers: Record<string, ActivitySettings> = {};
  for (const [name, server] of Object.entries(config.mcp.servers)) {
    if (server.execution !== undefined) servers[name] = activitySettings(tools, server.execution);
  }
  return {
    defaultModel: config.llm.defaultModel,
    maxIterations: config.execution.maxIterations,
    ...(config.execution.tokenBudget !== undefined ? { tokenBudget: config.execution.tokenBudget } : {}),
    ...(config.execution.costBudget !== undefined ? { costBudget: config.execution.costBudget, prices: runPrices(config.pricing) } : {}),
    llm: activitySettings(defaultRunSettings.llm, config.execution.llm),
    tools,
    ...(Object.keys(servers).length > 0 ? { servers } : {}),
    ...(config.execution.failedToolCall !== undefined ? { failedToolCall: config.execution.failedToolCall } : {}),
    approvalTools: config.approvals.tools,
    ...(config.approvals.destructive ? { approveDestructive: true } : {}),
    searchAttributes: config.temporal.searchAttributes,
    maxToolResultBytes: config.execution.maxToolResultBytes ?? historyLimitDefaults.maxToolResultBytes,
    transcriptReferenceBytes: config.execution.transcriptReferenceBytes ?? historyLimitDefaults.transcriptReferenceBytes,
    chatTurnsPerRun: config.execution.chatTurnsPerRun ?? historyLimitDefaults.chatTurnsPerRun,
    ...(config.execution.agentTurnsPerRun !== undefined ? { agentTurnsPerRun: config.execution.agentTurnsPerRun } : {}),
    listToolsInModelCall: defaultRunSettings.listToolsInModelCall,
    fewerTurns: defaultRunSettings.fewerTurns,
    transcriptOnce: defaultRunSettings.transcriptOnce,
  };
}

type ActivityPolicy = NonNullable<DuragentConfig["execution"]["llm"]>;

function activitySettings(base: ActivitySettings, policy: ActivityPolicy | undefined): ActivitySettings {
  if (policy === undefined) return structuredClone(base);
  const initialIntervalMs = policy.initialIntervalMs ?? base.retry.initialIntervalMs;
  // Temporal rejects a maximum interval below the initial one; raising only the initial must stay valid.
  const maximumIntervalMs = policy.maximumIntervalMs ?? Math.max(base.retry.maximumIntervalMs, initialIntervalMs);
  const settings: ActivitySettings = {
    retry: {
      maximumAttempts: policy.maximumAttempts ?? base.retry.maximumAttempts,
      initialIntervalMs,
      backoffCoefficient: policy.backoffCoefficient ?? base.retry.backoffCoefficient,
      maximumIntervalMs,
    },
    startToCloseTimeoutMs: policy.startToCloseTimeoutMs ?? base.startToCloseTimeoutMs,
  };
  const heartbeatTimeoutMs = policy.heartbeatTimeoutMs ?? base.heartbeatTimeoutMs;
  if (heartbeatTimeoutMs !== undefined) settings.heartbeatTimeoutMs = heartbeatTimeoutMs;
  // Silence longer than the whole attempt may last would never be noticed: the attempt's limit is the bound.
  // A config that raised the attempt's limit alone (for a slow model) keeps that bound on silence too.
  const idleTimeoutMs = policy.idleTimeoutMs ?? (policy.startToCloseTimeoutMs !== undefined && base.idleTimeoutMs !== undefined ? Math.max(base.idleTimeoutMs, policy.startToCloseTimeoutMs) : base.idleTimeoutMs);
  if (idleTimeoutMs !== undefined) settings.idleTimeoutMs = Math.min(idleTimeoutMs, settings.startToCloseTimeoutMs);
  const answerWaitMs = policy.answerWaitMs ?? base.answerWaitMs;
  if (answerWaitMs !== undefined) settings.answerWaitMs = answerWaitMs;
  return settings;
}

/**
 * Objects merge key by key; anything else in `over` (arrays, scalars, null) replaces `base`.
 * `undefined` replaces nothing, so unset flags in overrides leave the file's value alone.
 */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = {};
  for (const [key, value] of [...Object.entries(base), ...Object.entries(over)]) {
    const merged = Object.hasOwn(out, key) ? deepMerge(out[key], value) : value;
    if (merged === undefined) continue;
    // defineProperty, so a `__proto__` key stays data and never becomes a prototype.
    Object.defineProperty(out, key, { value: merged, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The one config file in `dir`, if any; both spellings at once is ambiguous, so an error. */
/** The nearest of `names`: in `dir`, else in the folders above it, as npm finds package.json (a command run in a project's subfolder). */
async function findUp(dir: string, names: readonly string[]): Promise<string | undefined> {
  for (let current = dir; ; current = path.dirname(current)) {
    const found = await findIn(current, names);
    if (found !== undefined || path.dirname(current) === current) return found;
  }
}

async function findIn(dir: string, names: readonly string[]): Promise<string | undefined> {
  const found: string[] = [];
  for (const name of names) {
    const candidate = path.join(dir, name);
    if (await isFile(candidate)) found.push(candidate);
  }
  if (found.length > 1) {
    throw new UserError(`both ${found.map(displayPath).join(" and ")} exist`, { hint: "Keep one of them and delete or rename the other." });
  }
  return found[0];
}

async function explicitConfig(file: string): Promise<string> {
  const info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) {
    const inside = await findIn(file, configFileNames);
    if (inside !== undefined) return inside;
    throw new UserError(`no ${configFileNames[0]} in ${displayPath(file)}`, {
      exitCode: ExitCode.notFound,
      hint: `Create ${path.join(displayPath(file), configFileNames[0])}, or pass the config file itself.`,
    });
  }
  if (info === undefined) {
    throw new UserError(`config file not found: ${displayPath(file)}`, {
      exitCode: ExitCode.notFound,
      hint: `Check the path${process.env.DURAGENT_CONFIG !== undefined && path.resolve(process.env.DURAGENT_CONFIG) === path.resolve(file) ? " in DURAGENT_CONFIG" : ""}, or leave it out to use duragent.config.yaml from the current directory.`,
    });
  }
  return file;
}

async function isFile(file: string): Promise<boolean> {
  const info = await stat(file).catch(() => undefined);
  return info?.isFile() ?? false;
}

/** The first key a map repeats, as the YAML library reports one (`Map keys must be unique`). */
function repeatedKey(doc: Document): { pos: [number, number]; message: string } | undefined {
  let found: { pos: [number, number]; message: string } | undefined;
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const { key } of map.items) {
        if (!isScalar(key)) continue;
        if (seen.has(key.value)) {
          found = { pos: [key.range?.[0] ?? 0, key.range?.[1] ?? 0], message: "Map keys must be unique" };
          return visit.BREAK;
        }
        seen.add(key.value);
      }
      return undefined;
    },
  });
  return found;
}

/** Parses one YAML file into plain data; an empty file is `{}`. */
async function readYaml(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = error instanceof Error && "code" in error ? String(error.code) : "unknown error";
    throw new UserError(`cannot read ${displayPath(file)} (${code})`, { hint: "Check that the file exists and is readable.", cause: error });
  }
  const lineCounter = new LineCounter();
  // prettyErrors off: the position and the source line are added below, in our format.
  // Keys are checked unique below: the library compares each key with all before it, which a
  // config of thousands of agents makes minutes of work.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const first = doc.errors[0] ?? repeatedKey(doc);
  if (first) {
    const { line, col } = lineCounter.linePos(first.pos[0]);
    const sourceLine = text.split(/\r?\n/)[line - 1] ?? "";
    // The secrets file's lines are its secrets: its errors give only the position.
    const quotable = !(secretsFileNames as readonly string[]).includes(path.basename(file)) && sourceLine.trim() !== "";
    const frame = quotable ? `\n    ${sourceLine}\n    ${" ".repeat(Math.max(0, col - 1))}^` : "";
    throw new ConfigError(file, [{ path: "", line, column: col, message: `YAML syntax error: ${first.message}${frame}` }]);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // toJS fails only on alias abuse (a "billion laughs" file) or a bad alias.
    throw new ConfigError(file, [{ path: "", message: `YAML error: ${error instanceof Error ? error.message : String(error)}` }], { cause: error });
  }
  if (data === null || data === undefined) return {};
  if (!isPlainObject(data)) {
    const got = Array.isArray(data) ? "a list" : `a ${typeof data}`;
    throw new ConfigError(file, [{ path: "", message: `expected a mapping of settings (engine:, mcp:, llm:, agents: ...) at the top level, got ${got}` }]);
  }
  return data;
}

/** Relative paths in the config mean "relative to the config file", wherever the CLI runs. */
function resolvePaths(config: DuragentConfig, dir: string): DuragentConfig {
  const resolve = (p: string): string => (isUri(p) ? p : path.resolve(dir, p));
  const servers: DuragentConfig["mcp"]["servers"] = {};
  for (const [name, server] of Object.entries(config.mcp.servers)) {
    const resolved = { ...server };
    if (resolved.roots) resolved.roots = resolved.roots.map(resolve);
    // A stdio server starts in the config's folder unless told otherwise, so its relative arguments
    // (`server-filesystem .`) mean the same from whichever folder a worker or `serve` was started.
    if ("command" in resolved) resolved.cwd = resolved.cwd !== undefined ? resolve(resolved.cwd) : dir;
    if ("auth" in resolved && resolved.auth?.type === "client_credentials") {
      const auth = { ...resolved.auth };
      if (auth.clientSecretFile !== undefined) auth.clientSecretFile = path.resolve(dir, auth.clientSecretFile);
      if (auth.privateKeyFile !== undefined) auth.privateKeyFile = path.resolve(dir, auth.privateKeyFile);
      resolved.auth = auth;
    }
    if ("auth" in resolved && resolved.auth?.type === "enterprise_managed") {
      const auth = { ...resolved.auth, idp: { ...resolved.auth.idp } };
      if (auth.clientSecretFile !== undefined) auth.clientSecretFile = path.resolve(dir, auth.clientSecretFile);
      if (auth.idp.clientSecretFile !== undefined) auth.idp.clientSecretFile = path.resolve(dir, auth.idp.clientSecretFile);
      if (auth.idp.idTokenFile !== undefined) auth.idp.idTokenFile = path.resolve(dir, auth.idp.idTokenFile);
      resolved.auth = auth;
    }
    Object.defineProperty(servers, name, { value: resolved, enumerable: true, writable: true, configurable: true });
  }
  let tls = config.temporal.tls;
  if (typeof tls === "object") {
    tls = { ...tls };
    for (const key of ["serverRootCaCertPath", "clientCertPath", "clientKeyPath"] as const) {
      const value = tls[key];
      if (value !== undefined) tls[key] = resolve(value);
    }
  }
  const temporal = { ...config.temporal };
  if (tls !== undefined) temporal.tls = tls;
  const codec = config.codec && {
    ...config.codec,
    keys: config.codec.keys.map((key) => (key.file === undefined ? key : { ...key, file: resolve(key.file) })),
  };
  return {
    ...config,
    ...(codec ? { codec } : {}),
    temporal,
    mcp: { ...config.mcp, servers },
    modules: config.modules.map(resolve),
  };
}

/** `file:///x` and other URIs pass through; a one-letter scheme is a Windows drive (`C:\`). */
function isUri(p: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]+:/.test(p);
}

/** The secrets file's values under secret-named keys (`apiKey`, `Authorization`, `GITHUB_TOKEN`), not its `kind` or `baseURL`. */
function rememberSecretsIn(node: unknown, key = ""): void {
  if (typeof node === "string") rememberSecretValue(key, node);
  else if (Array.isArray(node)) node.forEach((item) => rememberSecretsIn(item, key));
  else if (isPlainObject(node)) for (const [name, value] of Object.entries(node)) rememberSecretsIn(value, name);
}
