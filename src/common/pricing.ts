/**
 * What tokens cost: a price table per model, in US dollars per million tokens, and the cost of a
 * run's usage (`UsageByModel`) by it. Defaults are the providers' published list prices (standard
 * tier, no batch or priority discounts, no long-context premium); `pricing:` in the config adds
 * models or overrides these.
 *
 * A model is found by its name (the part after `provider:`): exactly, or a table name followed by
 * a date or `latest` (`claude-sonnet-4-20250514`, `gpt-4.1-mini-2025-04-14`,
 * `claude-3-7-sonnet-latest`), the longest such name winning. Any other suffix is a different model
 * (`gpt-4o-realtime-preview` is not `gpt-4o`), which has no price rather than a wrong one.
 *
 * Sandbox-safe: imported by workflow code.
 */
import { parseModelRef, type TokenUsage } from "./llm.js";
import type { UsageByModel } from "./usage.js";

/** USD per million tokens. `cachedInput` prices input tokens read from the provider's prompt cache; `input` when absent. */
export interface ModelPrice {
  input: number;
  output: number;
  cachedInput?: number;
}

/** Prices by model name (`gpt-4.1-mini`), or by `provider:model` for one provider's model alone. */
export type PriceTable = Record<string, ModelPrice>;

/** List prices as published by OpenAI and Anthropic (USD per million tokens, standard tier). */
export const defaultPrices: Readonly<PriceTable> = Object.freeze({
  // OpenAI
  "gpt-5.1": { input: 1.25, cachedInput: 0.125, output: 10 },
  "gpt-5.1-chat-latest": { input: 1.25, cachedInput: 0.125, output: 10 },
  "gpt-5.1-codex": { input: 1.25, cachedInput: 0.125, output: 10 },
  "gpt-5.1-codex-mini": { input: 0.25, cachedInput: 0.025, output: 2 },
  "gpt-5": { input: 1.25, cachedInput: 0.125, output: 10 },
  "gpt-5-chat-latest": { input: 1.25, cachedInput: 0.125, output: 10 },
  "gpt-5-codex": { input: 1.25, cachedInput: 0.125, output: 10 },
  "gpt-5-mini": { input: 0.25, cachedInput: 0.025, output: 2 },
  "gpt-5-nano": { input: 0.05, cachedInput: 0.005, output: 0.4 },
  "gpt-5-pro": { input: 15, output: 120 },
  "gpt-4.1": { input: 2, cachedInput: 0.5, output: 8 },
  "gpt-4.1-mini": { input: 0.4, cachedInput: 0.1, output: 1.6 },
  "gpt-4.1-nano": { input: 0.1, cachedInput: 0.025, output: 0.4 },
  "gpt-4o": { input: 2.5, cachedInput: 1.25, output: 10 },
  // The first gpt-4o snapshot kept its launch price.
  "gpt-4o-2024-05-13": { input: 5, output: 15 },
  "gpt-4o-mini": { input: 0.15, cachedInput: 0.075, output: 0.6 },
  "gpt-4-turbo": { input: 10, output: 30 },
  o1: { input: 15, cachedInput: 7.5, output: 60 },
  "o1-mini": { input: 1.1, cachedInput: 0.55, output: 4.4 },
  "o1-pro": { input: 150, output: 600 },
  o3: { input: 2, cachedInput: 0.5, output: 8 },
  "o3-mini": { input: 1.1, cachedInput: 0.55, output: 4.4 },
  "o3-pro": { input: 20, output: 80 },
  "o4-mini": { input: 1.1, cachedInput: 0.275, output: 4.4 },
  // Anthropic: cache reads at a tenth of the input price.
  "claude-opus-4-5": { input: 5, cachedInput: 0.5, output: 25 },
  "claude-opus-4-1": { input: 15, cachedInput: 1.5, output: 75 },
  "claude-opus-4-0": { input: 15, cachedInput: 1.5, output: 75 },
  "claude-opus-4": { input: 15, cachedInput: 1.5, output: 75 },
  "claude-sonnet-4-5": { input: 3, cachedInput: 0.3, output: 15 },
  "claude-sonnet-4-0": { input: 3, cachedInput: 0.3, output: 15 },
  "claude-sonnet-4": { input: 3, cachedInput: 0.3, output: 15 },
  "claude-haiku-4-5": { input: 1, cachedInput: 0.1, output: 5 },
  "claude-3-7-sonnet": { input: 3, cachedInput: 0.3, output: 15 },
  "claude-3-5-sonnet": { input: 3, cachedInput: 0.3, output: 15 },
  "claude-3-5-haiku": { input: 0.8, cachedInput: 0.08, output: 4 },
  "claude-3-opus": { input: 15, cachedInput: 1.5, output: 75 },
  "claude-3-haiku": { input: 0.25, cachedInput: 0.03, output: 1.25 },
});

/** What may follow a table name and still be the same model: a snapshot date or `latest` (Vertex writes `@` before it). */
const snapshotSuffix = /^[-@](\d{4}-\d{2}-\d{2}|\d{8}|latest)$/;

/** The longest key of `table` that is `name` itself or `name` minus a snapshot suffix. */
function lookup(table: PriceTable, name: string): ModelPrice | undefined {
  const wanted = name.toLowerCase();
  let best: { length: number; price: ModelPrice } | undefined;
  for (const [key, price] of Object.entries(table)) {
    const candidate = key.toLowerCase();
    if (!wanted.startsWith(candidate)) continue;
    if (wanted.length !== candidate.length && !snapshotSuffix.test(wanted.slice(candidate.length))) continue;
    if (!best || candidate.length > best.length) best = { length: candidate.length, price };
  }
  return best?.price;
}

/**
 * The price of `model` (`provider:model` or a bare model name). An override keyed by the full
 * `provider:model` wins, then an override keyed by the model name, then `base` (the defaults, or
 * nothing when a run's own table is given as the overrides). Undefined for a model nobody priced.
 * duragent's scripted model (provider `scripted`) costs nothing.
 */
export function priceOf(model: string, overrides?: PriceTable, base: Readonly<PriceTable> = defaultPrices): ModelPrice | undefined {
  const hasProvider = model.indexOf(":") > 0;
  const { provider, model: name } = parseModelRef(model);
  // Never priced as the real model it stood in for, whatever the overrides name.
  if (provider === "scripted") return { input: 0, output: 0 };
  if (overrides) {
    const exact = hasProvider ? lookup(overrides, model) : undefined;
    if (exact) return exact;
    const byName = lookup(overrides, name);
    if (byName) return byName;
  }
  return lookup(base, name);
}

/**
 * The cost in USD of `usage` on `model`, or undefined when the model has no price. Cached input
 * tokens (a part of `inputTokens`) are charged at `cachedInput`, or at `input` when the model has
 * no cached price; the rest of the input at `input`.
 */
export function costOf(model: string, usage: TokenUsage, overrides?: PriceTable, base?: Readonly<PriceTable>): number | undefined {
  const price = priceOf(model, overrides, base);
  if (!price) return undefined;
  const cached = Math.min(Math.max(usage.cachedInputTokens ?? 0, 0), usage.inputTokens);
  const micros =
    (usage.inputTokens - cached) * price.input + cached * (price.cachedInput ?? price.input) + usage.outputTokens * price.output;
  return roundUsd(micros / 1_000_000);
}

/** Rounds away floating-point noise (0.30000000000000004), to a billionth of a dollar. */
function roundUsd(usd: number): number {
  return Math.round(usd * 1e9) / 1e9;
}

/**
 * The cost of a run's usage, per model and in total. `total` is left out when any model has no
 * price (those are listed in `unpriced`) or some of its calls reported no usage (their counts in
 * `unreported`, their models' costs a lower bound), since a sum would then be too low.
 */
export function costByModel(
  usage: UsageByModel,
  overrides?: PriceTable,
  base?: Readonly<PriceTable>,
): { total?: number; byModel: Record<string, number | undefined>; unpriced: string[]; unreported: Record<string, number> } {
  const byModel: Record<string, number | undefined> = {};
  const unpriced: string[] = [];
  const unreported: Record<string, number> = {};
  let sum = 0;
  for (const [model, tokens] of Object.entries(usage)) {
    const cost = costOf(model, tokens, overrides, base);
    byModel[model] = cost;
    if (cost === undefined) unpriced.push(model);
    else sum += cost;
    if (tokens.unreportedCalls) unreported[model] = tokens.unreportedCalls;
  }
  const complete = unpriced.length === 0 && Object.keys(unreported).length === 0;
  return complete ? { total: roundUsd(sum), byModel, unpriced, unreported } : { byModel, unpriced, unreported };
}

/**
 * The whole table a run with a cost budget carries (`RunSettings.prices`): the defaults with
 * `overrides` over them, fixed at its start, so that a later version's prices never change what
 * its workflow code decided on replay. Priced with `priceOf(model, prices, {})`.
 */
export function runPrices(overrides: PriceTable = {}): PriceTable {
  const table: PriceTable = {};
  const overridden = new Set(Object.keys(overrides).map((name) => name.toLowerCase()));
  for (const [name, price] of Object.entries(defaultPrices)) if (!overridden.has(name.toLowerCase())) table[name] = price;
  return { ...table, ...overrides };
}

/** A dollar amount for people: cents for large sums, more digits for the small ones single runs cost. */
export function formatUsd(usd: number): string {
  if (usd === 0) return "$0.00";
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  if (usd >= 0.01) return `$${usd.toFixed(4)}`;
  if (usd >= 0.000001) return `$${usd.toFixed(6)}`;
  return "<$0.000001";
}
