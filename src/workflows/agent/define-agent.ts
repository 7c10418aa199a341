/**
 * An agent is a name, an instruction, the MCP servers it may use and a model. It is plain data,
 * so the same definition can come from code or from `duragent.config.yaml`, and can travel in a
 * workflow input.
 */
import { z } from "zod";
import type { Executor } from "../executor/executor.js";
import { toolError } from "../../common/tools.js";
import { AgentLlm, type LocalTool } from "./agent-llm.js";
import { catalogOf } from "../../common/tool-catalog.js";
import { formatZodError } from "../../errors/zod-issues.js";
import { ToolResultClearingSchema } from "../../common/tool-result-clearing.js";

export const AgentSpecSchema = z.object({
  name: z.string().min(1),
  instruction: z.string().min(1),
  /** What the agent is for, as routers, planners, swarm handoffs and MCP clients of `serve` read it; the instruction when absent. */
  description: z.string().min(1).optional(),
  /** Names of configured MCP servers whose tools the agent may call. */
  servers: z.array(z.string()).default([]),
  /** `provider:model`; the run's default model when absent. */
  model: z.string().optional(),
  /** The cap on model turns in one `generate` call; the run's default when absent. */
  maxIterations: z.number().int().positive().optional(),
  /** The cap on the tokens of each model answer; the provider's default when absent (Anthropic's: 4096). */
  maxTokens: z.number().int().positive().optional(),
  /** The sampling temperature of its model calls (OpenAI's wire format), unless a call gives its own; the provider's default when absent. */
  temperature: z.number().min(0).max(2).optional(),
  /** False: at most one tool call a turn (`GenerateOptions.parallelToolCalls`), unless a call says otherwise. */
  parallelToolCalls: z.boolean().optional(),
  /**
   * Once a model call's messages pass `aboveTokens` (about 4 characters a token), the results of
   * all but the latest `keep` tool calls are sent as a note saying what was there, so a long tool
   * loop stays within the model's context; `false` sends every result whole. Default
   * `{ aboveTokens: 100000, keep: 5 }`.
   */
  clearToolResults: ToolResultClearingSchema.optional(),
  /** Gives the model a `human_input` tool: its question goes to a person, answered with `duragent answer`. */
  humanInput: z.boolean().optional(),
});
export type AgentSpec = z.input<typeof AgentSpecSchema>;

export interface AttachOptions {
  /** Tools answered by workflow code (`localTool`), beside the servers'. */
  localTools?: LocalTool[];
  /**
   * Makes the instruction before each model call from the agent's own: dynamic instructions, read
   * from state that changes during the tool loop (a local tool's, a swarm's context variables).
   * Workflow code, so deterministic.
   */
  instruction?: (instruction: string) => string;
}

export interface Agent {
  readonly spec: z.output<typeof AgentSpecSchema>;
  /**
   * The agent's model, ready to generate. Its first model call lists the servers' tools on the
   * worker; in runs started before that, a step per server lists them here first.
   */
  attachLlm(ctx: Executor, options?: AttachOptions): Promise<AgentLlm>;
}

export function defineAgent(spec: AgentSpec): Agent {
  const checked = AgentSpecSchema.safeParse(spec, { reportInput: true });
  if (!checked.success) {
    const name = typeof spec?.name === "string" && spec.name !== "" ? ` '${spec.name}'` : "";
    throw new TypeError(formatZodError(checked.error, `defineAgent${name}`, AgentSpecSchema));
  }
  const parsed = checked.data;
  return {
    spec: parsed,
    async attachLlm(ctx, options = {}) {
      // Runs started without the setting list here, exactly as they did when they were recorded.
      const listedByFirstCall = ctx.run.settings.listToolsInModelCall === true;
      const catalog = listedByFirstCall ? catalogOf([]) : catalogOf(await Promise.all(parsed.servers.map((server) => ctx.listTools(server))));
      const localTools = [...(options.localTools ?? []), ...(parsed.humanInput ? [humanInputTool(ctx)] : [])];
      return new AgentLlm(ctx, catalog, {
        ...(listedByFirstCall ? { unlistedServers: parsed.servers } : {}),
        name: parsed.name,
        instruction: options.instruction ? () => options.instruction!(parsed.instruction) : parsed.instruction,
        model: parsed.model ?? ctx.run.settings.defaultModel,
        maxIterations: parsed.maxIterations ?? ctx.run.settings.maxIterations,
        ...(parsed.maxTokens !== undefined ? { maxTokens: parsed.maxTokens } : {}),
        ...(parsed.temperature !== undefined ? { temperature: parsed.temperature } : {}),
        ...(parsed.parallelToolCalls !== undefined ? { parallelToolCalls: parsed.parallelToolCalls } : {}),
        ...(parsed.clearToolResults !== undefined ? { clearToolResults: parsed.clearToolResults } : {}),
        ...(localTools.length > 0 ? { localTools } : {}),
      });
    },
  };
}

export function isAgent(value: unknown): value is Agent {
  return (
    typeof value === "object" &&
    value !== null &&
    "spec" in value &&
    "attachLlm" in value &&
    typeof (value as Agent).attachLlm === "function"
  );
}

/** Lets the model ask a person; the wait is durable, like any other question. */
function humanInputTool(ctx: Executor): LocalTool {
  return {
    spec: {
      name: "human_input",
      description: "Ask a person a question and wait for the answer. Use it when you need information or a decision only a person has.",
      inputSchema: {
        type: "object",
        properties: { question: { type: "string", description: "The question, complete and self-contained." } },
        required: ["question"],
      },
    },
    async call(args) {
      if (typeof args.question !== "string" || args.question.trim() === "") {
        return { result: toolError("human_input needs a non-empty string 'question'.") };
      }
      const answer = await ctx.ask({ prompt: args.question });
      if (answer.status === "timed_out") return { result: toolError("No answer came in time.") };
      return { result: { content: [{ type: "text", text: answer.value }], isError: false } };
    },
  };
}
