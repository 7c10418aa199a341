/**
 * `duragent`: start and steer runs (the client), serve them (the worker), and load the config.
 * Agent and workflow code imports `duragent/workflow` instead, the sandbox-safe entry; tests of
 * your own agents can use `duragent/testing`.
 */
export {
  ChatTurnFailed,
  createClient,
  DuragentClient,
  InvalidRunInput,
  InvalidRunMessage,
  ModuleLoadError,
  RunAlreadyEnded,
  RunFailed,
  RunNotFound,
  RunTargetNotFound,
  ScheduleAlreadyExists,
  ScheduleNotFound,
  type ChatSession,
  type ClientOptions,
  type EngineName,
  type AgentRunResult,
  type RunHandle,
  type RunEvent,
  type RunSummary,
  type RunTarget,
  type Overlap,
  type ScheduleDescription,
  type ScheduledRun,
  type ScheduleHandle,
  type ScheduleOptions,
  type ScheduleSummary,
  type Startable,
  type StartChatOptions,
  type StartOptions,
  type TranscriptOptions,
} from "./client.js";
export { createWorker, runWorker, type DuragentWorker, type WorkerBundle, type WorkerOptions } from "./worker.js";
export { configFrom, loadConfig, parseConfig, type ConfigSource, type LoadConfigOptions, type LoadedConfig } from "./config/load-config.js";
export { ConfigSchema, type DuragentConfig } from "./config/schema.js";
export { ConfigError, ExitCode, isUserError, UserError, userErrorNames, type UserErrorName } from "./errors/user-error.js";
export { FailureType } from "./common/failures.js";
export { WorkflowBundleError } from "./worker/workflow-bundle.js";
export type { ApprovalDecision, ApprovalRequest, Answer, PendingRequest, QuestionRequest, RunPhase, RunStatus } from "./common/run-status.js";
export type { RunCost } from "./client/run-cost.js";
export type { ListPhase } from "./common/run-phases.js";
export type { ChatReply, ChatResult } from "./common/chat.js";
export type { Message, TranscriptMessage } from "./common/messages.js";
export { costByModel, costOf, defaultPrices, priceOf, type ModelPrice, type PriceTable } from "./common/pricing.js";
export type { UsageByModel } from "./common/usage.js";
export type { TokenUsage } from "./common/llm.js";
