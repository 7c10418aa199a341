/** `duragent list`: recent runs, with what each cost where its usage is known. */
import { formatUsd } from "../../common/pricing.js";
import { alignedLines, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import type { ListPhase } from "../../common/run-phases.js";
import { knownCost, runCost, type RunCost } from "../../client/run-cost.js";
import type { EngineName, RunSummary } from "../../client/engine.js";
import { isUserError } from "../../errors/user-error.js";
import { answerHint, describePending } from "../status-text.js";

export async function listCommand(context: CommandContext, options: { limit: number; phase?: ListPhase; target?: string }): Promise<CommandOutput> {
  const [client, config] = await Promise.all([context.client(), context.config()]);
  // One run more than shown, without its usage (a status read or a result on Temporal), to say
  // whether the limit left some out.
  const listOn = (engine: EngineName) => Promise.all([client.list({ ...options, engine, usage: true }), client.list({ ...options, engine, limit: options.limit + 1 })]);
  let [found, beyond] = await listOn(client.engine);
  let unasked: string | undefined;
  // A memory run lives only in the process that runs it: a command's own process has none, so it
  // lists Temporal's, as `status` and `answer` look there next.
  if (client.engine === "memory" && found.length === 0) {
    try {
      [found, beyond] = await listOn("temporal");
    } catch (error) {
      if (!(isUserError(error) && error.name === "TemporalUnreachable")) throw error;
      // Nothing to list, and why: for a project that runs in memory, not an error.
      unasked = `memory runs live only in the process that runs them, and Temporal could not be asked (${error.message.split("\n")[0]!.replace(/^duragent: /, "")})`;
    }
  }
  const runs = found.map((run) => {
    const cost = runCost(run.usage, config.pricing);
    return { ...run, ...(cost ? { cost } : {}) };
  });
  // What the run was started as (`list --target` finds it by that), else its workflow type (a child run).
  // A header row names the columns for a person; --json is for scripts.
  const header = ["RUN", "PHASE", "TARGET", "STARTED", "COST"];
  const rows = [header, ...runs.map((run) => [run.runId, run.phase, run.target ?? run.type, run.startedAt ?? "", run.usageUnreadable ? `cost unknown: ${run.usageUnreadable}` : costColumn(run.cost)])];
  const lines = alignedLines(rows);
  // Under a waiting run, what it waits for and the command that gives it, as `status` says them.
  const waits = (run: RunSummary) =>
    (run.stuck ? `\n  stuck: ${run.stuck} — \`duragent status ${run.runId}\` says why` : "") +
    (run.pending ?? []).map((request, _, all) => `\n  ${describePending(request)} — ${answerHint(run.runId, request, all.length > 1)}`).join("");
  const text = runs.length === 0 ? (unasked ? `no runs: ${unasked}` : "no runs") : [lines[0]!, ...runs.map((run, index) => lines[index + 1]! + waits(run))].join("\n");
  const note = beyond.length > options.limit ? `${options.limit} ${options.limit === 1 ? "run" : "runs"} shown, and there are more: --limit N shows N${options.phase || options.target ? "" : ", --phase and --target narrow them"}.` : undefined;
  return { data: runs, text, note };
}

/** The run's total; `cost ?` when a model in it has no price, `at least` when calls reported no usage; nothing when its usage is not known. */
function costColumn(cost: RunCost | undefined): string {
  if (!cost) return "";
  if (cost.total !== undefined) return formatUsd(cost.total);
  return cost.unpriced.length > 0 ? `cost ? (no price for ${cost.unpriced.join(", ")})` : `at least ${formatUsd(knownCost(cost))} (usage unreported)`;
}
