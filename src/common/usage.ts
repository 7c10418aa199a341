/**
 * Token usage summed per model, as runs report it and roll it up their tree of child runs.
 * Sandbox-safe: imported by workflow code.
 */
import type { TokenUsage } from "./llm.js";

/** Token usage per model (`provider:model`). */
export type UsageByModel = Record<string, TokenUsage>;

export function addUsage(total: UsageByModel, model: string, usage: TokenUsage): void {
  const current = total[model] ?? { inputTokens: 0, outputTokens: 0 };
  total[model] = {
    inputTokens: current.inputTokens + usage.inputTokens,
    outputTokens: current.outputTokens + usage.outputTokens,
  };
}
