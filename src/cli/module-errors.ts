/**
 * A module listed under `modules:` that cannot be imported is the user's to fix (a wrong path, a
 * syntax error, a missing import), so it reads as a user error naming the module, not as a bug.
 */
import { existsSync } from "node:fs";
import type { ModuleLoadError } from "../engines/run-targets.js";
import { displayPath, ExitCode, UserError } from "../errors/user-error.js";

export function moduleLoadFailure(failure: ModuleLoadError): UserError {
  const module = displayPath(failure.modulePath);
  if (!existsSync(failure.modulePath)) {
    return new UserError(`The module ${module} listed under \`modules:\` does not exist.`, {
      exitCode: ExitCode.notFound,
      hint: "Paths under `modules:` are relative to the config file; fix the path or remove the entry.",
      cause: failure,
    });
  }
  return new UserError(`Cannot load ${module} (listed under \`modules:\`): ${reason(failure.cause)}`, {
    hint: "Fix the module, or check it alone with `npx tsx <module>`.",
    cause: failure,
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
