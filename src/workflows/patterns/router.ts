/**
 * Router: a model picks the top-k candidates (agents, MCP servers, functions, patterns) for a
 * request, with a confidence and a reason for each. Invalid choices are dropped, never raised.
 * As an LLM, the router hands the request to its best candidate.
 */
import { ApplicationFailure } from "@temporalio/common";
import type { z } from "zod";
import type { Message } from "../../common/messages.js";
import type { AugmentedLlm, StructuredOptions } from "../augmented-llm.js";
import { isAgent, type Agent } from "../agent/define-agent.js";
import type { Executor } from "../executor/executor.js";
import { lazyAgent } from "./lazy-agent.js";
import { inputText, invalidPattern, participantOptions, PatternBase } from "./pattern-base.js";
import { rankChoices } from "./ranked-choice.js";

export type CandidateKind = "agent" | "server" | "function" | "pattern";

export interface RouteCandidate {
  name: string;
  kind: CandidateKind;
  /** What the candidate is good for, as the routing model reads it. */
  description: string;
  /** Answers the request when the candidate is chosen; a candidate without one can only be routed to. */
  llm?: AugmentedLlm;
}

/** An agent as a router's candidate, as mcp-agent's `Router(agents=[…])` takes it: described by its description (its instruction when it has none), answering when chosen. */
export function agentCandidate(ctx: Executor, agent: Agent): RouteCandidate {
  return { name: agent.spec.name, kind: "agent", description: agent.spec.description ?? agent.spec.instruction, llm: lazyAgent(ctx, agent) };
}

export interface RouteChoice {
  name: string;
  kind: CandidateKind;
  confidence: number;
  reasoning: string;
}

export interface RouterOptions {
  name?: string;
  /** The model that chooses. */
  llm: AugmentedLlm;
  candidates: RouteCandidate[];
  /** How many choices `route` returns; default 1. */
  topK?: number;
}

export class Router extends PatternBase {
  readonly name: string;

  constructor(private readonly options: RouterOptions) {
    super();
    this.name = options.name ?? "router";
    if (options.candidates.length === 0) throw invalidPattern(`${this.name}: a router needs at least one candidate.`);
    options.candidates.forEach((candidate, index) => {
      if (typeof candidate?.name === "string" && candidate.name !== "" && typeof candidate.description === "string") return;
      const what = isAgent(candidate) ? "an Agent from defineAgent; pass agentCandidate(ctx, agent) instead" : "not one";
      throw invalidPattern(`${this.name}: candidates[${index}] is ${what}: a candidate is { name, kind, description, llm? }.`);
    });
  }

  /** The best candidates for the input, best first; empty when the model chose nothing valid. */
  async route(input: string | Message[]): Promise<RouteChoice[]> {
    return (await this.rank(input)).choices;
  }

  private async rank(input: string | Message[]): Promise<{ choices: RouteChoice[]; named: string[] }> {
    const { candidates } = this.options;
    const { choices, named } = await rankChoices(this.options.llm, {
      input: inputText(input),
      options: candidates.map((candidate) => ({ name: candidate.name, description: `(${candidate.kind}) ${candidate.description}` })),
      topK: this.options.topK ?? 1,
      what: ["candidate to handle it", "candidates to handle it"],
    });
    return {
      choices: choices.map((choice) => {
        const candidate = candidates.find((entry) => entry.name === choice.name) as RouteCandidate;
        return { ...choice, kind: candidate.kind };
      }),
      named,
    };
  }

  protected async respond(input: string | Message[]): Promise<string> {
    const { choices, llm } = await this.choose(input);
    if (!llm) return JSON.stringify(choices);
    return llm.generateStr(input, participantOptions);
  }

  override async generateStructured<T>(input: string | Message[], schema: z.ZodType<T>, options: StructuredOptions = {}): Promise<T> {
    const { llm } = await this.choose(input);
    if (!llm) return super.generateStructured(input, schema, options);
    return llm.generateStructured(input, schema, { ...options, ...participantOptions });
  }

  private async choose(input: string | Message[]): Promise<{ choices: RouteChoice[]; llm?: AugmentedLlm }> {
    const { choices, named } = await this.rank(input);
    const best = choices[0];
    if (!best) {
      const chose = named.length > 0 ? `it named ${named.map((name) => JSON.stringify(name.slice(0, 60))).join(", ")}` : "it named none";
      throw ApplicationFailure.nonRetryable(
        `${this.name}: the routing model chose none of the candidates (${this.options.candidates.map((c) => c.name).join(", ")}); ${chose}. ` +
          "Describe the candidates more clearly or add one that fits the request.",
        "NoRoute",
      );
    }
    const llm = this.options.candidates.find((candidate) => candidate.name === best.name)?.llm;
    return llm ? { choices, llm } : { choices };
  }
}
