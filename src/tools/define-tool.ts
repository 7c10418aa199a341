/**
 * Function tools: TypeScript functions an agent calls as tools, free to do I/O (HTTP APIs,
 * databases, files), since they run on the worker, not in workflow code. A module of them is an
 * MCP server of its own (`mcp.servers.<name>.module`), which duragent starts as it starts any stdio
 * server: every call is then a recorded, retried step, under approvals and `allowedTools` like any
 * other MCP tool, on both engines.
 */
import type { z } from "zod";

// A registered symbol: the tool server recognises tools made by the project's own copy of duragent.
const toolBrand = Symbol.for("duragent.tool");

/** What a tool's `run` is given beside its arguments. */
export interface ToolContext<C = Record<string, unknown>> {
  /** Aborted when the call is cancelled (its run was) or timed out: pass it to `fetch` and the like. */
  signal: AbortSignal;
  /** Reports progress, shown in the run's status and events. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /**
   * The run's tool context: values no model sees, such as the user the run acts for, given when
   * it starts (`toolContext` of `run`/`start`, `duragent run --tool-context '{…}'`); a child run's
   * are its parent's. `{}` when it has none. Checked by the tool's own `toolContext` schema.
   */
  toolContext: C;
  /** The run's id, as `duragent status` takes it. */
  runId: string;
  /**
   * The same on every attempt of this call, and on no other call of any run: give it to an API
   * that takes an idempotency key, or record it with the side effect, so that a call retried
   * after a crash does its work once.
   */
  idempotencyKey: string;
  /** This attempt's number, from 1. */
  attempt: number;
}

/**
 * What `run` returns: text as it is; any other JSON value as its JSON text, an object also as the
 * call's structured content; or a whole MCP `CallToolResult` (`{ content: [...] }`) as it is.
 */
export type ToolOutput = string | number | boolean | null | readonly unknown[] | Record<string, unknown>;

export interface ToolDefinition<S extends z.ZodObject, C extends z.ZodType = z.ZodType<Record<string, unknown>>> {
  /** The tool's name, as the model sees it after the server's (`<server>_<name>`). */
  name: string;
  title?: string;
  description: string;
  /** The arguments, checked before `run` is called; a misfit goes back to the model, saying why. */
  input: S;
  /**
   * What the tool needs of the run's tool context (`z.object({ userId: z.string() })`), checked
   * before `run` is called: a run started without it gets the tool's error, saying what is missing.
   */
  toolContext?: C;
  /** MCP's hints: `destructiveHint: true` puts the call to a person where `approvals.destructive` is set. */
  annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean };
  /** Does the work. A throw reaches the model as the tool's error, with its message. */
  run(args: z.output<S>, context: ToolContext<z.output<C>>): Promise<ToolOutput> | ToolOutput;
}

export type DuragentTool<S extends z.ZodObject = z.ZodObject, C extends z.ZodType = z.ZodType> = ToolDefinition<S, C> & { readonly [toolBrand]: true };

/** A function tool, to export from a module listed as `mcp.servers.<name>.module`. */
export function defineTool<S extends z.ZodObject, C extends z.ZodType = z.ZodType<Record<string, unknown>>>(definition: ToolDefinition<S, C>): DuragentTool<S, C> {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(definition.name)) {
    throw new Error(`defineTool: '${definition.name}' is not a tool name MCP allows (letters, digits, _ . -, at most 64).`);
  }
  return Object.freeze({ ...definition, [toolBrand]: true as const });
}

export function isDuragentTool(value: unknown): value is DuragentTool {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[toolBrand] === true;
}
