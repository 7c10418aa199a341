/**
 * Every effect a run has on the world, declared once: the model call and the MCP operations.
 *
 * Each entry is one effect. Its key is its name, which is also its activity's name on Temporal;
 * `label` gives the step's label (the Web UI's activity summary, `duragent status`'s current
 * step); `settings` names the retry and timeout policy that applies (`llm` or `tools`); and its
 * type parameters are its input and output. Everything else derives from this table: the
 * activities a worker registers (`DuragentActivities`), the signatures of their implementations
 * (src/activities), the executor's method for each effect and the memory engine's in-process
 * call (src/workflows/executor). Adding an effect is one entry here plus its implementation.
 *
 * Sandbox-safe: imported by workflow code, which needs only the types and the labels.
 */
import type { LlmRequest, LlmResponse } from "./llm.js";
import type {
  PromptInfo,
  PromptRequest,
  PromptResult,
  ResourceInfo,
  ResourceRequest,
  ResourceResult,
  ResourceTemplateInfo,
} from "./mcp-context.js";
import type { RunChannel } from "./server-requests.js";
import type { ToolCallRequest, ToolDefinition, ToolResult } from "./tools.js";

export interface Effect<I, O> {
  /** Which of the run's policies applies: model calls (`llm`) or MCP calls (`tools`). */
  readonly settings: "llm" | "tools";
  /**
   * On Temporal, a local activity: it runs within the workflow task that asks for it, on the same
   * worker, so it costs no round trip of its own. For quick effects only (the pool keeps each
   * server's tool list), and it records a marker rather than an activity in history.
   */
  readonly local?: true;
  /** The MCP server an MCP effect reaches, whose own policy (`RunSettings.servers`) applies over `tools`. */
  server?(input: I): string;
  /** The step's label, e.g. `llm openai:gpt-4.1-mini (writer)` or `tool filesystem/read_text_file`. */
  label(input: I): string;
  /** Carries the input and output types; never set. */
  readonly types?: { input: I; output: O };
}

function effect<I, O>(spec: Omit<Effect<I, O>, "types">): Effect<I, O> {
  return spec;
}

export const effects = {
  /** One model turn. Provider errors are ApplicationFailures typed by `FailureType`. */
  // The agent named too: in a pattern, several agents share a model, and a step should say whose it is.
  callLlm: effect<LlmRequest, LlmResponse>({ settings: "llm", label: (request) => `llm ${request.model}${request.agent ? ` (${request.agent})` : ""}` }),
  /** The tools one MCP server offers, filtered by its `allowedTools`. */
  listTools: effect<string, ToolDefinition[]>({ settings: "tools", local: true, server: (server) => server, label: (server) => `tools ${server}` }),
  /** One tool call. The model's mistakes and the tool's failures are `isError` results, not exceptions. */
  callTool: effect<ToolCallRequest, ToolResult>({ settings: "tools", server: (call) => call.server, label: (call) => `tool ${call.server}/${call.tool}` }),
  /** The prompts one MCP server offers (none when it offers no prompts). */
  listPrompts: effect<string, PromptInfo[]>({ settings: "tools", server: (server) => server, label: (server) => `prompts ${server}` }),
  /** One prompt filled in with its arguments, as messages. A server's refusal is not retried. */
  getPrompt: effect<PromptRequest, PromptResult>({ settings: "tools", server: (request) => request.server, label: (request) => `prompt ${request.server}/${request.name}` }),
  /** The resources one MCP server lists. */
  listResources: effect<string, ResourceInfo[]>({ settings: "tools", server: (server) => server, label: (server) => `resources ${server}` }),
  /** The resource templates one MCP server lists. */
  listResourceTemplates: effect<string, ResourceTemplateInfo[]>({ settings: "tools", server: (server) => server, label: (server) => `resource-templates ${server}` }),
  /** One resource's contents, as content parts (see `resourceMessage`). */
  readResource: effect<ResourceRequest, ResourceResult>({ settings: "tools", server: (request) => request.server, label: (request) => `resource ${request.server}/${request.uri}` }),
} as const;

export type Effects = typeof effects;
export type EffectName = keyof Effects;
export type EffectInput<K extends EffectName> = NonNullable<Effects[K]["types"]>["input"];
export type EffectOutput<K extends EffectName> = NonNullable<Effects[K]["types"]>["output"];

export const effectNames = Object.keys(effects) as EffectName[];

/** One method per effect, taking its input: what agent code calls on the executor. */
export type EffectMethods = { [K in EffectName]: (input: EffectInput<K>) => Promise<EffectOutput<K>> };

/** The activities a worker registers, one per effect under its name. Workflow code imports this type only. */
export type DuragentActivities = EffectMethods;

/** What an effect's implementation gets besides its input. */
export interface EffectContext {
  /** Aborted when the run is cancelled or the attempt runs out of time. */
  signal?: AbortSignal;
  /** The run, for a tool call's requests to a person and its progress; absent outside a run. */
  run?: RunChannel;
  /** Which step this attempt is of; absent outside a run. */
  step?: StepAttempt;
  /** When the attempt's own limit ends it (ms since the epoch), when known: a wait must end before. */
  deadline?: number;
}

/** One attempt of a step: what a function tool is told, to make its side effects once. */
export interface StepAttempt {
  /** The run's id, as `duragent status` takes it. */
  runId: string;
  /** The same on every attempt of this step, and on no other step of any run. */
  key: string;
  /** This attempt's number, from 1. */
  attempt: number;
}

/** The implementation of each effect (src/activities): what the memory engine calls in-process, and what activities wrap. */
export type EffectImplementations = {
  [K in EffectName]: (input: EffectInput<K>, context: EffectContext) => Promise<EffectOutput<K>>;
};
