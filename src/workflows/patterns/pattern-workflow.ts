/** The body of the built-in `patternWorkflow`: builds a pattern from its spec and runs it. */
import { ApplicationFailure } from "@temporalio/common";
import { z } from "zod";
import { FailureType } from "../../common/failures.js";
import { MessageSchema } from "../../common/messages.js";
import type { Executor } from "../executor/executor.js";
import { buildPattern } from "./build-pattern.js";
import { PatternBase } from "./pattern-base.js";
import type { PatternRunInput, PatternRunResult } from "./child-pattern.js";
import { PatternSpecSchema } from "./pattern-spec.js";

export const PatternRunInputSchema = z.object({
  spec: PatternSpecSchema,
  input: z.union([z.string(), z.array(MessageSchema)]),
  output: z.object({ jsonSchema: z.record(z.string(), z.unknown()), schemaName: z.string().optional() }).optional(),
});

export async function runPattern(ctx: Executor, raw: PatternRunInput): Promise<PatternRunResult> {
  const parsed = PatternRunInputSchema.safeParse(raw);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`Invalid pattern run input: ${z.prettifyError(parsed.error)}`, FailureType.configuration);
  }
  const { spec, input, output } = parsed.data;
  const llm = buildPattern(ctx, spec);
  const usage = () => ({ ...ctx.run.status().usage });
  if (!output) {
    // A run that fell short of its goal says so in its result.
    const answer = llm instanceof PatternBase ? await llm.answer(input) : { text: await llm.generateStr(input) };
    return { ...answer, usage: usage() };
  }
  const schema = z.fromJSONSchema(output.jsonSchema);
  const structured = await llm.generateStructured(input, schema, output.schemaName ? { schemaName: output.schemaName } : {});
  return { text: JSON.stringify(structured), structured, usage: usage() };
}
