/**
 * The workflow bundle: duragent's built-in workflows plus the config's modules, bundled by
 * Temporal's bundler (webpack) for the worker's sandbox.
 *
 * Bundling takes seconds (tens on a loaded machine), and a worker restarted after a crash must
 * serve at once, so bundles are cached on disk. A cached bundle is used only if everything that
 * went into it is unchanged: duragent's and the Temporal SDK's versions, the entry, the content of
 * every file webpack read (user modules, their imports, packages), and the absence of every path
 * webpack looked for and did not find (a new file could change what an import resolves to).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { displayPath, ExitCode, UserError } from "../errors/user-error.js";
import { duragentVersion, packageRoot } from "../package-info.js";

const require = createRequire(import.meta.url);

/** What goes into a bundle besides the files it reads. */
export interface BundleInputs {
  /** The config's modules, absolute paths. */
  modules: string[];
  /** Workflow interceptor modules, absolute paths or package names. */
  interceptorModules?: string[];
}

export interface LoadedBundle {
  code: string;
  /** True when the bundle came from the cache. */
  cached: boolean;
  /** The cached bundle's file. */
  file: string;
}

interface Manifest {
  key: string;
  /** Every file webpack read, with its SHA-256. */
  files: Record<string, string>;
  /** Paths webpack looked for and did not find. */
  missing: string[];
}

/** Keeps this many bundles per cache folder (different module sets, e.g. several projects). */
const KEEP_BUNDLES = 8;

/** The compiled (or, in the repository under tsx, source) file of the built-in workflows. */
function builtinWorkflowsPath(): string {
  return workflowsFile("builtin-workflows");
}

function workflowsFile(name: string): string {
  const extension = import.meta.url.endsWith(".ts") ? "ts" : "js";
  return fileURLToPath(new URL(`../workflows/${name}.${extension}`, import.meta.url));
}

/** `DURAGENT_CACHE_DIR`, else `node_modules/.cache/duragent` of the project duragent is installed in. */
function defaultCacheDir(): string {
  if (process.env.DURAGENT_CACHE_DIR) return resolve(process.env.DURAGENT_CACHE_DIR);
  const installed = /[\\/]node_modules[\\/]duragent[\\/]?$/.test(packageRoot);
  return installed ? resolve(packageRoot, "..", ".cache", "duragent") : join(packageRoot, "node_modules", ".cache", "duragent");
}

/** The bundle from the cache when nothing that went into it changed; otherwise built and cached. */
export async function loadWorkflowBundle(inputs: BundleInputs, options: { cacheDir?: string } = {}): Promise<LoadedBundle> {
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  return cachedBundle(inputs, cacheDir).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code !== "EROFS" && code !== "EACCES" && code !== "EPERM") throw error;
    // Yarn's Plug'n'Play keeps packages in read-only zips; a container may mount node_modules read-only.
    throw new UserError(`Cannot write the workflow bundle cache (${(error as Error).message}).`, {
      hint: `Set DURAGENT_CACHE_DIR to a folder this process can write (it is ${displayPath(cacheDir)} now), or prebuild the bundle with \`duragent build\` where one can be written.`,
      cause: error,
    });
  });
}

async function cachedBundle(inputs: BundleInputs, cacheDir: string): Promise<LoadedBundle> {
  const key = bundleKey(inputs);
  const file = join(cacheDir, `workflow-bundle-${key.slice(0, 16)}.js`);
  const manifestFile = `${file.slice(0, -3)}.json`;
  const manifest = readManifest(manifestFile);
  if (manifest && manifest.key === key && isFresh(manifest) && existsSync(file)) {
    return { code: readFileSync(file, "utf8"), cached: true, file };
  }
  const built = await buildWorkflowBundle(inputs);
  mkdirSync(cacheDir, { recursive: true });
  // Written under temporary names and renamed, so a crash mid-write never leaves a torn entry.
  writeAtomically(file, built.code);
  writeAtomically(manifestFile, JSON.stringify({ key, ...built.dependencies } satisfies Manifest));
  prune(cacheDir);
  return { code: built.code, cached: false, file };
}

/** Bundles the workflows with Temporal's bundler, recording every file webpack read. */
export async function buildWorkflowBundle(inputs: BundleInputs): Promise<{ code: string; dependencies: Omit<Manifest, "key"> }> {
  const { bundleWorkflowCode } = await import("@temporalio/worker");
  const read = new Set<string>();
  const missing = new Set<string>();
  const problems: string[] = [];
  const { code } = await bundleWorkflowCode({
    workflowsPath: entryFile(inputs.modules),
    preloadModules: [workflowsFile("shared-modules")],
    ...(inputs.interceptorModules?.length ? { workflowInterceptorModules: inputs.interceptorModules } : {}),
    // webpack's errors name the file and line; they become one user error below.
    logger: { ...quietBundlerLogger, error: (message: string) => void problems.push(message) },
    webpackConfigHook: (config) => ({
      ...config,
      resolve: {
        ...config.resolve,
        alias: { ...(config.resolve?.alias as Record<string, string | false> | undefined), ...temporalWorkflowPackages() },
      },
      plugins: [
        ...(config.plugins ?? []),
        {
          apply(compiler) {
            compiler.hooks.afterCompile.tap("duragent-bundle-cache", (compilation) => {
              for (const path of compilation.fileDependencies) read.add(path);
              for (const path of compilation.missingDependencies) missing.add(path);
            });
          },
        },
      ],
    }),
  }).catch((error: unknown) => {
    throw new WorkflowBundleError(problems, error);
  });
  const files: Record<string, string> = {};
  // Only real files: the bundler's generated entry lives in an in-memory file system.
  for (const path of [...read].sort()) if (isFile(path)) files[path] = hashFile(path);
  return { code, dependencies: { files, missing: [...missing].filter((path) => !existsSync(path)).sort() } };
}

/**
 * What `duragent build` records in a bundle it writes, so that a worker given it can tell when it
 * was built from other code than the worker's: the config's modules and the content of the user's
 * files it holds (not packages'), by path relative to the first module's folder: the same from a
 * monorepo's root (`--config packages/a/duragent.config.yaml`) as from the package's own folder.
 */
interface BundleStamp {
  modules: string[];
  files: Record<string, string>;
  tracing: boolean;
  /** duragent's and Temporal's workflow package versions it holds (absent in bundles built before they were recorded). */
  packages?: Record<string, string>;
}

/** The packages whose code a bundle holds besides the user's: an upgrade of either makes a prebuilt bundle stale. */
function bundledPackages(): Record<string, string> {
  return { duragent: duragentVersion, "@temporalio/workflow": packageVersion("@temporalio/workflow") };
}

const stampPrefix = "//# duragentBundle=";

function stampBase(inputs: BundleInputs): string {
  return inputs.modules[0] !== undefined ? dirname(inputs.modules[0]) : process.cwd();
}

/** The bundle with its stamp on a line before the source map, which Temporal reads from the end. */
export function stampedBundle(code: string, inputs: BundleInputs, files: Record<string, string>, base = stampBase(inputs)): string {
  const duragentOwn = [join(packageRoot, "src"), join(packageRoot, "dist")];
  const own = Object.fromEntries(
    Object.entries(files)
      .filter(([path]) => !/[\\/]node_modules[\\/]/.test(path) && !duragentOwn.some((folder) => path.startsWith(folder)))
      .map(([path, hash]) => [relative(base, path), hash]),
  );
  const stamp: BundleStamp = { modules: inputs.modules.map((path) => relative(base, path)), files: own, tracing: (inputs.interceptorModules?.length ?? 0) > 0, packages: bundledPackages() };
  const mapAt = code.lastIndexOf("//# sourceMappingURL=");
  const line = `${stampPrefix}${Buffer.from(JSON.stringify(stamp)).toString("base64")}\n`;
  return mapAt < 0 ? `${code}\n${line}` : `${code.slice(0, mapAt)}${line}${code.slice(mapAt)}`;
}

/**
 * Why a bundle `duragent build` wrote no longer matches the worker's code, or nothing when it does
 * (or carries no stamp). A file that is not here to compare (a deploy without sources) is no reason.
 */
export function bundleStaleness(code: string, inputs: BundleInputs, base = stampBase(inputs)): string[] {
  const at = code.lastIndexOf(stampPrefix);
  if (at < 0) return [];
  let stamp: BundleStamp;
  try {
    stamp = JSON.parse(Buffer.from(code.slice(at + stampPrefix.length, code.indexOf("\n", at)), "base64").toString("utf8")) as BundleStamp;
  } catch {
    return [];
  }
  const reasons: string[] = [];
  const modules = inputs.modules.map((path) => relative(base, path));
  if (modules.join("\n") !== stamp.modules.join("\n")) {
    reasons.push(`it was built for the modules [${stamp.modules.join(", ")}], and the config lists [${modules.join(", ")}]`);
  }
  const changed = Object.entries(stamp.files).filter(([path, hash]) => isFile(resolve(base, path)) && hashFile(resolve(base, path)) !== hash).map(([path]) => path);
  if (changed.length > 0) reasons.push(`${changed.join(", ")} changed since it was built`);
  const packages = bundledPackages();
  for (const [name, version] of Object.entries(stamp.packages ?? {})) {
    if (packages[name] !== undefined && packages[name] !== version) reasons.push(`it was built with ${name} ${version}, and this worker has ${packages[name]}`);
  }
  const tracing = (inputs.interceptorModules?.length ?? 0) > 0;
  if (tracing && !stamp.tracing) reasons.push("it was built with tracing off, so its workflows record no spans");
  return reasons;
}

/** The workflow code cannot be bundled: an import that does not resolve, a syntax error, a Node API. */
export class WorkflowBundleError extends UserError {
  override name = "WorkflowBundleError" as const;
  constructor(problems: string[], cause: unknown) {
    const details = errorsOf(problems) || (cause instanceof Error ? cause.message : String(cause));
    super(`The workflow code could not be bundled for the worker:\n${details.length > 4000 ? `${details.slice(0, 4000)}…` : details}`, {
      exitCode: ExitCode.usage,
      hint: "Check the modules listed under `modules:`: their imports must resolve, and workflow code may import only \"duragent/workflow\" and other sandbox-safe code (no Node APIs).",
      cause,
    });
  }
}

/** webpack's errors without its statistics: each `ERROR in` block, with the chain of imports (`@ file line`) that led there. */
function errorsOf(problems: string[]): string {
  const text = problems.join("\n");
  const first = text.indexOf("ERROR in ");
  return (first >= 0 ? text.slice(first) : text)
    .replace(/\n*webpack [\d.]+ compiled with .*$/s, "")
    .split("\n")
    // webpack's own stack frames and our generated entry files say nothing the user can act on.
    .filter((line) => !/^\s+at /.test(line) && !/@ .*(duragent[\\/]entries[\\/]|autogenerated-entrypoint)/.test(line))
    .join("\n")
    .trim();
}

/** The bundler's logger: only warnings and errors, so webpack's stats stay out of the output. */
export const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

/**
 * Workflow code gets the Temporal packages duragent itself resolves, one copy each: the worker
 * runs that version. A project's own, older `@temporalio/workflow` (a team already on Temporal)
 * is what an import from the bundle's entry or the project's code would find first, and bundled
 * beside duragent's it failed every workflow task.
 */
function temporalWorkflowPackages(): Record<string, string> {
  return Object.fromEntries(["@temporalio/workflow", "@temporalio/common"].map((name) => [name, dirname(require.resolve(`${name}/package.json`))]));
}

function bundleKey(inputs: BundleInputs): string {
  const versions = ["@temporalio/worker", "@temporalio/workflow"].map((name) => `${name}@${packageVersion(name)}`);
  // This very file decides how to bundle (preloaded modules, options): a change to it is a change of bundle.
  const bundler = hashFile(fileURLToPath(import.meta.url));
  const parts = [`duragent@${duragentVersion}`, bundler, ...versions, builtinWorkflowsPath(), ...inputs.modules, "|", ...(inputs.interceptorModules ?? [])];
  return createHash("sha256").update(parts.join("\n")).digest("hex");
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** The file the bundler starts from: the built-in workflows plus the config's modules. */
function entryFile(modules: string[]): string {
  const builtin = builtinWorkflowsPath();
  if (modules.length === 0) return builtin;
  const source = `${[builtin, ...modules].map((path) => `export * from ${JSON.stringify(path)};`).join("\n")}\n`;
  const dir = join(defaultCacheDir(), "entries");
  mkdirSync(dir, { recursive: true });
  // A package scope of its own, with no "type": webpack reads the entry as either kind of module,
  // whatever the project's package.json says (`"type": "commonjs"` made it refuse the `export`s;
  // `.mjs` would have made it strict, and CommonJS modules would have exported nothing through it).
  const scope = join(dir, "package.json");
  if (!existsSync(scope)) writeAtomically(scope, '{ "private": true }\n');
  const entry = join(dir, `workflows-${createHash("sha256").update(source).digest("hex").slice(0, 16)}.js`);
  if (!existsSync(entry)) writeAtomically(entry, source);
  return entry;
}

function isFresh(manifest: Manifest): boolean {
  for (const [path, hash] of Object.entries(manifest.files)) {
    if (!isFile(path) || hashFile(path) !== hash) return false;
  }
  return manifest.missing.every((path) => !existsSync(path));
}

function readManifest(file: string): Manifest | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<Manifest>;
    if (typeof parsed.key !== "string" || typeof parsed.files !== "object" || !Array.isArray(parsed.missing)) return undefined;
    return parsed as Manifest;
  } catch {
    return undefined;
  }
}

function hashFile(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function writeAtomically(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, content);
  renameSync(temporary, file);
}

/** Drops the least recently written bundles beyond `KEEP_BUNDLES`. */
function prune(cacheDir: string): void {
  const bundles = readdirSync(cacheDir)
    .filter((name) => /^workflow-bundle-[0-9a-f]+\.js$/.test(name))
    .map((name) => ({ name, mtime: statSync(join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime);
  for (const { name } of bundles.slice(KEEP_BUNDLES)) {
    rmSync(join(cacheDir, name), { force: true });
    rmSync(join(cacheDir, `${name.slice(0, -3)}.json`), { force: true });
  }
}
