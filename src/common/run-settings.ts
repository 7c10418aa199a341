/**
 * Settings a run carries into workflow code: defaults and bounds, never secrets.
 * They are part of the workflow input, so they are fixed for the life of a run.
 */
import { z } from "zod";

const DurationMs = z.number().int().positive();

export const RetrySettingsSchema = z.object({
  maximumAttempts: z.number().int().min(1).max(100),
  initialIntervalMs: DurationMs,
  backoffCoefficient: z.number().min(1),
  maximumIntervalMs: DurationMs,
});
export type RetrySettings = z.infer<typeof RetrySettingsSchema>;

export const ActivitySettingsSchema = z.object({
  retry: RetrySettingsSchema,
  startToCloseTimeoutMs: DurationMs,
  heartbeatTimeoutMs: DurationMs.optional(),
});
export type ActivitySettings = z.infer<typeof ActivitySettingsSchema>;

export const RunSettingsSchema = z.object({
  /** The model used when an agent names none. */
  defaultModel: z.string(),
  /** The cap on model turns in one `generate` call. */
  maxIterations: z.number().int().positive(),
  llm: ActivitySettingsSchema,
  tools: ActivitySettingsSchema,
  /** Namespaced tool names (globs such as `filesystem_write_*`) that wait for a person's approval. */
  approvalTools: z.array(z.string()),
  /** Keep the `DuragentPhase` search attribute current; needs it registered (workers do so). */
  searchAttributes: z.boolean(),
});
export type RunSettings = z.infer<typeof RunSettingsSchema>;

/** Every policy is bounded, so a retry loop that can never succeed still ends. */
export const defaultRunSettings: RunSettings = {
  defaultModel: "openai:gpt-4.1-mini",
  maxIterations: 10,
  llm: {
    retry: { maximumAttempts: 5, initialIntervalMs: 1000, backoffCoefficient: 2, maximumIntervalMs: 30_000 },
    startToCloseTimeoutMs: 120_000,
    heartbeatTimeoutMs: 30_000,
  },
  tools: {
    retry: { maximumAttempts: 3, initialIntervalMs: 500, backoffCoefficient: 2, maximumIntervalMs: 10_000 },
    startToCloseTimeoutMs: 60_000,
    heartbeatTimeoutMs: 30_000,
  },
  approvalTools: [],
  searchAttributes: false,
};
