/**
 * The engine's refusals, as the user errors they are: something named does not exist, a message
 * the run would not take, a module that does not load. Mapped once, at the CLI's boundary.
 */
import { InvalidRunMessage, RunNotFound } from "../engines/engine.js";
import { ModuleLoadError, RunTargetNotFound } from "../engines/run-targets.js";
import { moduleLoadFailure } from "./module-errors.js";
import { ExitCode, UserError } from "../errors/user-error.js";

export function explainEngineError(error: unknown): UserError | undefined {
  if (error instanceof RunNotFound || error instanceof RunTargetNotFound) {
    return new UserError(error.message, { exitCode: ExitCode.notFound, cause: error });
  }
  if (error instanceof InvalidRunMessage) return new UserError(error.message, { exitCode: ExitCode.usage, cause: error });
  if (error instanceof ModuleLoadError) return moduleLoadFailure(error);
  return undefined;
}
