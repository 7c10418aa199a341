/**
 * A module listed under `modules:` that cannot be imported is the user's to fix (a wrong path, a
 * syntax error, a missing import), so it reads as a user error naming the module, not as a bug.
 */
import { existsSync } from "node:fs";
import { ModuleLoadError } from "../engines/run-targets.js";
import { displayPath, ExitCode, UserError } from "./user-error.js";

export function moduleLoadFailure(modules: readonly string[], failure: unknown): UserError {
  // The loader names the failing module; older callers pass the bare import error.
  const error = failure instanceof ModuleLoadError ? failure.cause : failure;
  if (failure instanceof ModuleLoadError) modules = [failure.modulePath];
  const missing = modules.find((module) => !existsSync(module));
  if (missing !== undefined) {
    return new UserError(`The module ${displayPath(missing)} listed under \`modules:\` does not exist.`, {
      exitCode: ExitCode.notFound,
      hint: "Paths under `modules:` are relative to the config file; fix the path or remove the entry.",
      cause: error,
    });
  }
  const which = modules.length === 1 ? `${displayPath(modules[0]!)} (listed under \`modules:\`)` : "the modules listed under `modules:`";
  return new UserError(`Cannot load ${which}: ${reason(error)}`, {
    hint: "Fix the module, or check it alone with `npx tsx <module>`.",
    cause: error,
  });
}

/** The loader's message without what only concerns duragent's own files: the require stack, our importer. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const text = message
    .split("\nRequire stack:")[0]!
    .replace(/ imported from \S+run-targets\.ts/, "")
    .trim();
  // A CommonJS-loaded module names its importer only in the require stack.
  const importer = typeof error === "object" && error !== null && "requireStack" in error && Array.isArray(error.requireStack) ? error.requireStack[0] : undefined;
  return typeof importer === "string" ? `${text} (imported by ${displayPath(importer)})` : text;
}
