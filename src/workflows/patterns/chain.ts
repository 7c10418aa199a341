/** Chain: sequential steps, each fed the previous step's output. */
import type { z } from "zod";
import type { Message } from "../../common/messages.js";
import type { AugmentedLlm, StructuredOptions } from "../augmented-llm.js";
import { invalidPattern, participantOptions, PatternBase } from "./pattern-base.js";

export interface ChainOptions {
  name?: string;
  /** At least one; the first receives the chain's input. */
  steps: AugmentedLlm[];
}

export class Chain extends PatternBase {
  readonly name: string;
  private readonly steps: AugmentedLlm[];

  constructor(options: ChainOptions) {
    super();
    if (options.steps.length === 0) throw invalidPattern("A chain needs at least one step.");
    this.name = options.name ?? "chain";
    this.steps = options.steps;
  }

  protected async respond(input: string | Message[]): Promise<string> {
    let current: string | Message[] = input;
    for (const step of this.steps) current = await step.generateStr(current, participantOptions);
    return current as string;
  }

  // The last step answers natively structured; the others run as usual.
  override async generateStructured<T>(input: string | Message[], schema: z.ZodType<T>, options: StructuredOptions = {}): Promise<T> {
    let current: string | Message[] = input;
    for (const step of this.steps.slice(0, -1)) current = await step.generateStr(current, participantOptions);
    const last = this.steps[this.steps.length - 1] as AugmentedLlm;
    return last.generateStructured(current, schema, { ...options, ...participantOptions });
  }
}
