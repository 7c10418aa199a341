/** `duragent build`: prebuild the workflow bundle, so a deployed worker serves at once (`worker --bundle`). */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { displayPath } from "../../errors/user-error.js";
import type { CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";

export async function buildCommand(context: CommandContext, options: { out: string }): Promise<CommandOutput> {
  const config = await context.config();
  const [{ buildWorkflowBundle, stampedBundle }, { bundleInputs }] = await Promise.all([import("../../worker/workflow-bundle.js"), import("../../worker/create-worker.js")]);
  const started = Date.now();
  // What the worker would bundle itself, tracing interceptors included when tracing is on.
  const inputs = bundleInputs(config);
  const built = await buildWorkflowBundle(inputs);
  const code = stampedBundle(built.code, inputs, built.dependencies.files);
  const file = resolve(options.out);
  writeFileSync(file, code);
  const bytes = Buffer.byteLength(code);
  return {
    data: { file, bytes, modules: config.modules, ms: Date.now() - started },
    text: `wrote ${displayPath(file)} (${(bytes / 1024 / 1024).toFixed(1)} MB); serve it with \`duragent worker --bundle ${displayPath(file)}\``,
  };
}
