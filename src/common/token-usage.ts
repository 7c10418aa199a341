/**
 * One model call's token usage, or a sum of them: its own module so that tool results (which carry
 * sampling usage) and model responses share it. Sandbox-safe: imported by workflow code.
 */
import { z } from "zod";

export const TokenUsageSchema = z.object({
  /** Every prompt token, those read from or written to the provider's prompt cache included. */
  inputTokens: z.number(),
  outputTokens: z.number(),
  /** The part of `inputTokens` read from the provider's prompt cache (billed lower); absent when none were reported. */
  cachedInputTokens: z.number().optional(),
  /**
   * Model calls whose provider reported no usage (some compatible servers and gateways do not),
   * counted as 0 tokens: where present, the tokens and their cost are a lower bound.
   */
  unreportedCalls: z.number().optional(),
});
export type TokenUsage = z.infer<typeof TokenUsageSchema>;
