/**
 * An agent as a pattern participant. Its tools are listed on first use, not at construction, so
 * building a pattern has no effects and agents that are never called cost nothing.
 */
import type { z } from "zod";
import type { Message } from "../../common/messages.js";
import type { AgentLlm } from "../agent/agent-llm.js";
import { defineAgent, isAgent, type Agent, type AgentSpec } from "../agent/define-agent.js";
import type { Executor } from "../executor/executor.js";
import type { GenerateOptions, AugmentedLlm, StructuredOptions } from "../augmented-llm.js";

export class LazyAgentLlm implements AugmentedLlm {
  readonly name: string;
  private readonly agent: Agent;
  private llm?: Promise<AgentLlm>;

  constructor(
    private readonly ctx: Executor,
    agent: Agent | AgentSpec,
  ) {
    this.agent = isAgent(agent) ? agent : defineAgent(agent);
    this.name = this.agent.spec.name;
  }

  /** The agent's model with its tools, attached once. */
  attach(): Promise<AgentLlm> {
    this.llm ??= this.agent.attachLlm(this.ctx);
    return this.llm;
  }

  async generate(input: string | Message[], options?: GenerateOptions): Promise<Message[]> {
    return (await this.attach()).generate(input, options);
  }

  async generateStr(input: string | Message[], options?: GenerateOptions): Promise<string> {
    return (await this.attach()).generateStr(input, options);
  }

  async generateStructured<T>(input: string | Message[], schema: z.ZodType<T>, options?: StructuredOptions): Promise<T> {
    return (await this.attach()).generateStructured(input, schema, options);
  }
}

/** Wraps an agent (or its spec) as an LLM for use in patterns. */
export function lazyAgent(ctx: Executor, agent: Agent | AgentSpec): LazyAgentLlm {
  return new LazyAgentLlm(ctx, agent);
}
