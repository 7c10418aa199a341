/**
 * Maps the tools of an agent's servers to the names a model sees (`server_tool`) and back.
 * Resolution goes through the map, never by splitting a name, so `a_b`+`c` and `a`+`b_c`
 * cannot be confused: two tools that would share a name are refused when the catalog is built.
 */
import { ApplicationFailure } from "@temporalio/common";
import { FailureType } from "../../common/failures.js";
import type { ToolSpec } from "../../common/llm.js";
import type { ToolDefinition } from "../../common/tools.js";

// Providers accept tool names of at most 64 characters from this set.
const MAX_NAME_LENGTH = 64;

export function namespacedToolName(server: string, tool: string): string {
  return `${server}_${tool}`.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, MAX_NAME_LENGTH);
}

export class ToolCatalog {
  private readonly byName = new Map<string, ToolDefinition>();

  constructor(tools: ToolDefinition[]) {
    for (const tool of tools) {
      const name = namespacedToolName(tool.server, tool.name);
      const clash = this.byName.get(name);
      if (clash) {
        throw ApplicationFailure.nonRetryable(
          `Tools '${clash.server}/${clash.name}' and '${tool.server}/${tool.name}' would both be called '${name}'. ` +
            `Rename one of the servers in mcp.servers, or hide one tool with allowedTools.`,
          FailureType.configuration,
        );
      }
      this.byName.set(name, tool);
    }
  }

  get size(): number {
    return this.byName.size;
  }

  resolve(name: string): ToolDefinition | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  specs(): ToolSpec[] {
    return [...this.byName.entries()].map(([name, tool]) => ({
      name,
      description: tool.description,
      inputSchema: tool.inputSchema,
    }));
  }
}
