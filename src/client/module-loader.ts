/**
 * Imports the modules a config lists under `modules:`. TypeScript ones need a loader: tsx is
 * loaded the first time a `.ts` module is imported, so a JavaScript-only project pays nothing.
 * A module that cannot be imported is the user's to fix, so it fails as a user error naming it.
 */
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { displayPath, ExitCode, UserError } from "../errors/user-error.js";

/** A module under `modules:` that could not be imported; names the module and says why. */
export class ModuleLoadError extends UserError {
  override name = "ModuleLoadError" as const;
  constructor(
    readonly modulePath: string,
    message: string,
    options: { exitCode?: ExitCode; hint?: string; cause?: unknown } = {},
  ) {
    super(message, options);
  }
}

const typeScriptFile = /\.[cm]?tsx?$/;
type TsImport = (specifier: string, parentURL: string) => Promise<Record<string, unknown>>;
let typeScriptImport: Promise<TsImport> | undefined;

export async function importModule(modulePath: string, { listedUnder = "`modules:`" }: { listedUnder?: string } = {}): Promise<Record<string, unknown>> {
  const shown = displayPath(modulePath);
  if (!existsSync(modulePath)) {
    throw new ModuleLoadError(modulePath, `The module ${shown} listed under ${listedUnder} does not exist.`, {
      exitCode: ExitCode.notFound,
      hint: `Paths under ${listedUnder} are relative to the config file; fix the path or remove the entry.`,
    });
  }
  const url = pathToFileURL(modulePath).href;
  try {
    return exportsOf(typeScriptFile.test(modulePath) ? await importTypeScript(url, modulePath) : ((await import(url)) as Record<string, unknown>));
  } catch (error) {
    throw new ModuleLoadError(modulePath, `Cannot load ${shown} (listed under ${listedUnder}): ${reason(error)}${whereIn(error, modulePath)}`, {
      hint: "Fix the module, or check it alone with `node <module>` (`npx tsx <module>` for TypeScript).",
      cause: error,
    });
  }
}

/**
 * The process's own import first, where it can load TypeScript itself (run under tsx, or Node's
 * type stripping) or has loaded the module already: the program that imported the module then
 * shares its instance, and its top-level code runs once. Otherwise, tsx's scoped import.
 */
async function importTypeScript(url: string, modulePath: string): Promise<Record<string, unknown>> {
  if (!ownImportWarns) {
    try {
      return (await import(url)) as Record<string, unknown>;
    } catch (error) {
      if (!failedBeforeRunning(error)) throw error;
    }
  }
  // Once per process, as Node's own import caches: each tsx scoped import is a new instance.
  let loaded = scopedImports.get(url);
  if (!loaded) {
    loaded = typeScriptLoader(modulePath).then((load) => load(url, import.meta.url));
    scopedImports.set(url, loaded);
    loaded.catch(() => scopedImports.delete(url));
  }
  return loaded;
}

const scopedImports = new Map<string, Promise<Record<string, unknown>>>();

/**
 * Node before 24 prints an ExperimentalWarning the first time it strips types; a program that is
 * itself TypeScript (`node client.ts`) has had it already, and shares its modules only through the
 * process's own import (tsx's copy of a workflow reads differently: stripped types leave spaces).
 */
const ownImportWarns =
  Boolean((process.features as { typescript?: unknown }).typescript) && Number(process.versions.node.split(".")[0]) < 24 && !typeScriptFile.test(process.argv[1] ?? "");

/**
 * Errors of loading or linking, raised before any of the module's code ran, where tsx may do
 * better: no TypeScript support, syntax Node does not strip (enums, decorators), or a `./x.js`
 * import of `./x.ts`.
 */
function failedBeforeRunning(error: unknown): boolean {
  if (error instanceof SyntaxError) return true;
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
  return typeof code === "string" && /^ERR_(UNKNOWN_FILE_EXTENSION|MODULE_NOT_FOUND|UNSUPPORTED_DIR_IMPORT|UNSUPPORTED_TYPESCRIPT_SYNTAX|INVALID_TYPESCRIPT_SYNTAX|UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING|REQUIRE_ESM|REQUIRE_CYCLE_MODULE)$/.test(code);
}

/**
 * tsx's scoped import, loaded once per process. Scoped rather than registered for the whole
 * process: a registered loader gives a CommonJS module (a project without `"type": "module"`)
 * no named exports, or fails on its relative imports with ERR_REQUIRE_CYCLE_MODULE.
 */
async function typeScriptLoader(modulePath: string): Promise<TsImport> {
  typeScriptImport ??= import("tsx/esm/api").then(({ tsImport }) => tsImport as TsImport);
  try {
    return await typeScriptImport;
  } catch (error) {
    typeScriptImport = undefined;
    throw new ModuleLoadError(
      modulePath,
      `${displayPath(modulePath)} is TypeScript, and the TypeScript loader (tsx) could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
      { hint: "Reinstall duragent (`npm i duragent`), which brings tsx, or compile the module to JavaScript and list the .js file.", cause: error },
    );
  }
}

/** A CommonJS module's exports arrive as `default` too; its named exports are what counts. */
function exportsOf(namespace: Record<string, unknown>): Record<string, unknown> {
  const fallback = namespace.default;
  if (Object.keys(namespace).length === 1 && typeof fallback === "object" && fallback !== null) return fallback as Record<string, unknown>;
  return namespace;
}

/** Where in the user's own file the error was thrown, read from its stack: ` (at agents.ts:3:22)`. */
function whereIn(error: unknown, modulePath: string): string {
  const stack = error instanceof Error ? (error.stack ?? "") : "";
  const url = pathToFileURL(modulePath).href;
  for (const line of stack.split("\n")) {
    const at = /\(?((?:file:\/\/)?[^\s()]+):(\d+):(\d+)\)?$/.exec(line.trim());
    if (at && (at[1] === modulePath || at[1] === url)) return ` (at ${displayPath(modulePath)}:${at[2]}:${at[3]})`;
  }
  return "";
}

/** The loader's message without what only concerns duragent's own files: the require stack, our importer. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const text = message
    .split("\nRequire stack:")[0]!
    .replace(/ imported from \S+module-loader\.[jt]s/, "")
    .trim();
  // A CommonJS-loaded module names its importer only in the require stack.
  const importer = typeof error === "object" && error !== null && "requireStack" in error && Array.isArray(error.requireStack) ? error.requireStack[0] : undefined;
  return typeof importer === "string" ? `${text} (imported by ${displayPath(importer)})` : text;
}
