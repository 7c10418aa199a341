/**
 * Swarm: agents hand the conversation to each other through `transfer_to_<agent>` tools, offered
 * alongside their MCP tools, and share context variables. The swarm ends when an agent answers
 * without handing off, when the done condition holds, or after `maxHandoffs` handoffs.
 */
import { inWorkflowContext, patched } from "@temporalio/workflow";
import type { Message } from "../../common/messages.js";
import { finalText, type AgentLlm, type LocalTool, type LocalToolOutcome } from "../agent/agent-llm.js";
import { defineAgent, type AgentSpec } from "../agent/define-agent.js";
import type { Executor } from "../executor/executor.js";
import { invalidPattern, PatternBase, type PatternEnding } from "./pattern-base.js";

export interface SwarmAgent extends AgentSpec {
  /** Agents this one may hand off to; all the others when absent. */
  handoffs?: string[];
  /** Functions of workflow code the agent's model may call, as mcp-agent's swarm agents' `functions`. */
  functions?: SwarmFunction[];
}

export type ContextVariables = Record<string, string>;

/**
 * A tool answered by workflow code, which reads and sets the swarm's context variables and may
 * hand the conversation on. It runs in the workflow, so it must be deterministic; it reaches the
 * world only through the executor's effects.
 */
export interface SwarmFunction {
  name: string;
  description: string;
  /** The JSON Schema of its arguments, which are checked against it before it runs; none when absent. */
  inputSchema?: Record<string, unknown>;
  call(
    args: Record<string, unknown>,
    swarm: {
      agent: string;
      contextVariables: Readonly<ContextVariables>;
      /** Those the swarm was started with, as its caller gave them: a model's tool call cannot change them, but may have added others beside. */
      callerContextVariables: Readonly<ContextVariables>;
    },
  ): Promise<SwarmFunctionResult> | SwarmFunctionResult;
}

/** What a swarm function gives back, as mcp-agent's `AgentFunctionResult`. */
export interface SwarmFunctionResult {
  /** What the model reads as the call's result; `Done.` when absent. */
  value?: string;
  /** Context variables to set (strings; other values are kept as their JSON text). */
  contextVariables?: Record<string, unknown>;
  /** An agent to hand the conversation to, as its `transfer_to_<agent>` tool would. */
  agent?: string;
}

export interface SwarmState {
  /** The agent that has the conversation now. */
  activeAgent: string;
  contextVariables: ContextVariables;
  messages: Message[];
  handoffs: Handoff[];
  /** The last answer's text. */
  lastText: string;
}

export interface Handoff {
  from: string;
  to: string;
  reason?: string;
}

export interface SwarmOptions {
  name?: string;
  agents: SwarmAgent[];
  /** The first agent; the first listed when absent. */
  start?: string;
  contextVariables?: ContextVariables;
  /** Default 10. */
  maxHandoffs?: number;
  /** Checked after every turn; true ends the swarm. Must be deterministic. */
  done?: (state: SwarmState) => boolean;
}

export interface SwarmResult {
  text: string;
  state: SwarmState;
  stopReason: "answered" | "done" | "max-handoffs" | "max-iterations";
}

export function handoffToolName(agent: string): string {
  return `transfer_to_${agent}`.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64);
}

const setContextToolName = "set_context_variables";

export class Swarm extends PatternBase {
  readonly name: string;
  private readonly agents: Map<string, SwarmAgent>;

  constructor(
    private readonly ctx: Executor,
    private readonly options: SwarmOptions,
  ) {
    super();
    this.name = options.name ?? "swarm";
    this.agents = new Map(options.agents.map((agent) => [agent.name, agent]));
    const start = options.start ?? options.agents[0]?.name;
    if (start === undefined || !this.agents.has(start)) {
      throw invalidPattern(`${this.name}: the start agent '${start}' is not one of the swarm's agents (${[...this.agents.keys()].join(", ")}).`);
    }
  }

  /**
   * Runs the swarm on `input`. A conversation that goes on (a chat's next turn) gives where the
   * last run left it: the agent that had it and the context variables; an agent no longer in the
   * swarm gives way to the start agent.
   */
  async run(input: string | Message[], from?: Pick<SwarmState, "activeAgent" | "contextVariables">): Promise<SwarmResult> {
    const state: SwarmState = {
      activeAgent: from && this.agents.has(from.activeAgent) ? from.activeAgent : (this.options.start ?? (this.options.agents[0] as SwarmAgent).name),
      contextVariables: { ...from?.contextVariables, ...this.options.contextVariables },
      messages: typeof input === "string" ? [{ role: "user", content: input }] : [...input],
      handoffs: [],
      lastText: "",
    };
    const maxHandoffs = this.options.maxHandoffs ?? 10;
    // After the first turn, the conversation each agent is given is already in the run's transcript.
    const once = this.ctx.run.settings.transcriptOnce === true;
    let inTranscript = 0;
    for (;;) {
      const from = state.activeAgent;
      let handoff: Handoff | undefined;
      const llm = await this.agentLlm(from, state, (next) => {
        handoff = next;
      });
      const added = await llm.generate(state.messages, { useHistory: false, ...(once && inTranscript > 0 ? { inTranscript } : {}) });
      state.messages.push(...added);
      inTranscript = state.messages.length;
      state.lastText = finalText(added);
      if (this.options.done?.(state)) return { text: state.lastText, state, stopReason: "done" };
      // Its agent ran out of turns still calling tools: no answer, and no handoff to go on with.
      if (!handoff && llm.lastStopReason === "max_iterations") return { text: state.lastText, state, stopReason: "max-iterations" };
      if (!handoff) return { text: state.lastText, state, stopReason: "answered" };
      state.handoffs.push(handoff);
      state.activeAgent = handoff.to;
      if (state.handoffs.length >= maxHandoffs) return { text: state.lastText, state, stopReason: "max-handoffs" };
    }
  }

  protected async respond(input: string | Message[]): Promise<string> {
    return (await this.run(input)).text;
  }

  override async answer(input: string | Message[]): Promise<{ text: string } & PatternEnding> {
    const { text, state, stopReason } = await this.run(input);
    return { text, swarm: { stopReason, handoffs: state.handoffs.length, activeAgent: state.activeAgent, contextVariables: state.contextVariables } };
  }

  /**
   * A fresh agent LLM per turn, its handoff tools the turn's; its instruction carries the context
   * variables as they are at each model call. It is attached like any agent (questions to a person,
   * approval gates), at the cost of listing the agent's tools again on each of its turns.
   */
  private async agentLlm(name: string, state: SwarmState, onHandoff: (handoff: Handoff) => void): Promise<AgentLlm> {
    const { handoffs, functions = [], ...agent } = this.agents.get(name) as SwarmAgent;
    const targets = (handoffs ?? [...this.agents.keys()]).filter((target) => target !== name && this.agents.has(target));
    let handedOff = false;
    const handOff = (to: string, reason: string | undefined, text: string): LocalToolOutcome => {
      // One handoff per turn: a second transfer in the same model turn is refused.
      if (handedOff) return { result: { content: [{ type: "text", text: "Ignored: the conversation was already transferred." }], isError: true } };
      handedOff = true;
      onHandoff({ from: name, to, ...(reason !== undefined ? { reason } : {}) });
      return { result: { content: [{ type: "text", text }], isError: false }, endTurn: true };
    };
    const handoffTools = targets.map(
      (target): LocalTool => ({
        spec: {
          name: handoffToolName(target),
          description: `Hand the conversation to ${target}: ${describeAgent(this.agents.get(target) as SwarmAgent)}`,
          inputSchema: {
            type: "object",
            properties: {
              reason: { type: "string", description: "Why this agent should take over." },
              context: { type: "object", additionalProperties: contextValue, description: "Context variables to set." },
            },
          },
        },
        call: (args) => {
          const kept = handedOff ? [] : this.mergeModelContext(state, args.context);
          return handOff(target, typeof args.reason === "string" ? args.reason : undefined, `Transferred to ${target}.${keptNote(kept)}`);
        },
      }),
    );
    const functionTools = functions.map(
      (fn): LocalTool => ({
        spec: { name: fn.name, description: fn.description, inputSchema: fn.inputSchema ?? { type: "object", properties: {} } },
        call: async (args) => {
          const outcome = await fn.call(args, { agent: name, contextVariables: { ...state.contextVariables }, callerContextVariables: { ...this.options.contextVariables } });
          mergeContext(state.contextVariables, outcome.contextVariables);
          const text = outcome.value ?? "Done.";
          if (outcome.agent === undefined) return { result: { content: [{ type: "text", text }], isError: false } };
          if (outcome.agent === name || !this.agents.has(outcome.agent)) {
            return { result: { content: [{ type: "text", text: `${text} (It named '${outcome.agent}' to take over, which is not another agent of this swarm: ${[...this.agents.keys()].filter((other) => other !== name).join(", ")}.)` }], isError: true } };
          }
          return handOff(outcome.agent, fn.name, text);
        },
      }),
    );
    const setContext: LocalTool = {
      spec: {
        name: setContextToolName,
        description: "Sets shared context variables that every agent of this conversation sees.",
        inputSchema: { type: "object", properties: { variables: { type: "object", additionalProperties: contextValue } }, required: ["variables"] },
      },
      call: (args) => {
        const kept = this.mergeModelContext(state, args.variables);
        return { result: { content: [{ type: "text", text: `Context updated.${keptNote(kept)}` }], isError: false } };
      },
    };
    // Made before each model call: a function that changed the context variables mid-turn shows at once.
    const withContext = (instruction: string) =>
      Object.keys(state.contextVariables).length > 0 ? `${instruction}\n\nShared context variables: ${JSON.stringify(state.contextVariables)}` : instruction;
    return defineAgent(agent).attachLlm(this.ctx, { localTools: [...handoffTools, setContext, ...functionTools], instruction: withContext });
  }

  /**
   * Sets what the model asked to set, but for the variables the swarm was started with, which are
   * its caller's (a user's id, a tenant): a function, code of the caller's, may change those; a
   * model's tool call may not. Returns the ones left as they were.
   */
  private mergeModelContext(state: SwarmState, update: unknown): string[] {
    const given = this.options.contextVariables ?? {};
    const changes = typeof update === "object" && update !== null && !Array.isArray(update) ? Object.entries(update) : [];
    const kept = changes.filter(([key, value]) => Object.hasOwn(given, key) && state.contextVariables[key] !== contextText(value)).map(([key]) => key);
    // A run from before kept nothing; asked only when the model tries, so other runs record no marker.
    if (kept.length === 0 || (inWorkflowContext() && !patched(callerContextPatch))) {
      mergeContext(state.contextVariables, update);
      return [];
    }
    mergeContext(state.contextVariables, Object.fromEntries(changes.filter(([key]) => !kept.includes(key))));
    return kept;
  }
}

const callerContextPatch = "duragent-swarm-caller-context-kept";

function keptNote(kept: readonly string[]): string {
  return kept.length === 0 ? "" : ` Not changed: ${kept.join(", ")}, set by the swarm's caller, which no tool call may change.`;
}

// Any value is taken (as JSON text when not a string), so a handoff is never refused for a number.
const contextValue = { description: "A string; other values are kept as their JSON text." };

function mergeContext(target: ContextVariables, update: unknown): void {
  if (typeof update !== "object" || update === null || Array.isArray(update)) return;
  for (const [key, value] of Object.entries(update)) target[key] = contextText(value);
}

function contextText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** An agent's description, or its instruction's first line when it has none. */
function describeAgent(agent: SwarmAgent): string {
  return agent.description ?? agent.instruction.split("\n")[0] ?? agent.instruction;
}
