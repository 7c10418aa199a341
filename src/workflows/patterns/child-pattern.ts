/**
 * A nested pattern run as a child workflow: on Temporal it gets its own history and shows as a
 * child in the Web UI's tree of runs; in memory it is a call. The parent sees only the answer.
 */
import { z } from "zod";
import type { Message } from "../../common/messages.js";
import type { Executor } from "../executor/executor.js";
import type { UsageByModel } from "../../common/usage.js";
import type { StructuredOptions } from "../augmented-llm.js";
import { jsonSchemaOf, structuredOutputInvalid } from "../structured-output.js";
import { PatternBase, type PatternEnding } from "./pattern-base.js";
import type { PatternSpec } from "./pattern-spec.js";

/** The registered name of the built-in workflow that runs a pattern spec. */
export const patternWorkflowName = "patternWorkflow";

/** What `patternWorkflow` receives. */
export interface PatternRunInput {
  spec: PatternSpec;
  input: string | Message[];
  /** Asks for structured output: the answer is validated against this JSON schema. */
  output?: { jsonSchema: Record<string, unknown>; schemaName?: string };
}

export interface PatternRunResult extends PatternEnding {
  /** The final answer's text (the JSON text when structured output was asked for). */
  text: string;
  /** The validated value, when structured output was asked for. */
  structured?: unknown;
  /** Tokens the run used, its own child runs included, per model. */
  usage?: UsageByModel;
}

// Child ids must be unique per parent and identical on replay: a counter per name, per run.
const childCounters = new WeakMap<Executor, Map<string, number>>();

function nextChildSuffix(ctx: Executor, name: string): string {
  const counters = childCounters.get(ctx) ?? new Map<string, number>();
  childCounters.set(ctx, counters);
  const count = (counters.get(name) ?? 0) + 1;
  counters.set(name, count);
  return `${name.replace(/[^a-zA-Z0-9_.-]/g, "-")}-${count}`;
}

export class ChildPattern extends PatternBase {
  readonly name: string;

  constructor(
    private readonly ctx: Executor,
    private readonly spec: PatternSpec,
  ) {
    super();
    this.name = spec.name ?? spec.pattern;
  }

  private async start(input: string | Message[], output?: PatternRunInput["output"]): Promise<PatternRunResult> {
    const run: PatternRunInput = { spec: this.spec, input, ...(output ? { output } : {}) };
    const result = await this.ctx.executeChild<PatternRunResult>(patternWorkflowName, run, {
      idSuffix: nextChildSuffix(this.ctx, this.name),
      summary: `${this.spec.pattern} ${this.name}`,
    });
    // The parent's status counts what its children spent, so the root shows the whole tree's usage.
    for (const [model, usage] of Object.entries(result.usage ?? {})) this.ctx.run.addUsage(model, usage);
    return result;
  }

  protected async respond(input: string | Message[]): Promise<string> {
    return (await this.start(input)).text;
  }

  override async generateStructured<T>(input: string | Message[], schema: z.ZodType<T>, options: StructuredOptions = {}): Promise<T> {
    const jsonSchema = jsonSchemaOf(schema);
    const result = await this.start(input, { jsonSchema, ...(options.schemaName ? { schemaName: options.schemaName } : {}) });
    // The child validated against the JSON schema; zod re-checks what JSON Schema cannot say.
    const checked = schema.safeParse(result.structured);
    if (checked.success) return checked.data;
    throw structuredOutputInvalid(this.name, `the child workflow's answer does not match the requested structure: ${z.prettifyError(checked.error)}`, result.text);
  }
}
