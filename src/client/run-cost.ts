/**
 * A run's cost, from its token usage (already rolled up over its child runs) and the price table
 * with the config's `pricing:` over it: `client.cost()` in code, and the CLI's cost lines.
 */
import type { RunHandle } from "./engine.js";
import { costByModel, formatUsd, type PriceTable } from "../common/pricing.js";
import { usageOfResult, type UsageByModel } from "../common/usage.js";

export interface RunCost {
  currency: "USD";
  /** The whole run's cost; absent when a model in it has no price (see `unpriced`). */
  total?: number;
  /** Each priced model's cost. */
  byModel: Record<string, number>;
  /** Models with usage but no price: their tokens are not in any figure here. */
  unpriced: string[];
  /**
   * Model calls whose provider reported no usage, per model (present only when there were some):
   * they count as 0 tokens, so those models' costs are a lower bound and there is no total.
   */
  unreported?: Record<string, number>;
}

/** The cost of `usage`; undefined when there is no usage to price. */
export function runCost(usage: UsageByModel | undefined, pricing?: PriceTable): RunCost | undefined {
  if (!usage || Object.keys(usage).length === 0) return undefined;
  const { total, byModel, unpriced, unreported } = costByModel(usage, pricing);
  const priced: Record<string, number> = {};
  for (const [model, cost] of Object.entries(byModel)) if (cost !== undefined) priced[model] = cost;
  return {
    currency: "USD",
    ...(total !== undefined ? { total } : {}),
    byModel: priced,
    unpriced,
    ...(Object.keys(unreported).length > 0 ? { unreported } : {}),
  };
}

/** The least a run without a total costs: what its priced models' reported tokens come to. */
export function knownCost(cost: RunCost): number {
  return Object.values(cost.byModel).reduce((sum, usd) => sum + usd, 0);
}

/** One line for people: the total, or why there is none and what the known part comes to. */
export function costLine(cost: RunCost): string {
  if (cost.total !== undefined) return `cost ${formatUsd(cost.total)}`;
  const unreported = Object.entries(cost.unreported ?? {}).map(([model, calls]) => `${calls} call${calls === 1 ? "" : "s"} to ${model} reported no usage`);
  if (cost.unpriced.length === 0) return `cost at least ${formatUsd(knownCost(cost))} (${unreported.join("; ")})`;
  const part = Object.keys(cost.byModel).length > 0 ? `; ${formatUsd(knownCost(cost))} for the priced models` : "";
  return `cost unknown (${[`no price for ${cost.unpriced.join(", ")}`, ...unreported].join("; ")})${part}`;
}

/**
 * The cost of a run that has ended, from the usage its result reports (agents, patterns and chats
 * report theirs, child runs included), else from its status; undefined when neither says within
 * a few seconds (a Temporal run whose workers are gone cannot answer the status query).
 */
export async function finishedRunCost(handle: RunHandle, result: unknown, pricing?: PriceTable, waitMs = 5_000): Promise<RunCost | undefined> {
  const usage = usageOfResult(result) ?? (await statusUsage(handle, waitMs));
  return runCost(usage, pricing);
}

async function statusUsage(handle: RunHandle, waitMs: number): Promise<UsageByModel | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), waitMs);
    timer.unref();
  });
  try {
    return await Promise.race([handle.status().then((status) => status.usage, () => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
