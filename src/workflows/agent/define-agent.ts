/**
 * An agent is a name, an instruction, the MCP servers it may use and a model. It is plain data,
 * so the same definition can come from code or from `duragent.config.yaml`, and can travel in a
 * workflow input.
 */
import { z } from "zod";
import type { Executor } from "../executor.js";
import { AgentLlm } from "./agent-llm.js";
import { ToolCatalog } from "./tool-catalog.js";

export const AgentSpecSchema = z.object({
  name: z.string().min(1),
  instruction: z.string().min(1),
  /** Names of configured MCP servers whose tools the agent may call. */
  servers: z.array(z.string()).default([]),
  /** `provider:model`; the run's default model when absent. */
  model: z.string().optional(),
  /** The cap on model turns in one `generate` call; the run's default when absent. */
  maxIterations: z.number().int().positive().optional(),
});
export type AgentSpec = z.input<typeof AgentSpecSchema>;

export interface Agent {
  readonly spec: z.output<typeof AgentSpecSchema>;
  /** Lists the agent's tools (one step per server) and returns its model, ready to generate. */
  attachLlm(ctx: Executor): Promise<AgentLlm>;
}

export function defineAgent(spec: AgentSpec): Agent {
  const parsed = AgentSpecSchema.parse(spec);
  return {
    spec: parsed,
    async attachLlm(ctx) {
      const toolLists = await Promise.all(parsed.servers.map((server) => ctx.listTools(server)));
      return new AgentLlm(ctx, new ToolCatalog(toolLists.flat()), {
        name: parsed.name,
        instruction: parsed.instruction,
        model: parsed.model ?? ctx.settings.defaultModel,
        maxIterations: parsed.maxIterations ?? ctx.settings.maxIterations,
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
