/** `duragent build`: prebuild the workflow bundle, so a deployed worker serves at once (`worker --bundle`). */
import { existsSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { displayPath, ExitCode, UserError } from "../../errors/user-error.js";
import type { CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";

export async function buildCommand(context: CommandContext, options: { out: string }): Promise<CommandOutput> {
  const config = await context.config();
  // Found before seconds of bundling, not after.
  const target = resolve(options.out);
  if (!existsSync(dirname(target))) throw outError(options.out, "its folder does not exist");
  if (existsSync(target) && statSync(target).isDirectory()) throw outError(options.out, "it is a folder; name a file in it");
  const [{ buildWorkflowBundle, stampedBundle }, { bundleInputs }] = await Promise.all([import("../../worker/workflow-bundle.js"), import("../../worker/create-worker.js")]);
  const started = Date.now();
  // What the worker would bundle itself, tracing interceptors included when tracing is on.
  const inputs = bundleInputs(config);
  const built = await buildWorkflowBundle(inputs);
  const code = stampedBundle(built.code, inputs, built.dependencies.files);
  const file = target;
  try {
    writeFileSync(file, code);
  } catch (error) {
    throw outError(options.out, (error as Error).message, error);
  }
  const bytes = Buffer.byteLength(code);
  return {
    data: { file, bytes, modules: config.modules, ms: Date.now() - started },
    text: `wrote ${displayPath(file)} (${(bytes / 1024 / 1024).toFixed(1)} MB); serve it with \`duragent worker --bundle ${displayPath(file)}\``,
  };
}

function outError(out: string, why: string, cause?: unknown): UserError {
  return new UserError(`--out ${out}: cannot write the bundle there: ${why}.`, { exitCode: ExitCode.usage, cause });
}
