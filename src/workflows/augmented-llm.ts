/**
 * What every agent's LLM and every pattern offers, so that any of them can stand in for another:
 * a worker of an orchestrator, a branch of a fan-out, a candidate of a router. An LLM augmented
 * with tools, or with other LLMs, is still asked the same way.
 */
import type { z } from "zod";
import type { Message } from "../common/messages.js";
import type { ToolResultClearing } from "../common/tool-result-clearing.js";

export interface GenerateOptions {
  /** Overrides the model for this call (`provider:model`). */
  model?: string;
  /** Overrides the cap on model turns for this call. */
  maxIterations?: number;
  /** Whether the exchange is kept in, and sent with, the conversation history. Default true. */
  useHistory?: boolean;
  /**
   * How many of the input's first messages the run's transcript already holds (a swarm passes its
   * whole conversation on each turn): only the rest is added to it. Default 0.
   */
  inTranscript?: number;
  temperature?: number;
  maxTokens?: number;
  /** False asks the model for at most one tool call a turn, and runs the calls of a turn one after another if it makes several. */
  parallelToolCalls?: boolean;
  /** Overrides the agent's `clearToolResults` for this call: when old tool results are sent as notes, or `false` for never. */
  clearToolResults?: ToolResultClearing;
}

export interface StructuredOptions extends GenerateOptions {
  /** A short name for the schema, sent to providers that require one. */
  schemaName?: string;
}

export interface AugmentedLlm {
  /** A name for logs, summaries and the Web UI. */
  readonly name: string;
  /** Runs the whole exchange, tool calls included, and returns the messages it added. */
  generate(input: string | Message[], options?: GenerateOptions): Promise<Message[]>;
  /** Like `generate`, returning the final answer's text. */
  generateStr(input: string | Message[], options?: GenerateOptions): Promise<string>;
  /** Like `generate`, returning the final answer parsed and validated by `schema`. */
  generateStructured<T>(input: string | Message[], schema: z.ZodType<T>, options?: StructuredOptions): Promise<T>;
}
