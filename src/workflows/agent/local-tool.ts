/**
 * A local tool from a zod schema: the model is offered its JSON Schema, and `call` gets the
 * arguments zod parsed, typed; a misfit never reaches it (the agent answers the model first).
 * Workflow code, so deterministic: for I/O, a function tool (`duragent/tools`).
 */
import { z } from "zod";
import { jsonSchemaOf } from "../structured-output.js";
import type { LocalTool, LocalToolOutcome } from "./agent-llm.js";

export interface LocalToolDefinition<S extends z.ZodObject> {
  name: string;
  description: string;
  input: S;
  /** Text, or a whole outcome (`{ result, endTurn }`); a throw reaches the model as the tool's error. */
  call(args: z.output<S>): Promise<string | LocalToolOutcome> | string | LocalToolOutcome;
}

export function localTool<S extends z.ZodObject>(definition: LocalToolDefinition<S>): LocalTool {
  return {
    spec: { name: definition.name, description: definition.description, inputSchema: jsonSchemaOf(definition.input) },
    call: async (args) => {
      const parsed = definition.input.safeParse(args);
      if (!parsed.success) return { result: { content: [{ type: "text", text: `The arguments for '${definition.name}' do not fit its input:\n${z.prettifyError(parsed.error)}` }], isError: true } };
      const outcome = await definition.call(parsed.data);
      if (typeof outcome === "string") return { result: { content: [{ type: "text", text: outcome }] } };
      return outcome ?? { result: { content: [{ type: "text", text: "(no output)" }] } };
    },
  };
}
