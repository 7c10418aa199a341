/**
 * Token usage summed per model, as runs report it and roll it up their tree of child runs.
 * Sandbox-safe: imported by workflow code.
 */
import { z } from "zod";
import { parseModelRef, TokenUsageSchema, type TokenUsage } from "./llm.js";

/** Token usage per model (`provider:model`). */
export type UsageByModel = Record<string, TokenUsage>;

export const UsageByModelSchema = z.record(z.string(), TokenUsageSchema);

/** The usage a run's result reports (`{ usage }` of agents, patterns and chats); undefined for results without it. */
export function usageOfResult(result: unknown): UsageByModel | undefined {
  if (typeof result !== "object" || result === null || !("usage" in result)) return undefined;
  const parsed = UsageByModelSchema.safeParse(result.usage);
  return parsed.success ? parsed.data : undefined;
}

export function addUsage(total: UsageByModel, model: string, usage: TokenUsage): void {
  const current = total[model] ?? { inputTokens: 0, outputTokens: 0 };
  // Cached tokens appear only once some call reported them, so usage without caching keeps its shape.
  const cached =
    current.cachedInputTokens === undefined && usage.cachedInputTokens === undefined
      ? undefined
      : (current.cachedInputTokens ?? 0) + (usage.cachedInputTokens ?? 0);
  const unreported = (current.unreportedCalls ?? 0) + (usage.unreportedCalls ?? 0);
  total[model] = {
    inputTokens: current.inputTokens + usage.inputTokens,
    outputTokens: current.outputTokens + usage.outputTokens,
    ...(cached !== undefined ? { cachedInputTokens: cached } : {}),
    ...(unreported > 0 ? { unreportedCalls: unreported } : {}),
  };
}

/**
 * The key a model call's usage is counted under: the model asked for, with its provider
 * (`openai:gpt-4.1-mini`, also for a bare `gpt-4.1-mini`, which is OpenAI's), or
 * `scripted:<model>` when duragent's scripted model stood in for it (`llm.withoutApiKey:
 * scripted`), so its tokens are never priced as the real model's.
 */
export function usageKey(requestedModel: string, respondingModel: string): string {
  const { provider, model } = parseModelRef(requestedModel);
  return respondingModel.startsWith("scripted:") ? `scripted:${model}` : `${provider}:${model}`;
}
