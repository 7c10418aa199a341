/**
 * Maps the tools of an agent's servers to the names a model sees (`server_tool`) and back.
 * Resolution goes through the map, never by splitting a name, so `a_b`+`c` and `a`+`b_c`
 * cannot be confused: two tools that would share a name are refused when the catalog is built.
 */
import { ApplicationFailure } from "@temporalio/common";
import { FailureType } from "./failures.js";
import type { LlmRequest, ToolSpec } from "./llm.js";
import type { ToolDefinition } from "./tools.js";

// Providers accept tool names of at most 64 characters from this set.
const MAX_NAME_LENGTH = 64;

export function namespacedToolName(server: string, tool: string): string {
  return `${server}_${tool}`.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, MAX_NAME_LENGTH);
}

// Catalogs of the same tool lists (the same arrays: the memory engine's pool hands every run the
// same ones), made once. A catalog never changes, so sharing it is safe on replay too.
const catalogs = new WeakMap<object, { catalog?: ToolCatalog; next: WeakMap<object, unknown> }>();

/** The catalog of these servers' tool lists, shared by runs that list the very same arrays. */
export function catalogOf(lists: ToolDefinition[][]): ToolCatalog {
  let level = catalogs as WeakMap<object, { catalog?: ToolCatalog; next: WeakMap<object, unknown> }>;
  let node: { catalog?: ToolCatalog; next: WeakMap<object, unknown> } | undefined;
  for (const list of lists) {
    node = level.get(list);
    if (!node) level.set(list, (node = { next: new WeakMap() }));
    level = node.next as typeof level;
  }
  if (!node) return new ToolCatalog([]);
  node.catalog ??= new ToolCatalog(lists.flat());
  return node.catalog;
}

export class ToolCatalog {
  private readonly byName = new Map<string, ToolDefinition>();
  private specList?: ToolSpec[];

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

  /** The tools as the model sees them; the same array every time. */
  specs(): ToolSpec[] {
    this.specList ??= [...this.byName.entries()].map(([name, tool]) => ({
      name,
      description: tool.description,
      inputSchema: tool.inputSchema,
    }));
    return this.specList;
  }
}

/**
 * A model call that names its servers (`toolServers`) as the provider must see it: their tools,
 * from `lists`, ahead of the call's own. A call left with no tools at all sends no tool choice,
 * which providers refuse without tools.
 */
export function withServerTools(request: LlmRequest, lists: ToolDefinition[][]): LlmRequest {
  const { toolServers: _servers, ...call } = request;
  const tools = [...catalogOf(lists).specs(), ...(call.tools ?? [])];
  if (tools.length > 0) return { ...call, tools };
  const { tools: _tools, toolChoice: _choice, ...bare } = call;
  return bare;
}
