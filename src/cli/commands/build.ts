/** `duragent build`: prebuild the workflow bundle, so a deployed worker serves at once (`worker --bundle`). */
import { existsSync, statSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { displayPath, ExitCode, UserError } from "../../errors/user-error.js";
import type { CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import type { DuragentConfig } from "../../config/schema.js";
import type { Logger } from "../../logger.js";
import { toolModuleOf } from "../../tools/tool-server-command.js";

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
  const toolModules = await checkToolModules(config, await context.logger());
  return {
    data: { file, bytes, modules: config.modules, toolModules, ms: Date.now() - started },
    text: `wrote ${displayPath(file)} (${(bytes / 1024 / 1024).toFixed(1)} MB); serve it with \`duragent worker --bundle ${displayPath(file)}\``,
  };
}

function outError(out: string, why: string, cause?: unknown): UserError {
  return new UserError(`--out ${out}: cannot write the bundle there: ${why}.`, { exitCode: ExitCode.usage, cause });
}

/**
 * Serves each module of function tools once and lists its tools, as a worker would at a run's
 * first model call: a module that does not load, or exports no tool, is found here, in CI, not
 * by a run. Its top-level code runs, as it does on a worker.
 */
async function checkToolModules(config: DuragentConfig, logger: Logger): Promise<Record<string, string[]>> {
  const servers = Object.entries(config.mcp.servers).filter(([, server]) => toolModuleOf(server as { args?: string[] }) !== undefined);
  if (servers.length === 0) return {};
  const { McpConnectionPool } = await import("../../activities/mcp/connection-pool.js");
  const pool = new McpConnectionPool(Object.fromEntries(servers), { logger: logger.child({ component: "mcp" }) });
  try {
    const listed = await Promise.allSettled(servers.map(([name]) => pool.listTools(name)));
    const problems = listed.flatMap((outcome) => (outcome.status === "rejected" ? [`  ${(outcome.reason as Error).message}`] : []));
    if (problems.length > 0) {
      throw new UserError(`The workflow bundle was written, but ${problems.length === 1 ? "a module of function tools does" : "modules of function tools do"} not serve:\n${problems.join("\n")}`, {
        name: "McpServerUnstartable",
        hint: "A worker would fail the first model call of every agent that uses it.",
      });
    }
    return Object.fromEntries(servers.map(([name], index) => [name, (listed[index] as PromiseFulfilledResult<{ name: string }[]>).value.map((tool) => tool.name)]));
  } finally {
    await pool.closeAll();
  }
}
