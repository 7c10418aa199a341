/** `duragent list`: recent runs, newest first, with what each cost where its usage is known. */
import { formatUsd } from "../../common/pricing.js";
import type { CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import type { RunPhase } from "../../common/run-status.js";
import { runCost, type RunCost } from "../../client/run-cost.js";

export async function listCommand(context: CommandContext, options: { limit: number; phase?: RunPhase; target?: string }): Promise<CommandOutput> {
  const [client, config] = await Promise.all([context.client(), context.config()]);
  const runs = (await client.list({ ...options, usage: true })).map((run) => {
    const cost = runCost(run.usage, config.pricing);
    return { ...run, ...(cost ? { cost } : {}) };
  });
  const text =
    runs.length === 0
      ? "no runs"
      : runs.map((run) => [run.runId, run.phase, run.type, run.startedAt ?? "", run.usageUnreadable ? `cost unknown: ${run.usageUnreadable}` : costColumn(run.cost)].join("  ").trimEnd()).join("\n");
  return { data: runs, text };
}

/** The run's total; `cost ?` when a model in it has no price; nothing when its usage is not known. */
function costColumn(cost: RunCost | undefined): string {
  if (!cost) return "";
  return cost.total !== undefined ? formatUsd(cost.total) : `cost ? (no price for ${cost.unpriced.join(", ")})`;
}
