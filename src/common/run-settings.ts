/**
 * Settings a run carries into workflow code: defaults and bounds, never secrets.
 * They are part of the workflow input, so they are fixed for the life of a run.
 */
import { z } from "zod";

const DurationMs = z.number().int().positive();

const RetrySettingsSchema = z.object({
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
  /** Model calls only: the longest the provider may send nothing before the attempt fails. */
  idleTimeoutMs: DurationMs.optional(),
  /**
   * Tool calls only: how long the call may wait for a person's answer to its server's question
   * (elicitation, a sampling approval), time that does not count towards `startToCloseTimeoutMs`.
   * Absent (runs started before it), the attempt's limit counts that time too.
   */
  answerWaitMs: DurationMs.optional(),
});
export type ActivitySettings = z.infer<typeof ActivitySettingsSchema>;

export const RunSettingsSchema = z.object({
  /** The model used when an agent names none. */
  defaultModel: z.string(),
  /** The cap on model turns in one `generate` call. */
  maxIterations: z.number().int().positive(),
  /**
   * The most tokens (input and output, of every model) the run may use, its child runs' counted
   * as they end: past it, the run fails before its next model call. A child run starts with what
   * is left. None when absent.
   */
  tokenBudget: z.number().int().min(0).optional(),
  /**
   * The most the run's model calls may cost, in USD, counted as `tokenBudget` is, by `prices`.
   * None when absent.
   */
  costBudget: z.number().min(0).optional(),
  /** The price table `costBudget` counts by (`runPrices`), carried only with it: fixed for the run, as its decisions must be. */
  prices: z.record(z.string(), z.object({ input: z.number(), output: z.number(), cachedInput: z.number().optional() })).optional(),
  /**
   * Values the run's function tools read and no model sees (`StartOptions.toolContext`): sent
   * with each of its tool calls, and its child runs', to the servers that take it. It is in the
   * run's history, as its input is: no secrets.
   */
  toolContext: z.record(z.string(), z.unknown()).optional(),
  llm: ActivitySettingsSchema,
  tools: ActivitySettingsSchema,
  /**
   * MCP servers whose calls have a policy of their own (`mcp.servers.<name>.execution`, over
   * `tools`), by server name; the rest use `tools`.
   */
  servers: z.record(z.string(), ActivitySettingsSchema).optional(),
  /**
   * Where a tool call goes once its step has failed for good (every attempt, or a server that
   * broke the protocol): to the model as a tool error, so the run goes on (`tell-model`, the
   * default), or to the run, which fails (`fail-run`). Failures a person must fix end the run either way.
   */
  failedToolCall: z.enum(["tell-model", "fail-run"]).optional(),
  /** Namespaced tool names (globs such as `filesystem_write_*`) that wait for a person's approval. */
  approvalTools: z.array(z.string()),
  /** Calls of tools that may change or destroy things (`mayDestroy`) wait for a person's approval too. */
  approveDestructive: z.boolean().optional(),
  /** Keep the `DuragentPhase` search attribute current; needs it registered (workers do so). */
  searchAttributes: z.boolean(),
  // The history limits below are optional because settings travel in workflow inputs: runs
  // started before they existed lack them and take the defaults (`historyLimitDefaults`).
  /**
   * Tool results larger than this (UTF-8 bytes of their content) are cut on the worker, with a
   * note to the model, before they enter history.
   */
  maxToolResultBytes: z.number().int().positive().optional(),
  /**
   * Once a model call passes this size (UTF-8 bytes of its messages', instruction's and tool
   * specs' JSON), its activity input refers to the run's transcript and setup instead of repeating
   * them, so each message is stored in history once. A very large value turns references off.
   */
  transcriptReferenceBytes: z.number().int().positive().optional(),
  /** A chat continues as a new run (a fresh history) after this many turns. */
  chatTurnsPerRun: z.number().int().positive().optional(),
  /** An agent run continues as a new run after this many model turns, besides when Temporal suggests it. */
  agentTurnsPerRun: z.number().int().positive().optional(),
  /**
   * An agent's first model call lists its servers' tools on the worker (`LlmRequest.toolServers`),
   * with no step of its own before it. Clients set it on the runs they start; a run started
   * without it lists them first, as runs always did, so that its history replays.
   */
  listToolsInModelCall: z.boolean().optional(),
  /**
   * Steps go through as few promises as they can: in Temporal's sandbox each costs the worker
   * tens of µs. Clients set it on the runs they start; a run started without it takes the turns
   * runs always took, which order the commands of concurrent steps, so that its history replays.
   */
  fewerTurns: z.boolean().optional(),
  /**
   * A swarm's turns add only their new messages to the run's transcript. Clients set it on the runs
   * they start; a run started without it adds the whole conversation on every turn, as runs always
   * did, so that the transcript positions its model calls refer to stay where they were.
   */
  transcriptOnce: z.boolean().optional(),
});
export type RunSettings = z.infer<typeof RunSettingsSchema>;

/** The history limits a run uses when its settings predate them. */
export const historyLimitDefaults = {
  /** 64 KiB: far below Temporal's 2 MB payload limit, yet a long read for a model. */
  maxToolResultBytes: 64 * 1024,
  /**
   * 8 KiB: a short exchange keeps its messages in the activity input, readable in the Web UI;
   * past that, each message is still readable once, where it entered history.
   */
  transcriptReferenceBytes: 8 * 1024,
  chatTurnsPerRun: 100,
} as const;

/** Every policy is bounded, so a retry loop that can never succeed still ends. */
export const defaultRunSettings: RunSettings = {
  defaultModel: "openai:gpt-4.1-mini",
  maxIterations: 10,
  llm: {
    retry: { maximumAttempts: 5, initialIntervalMs: 1000, backoffCoefficient: 2, maximumIntervalMs: 30_000 },
    // A model call that hangs fails its attempt after a minute of silence, while one that keeps
    // streaming (a long answer) runs on, up to ten minutes (the SDKs' own request timeout).
    startToCloseTimeoutMs: 600_000,
    idleTimeoutMs: 60_000,
    // Activities heartbeat every second, so a dead worker's step is retried elsewhere within seconds.
    heartbeatTimeoutMs: 3_000,
  },
  tools: {
    retry: { maximumAttempts: 3, initialIntervalMs: 500, backoffCoefficient: 2, maximumIntervalMs: 10_000 },
    startToCloseTimeoutMs: 60_000,
    heartbeatTimeoutMs: 3_000,
    // A person may take a day to answer a server's question; meanwhile the call holds a worker slot.
    answerWaitMs: 86_400_000,
  },
  approvalTools: [],
  searchAttributes: true,
  ...historyLimitDefaults,
  listToolsInModelCall: true,
  fewerTurns: true,
  transcriptOnce: true,
};
