/** `duragent run <target>` and `duragent start <target>`: start a run and, for `run`, follow it to its answer. */
import { InvalidRunInput, type StartOptions } from "../../client/engine.js";
import { UserError } from "../../errors/user-error.js";
import { formatIssues } from "../../errors/zod-issues.js";
import { readInput, resultNote, resultText, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import { followRun } from "../follow-run.js";
import { readInputSource, readToolContext, toolContextError } from "../input-source.js";
import { finishedRunCost } from "../../client/run-cost.js";

export interface RunOptions {
  input: string;
  wait: boolean;
  /** Print the run's events as JSON lines (`--events`) rather than its answer. */
  events?: boolean;
  /** Show only these agents' streamed text (`--agent`). */
  agents?: string[];
  /** The run's own budgets (`--token-budget`, `--cost-budget`), over the config's. */
  budgets?: Pick<StartOptions, "tokenBudget" | "costBudget">;
  /** The run's tool context as given (`--tool-context <json|@file|->`). */
  toolContext?: string;
}

export async function runCommand(context: CommandContext, targetName: string, options: RunOptions): Promise<CommandOutput | void> {
  const client = await context.client();
  if (!options.wait && client.engine === "memory") {
    throw new UserError("`start` and `run --no-wait` need the temporal engine: a memory run lives only as long as the command that runs it.", {
      hint: "Add --engine temporal, or follow the run with `duragent run` (without --no-wait).",
    });
  }
  const target = await client.target(targetName);
  await context.noticeScriptedModel();
  const { value: input, notJson } = readInput(await readInputSource(options.input, "--input"));
  if (notJson !== undefined) (await context.logger()).warn(`--input begins as JSON but is not JSON (${notJson}); it is sent as text`);
  const toolContext = options.toolContext === undefined ? undefined : await readToolContext(options.toolContext);
  const handle = await client.start(target, input, { ...options.budgets, ...(toolContext ? { toolContext } : {}) }).catch((error: unknown) => {
    if (error instanceof InvalidRunInput && error.issues.length > 0) throw new UserError(formatIssues("--input", error.issues));
    throw toolContextError(error);
    throw error;
  });
  if (handle.link) context.notice(options.wait ? `run ${handle.runId}\nWeb UI: ${handle.link}` : `Web UI: ${handle.link}`);
  const warning = await client.startWarning();
  if (warning) (await context.logger()).warn(warning);
  if (!options.wait) return { data: { runId: handle.runId, link: handle.link }, text: handle.runId };
  context.interruptNotice =
    client.engine === "temporal"
      ? `duragent: the run goes on without this command; follow it with \`duragent watch ${handle.runId}\`, or stop it with \`duragent cancel ${handle.runId}\`.`
      : `duragent: interrupted; run ${handle.runId} ends with this command, as a memory run does (a run on Temporal, \`--engine temporal\`, goes on without it).`;
  // A memory run can only be answered from here; a Temporal run also from another terminal.
  const interactive = client.engine === "memory" || process.stdin.isTTY === true;
  if (options.events) {
    await followRun(handle, { interactive: false, verbose: false, events: true, ...(options.agents ? { agents: options.agents } : {}) });
    return;
  }
  const result = await followRun(handle, { interactive, answeredOnlyHere: client.engine === "memory", verbose: !context.options.json, ...(options.agents ? { agents: options.agents } : {}) });
  // Only --json shows the cost: the text is the answer alone.
  const cost = context.options.json ? await finishedRunCost(handle, result, (await context.config()).pricing) : undefined;
  return { data: { runId: handle.runId, link: handle.link, result, ...(cost ? { cost } : {}) }, text: resultText(result), note: resultNote(result) };
}

