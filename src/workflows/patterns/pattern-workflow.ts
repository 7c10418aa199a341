/** The body of the built-in `patternWorkflow`: builds a pattern from its spec and runs it. */
import { ApplicationFailure } from "@temporalio/common";
import { z } from "zod";
import { FailureType } from "../../common/failures.js";
import { MessageSchema } from "../../common/messages.js";
import type { Executor } from "../executor/executor.js";
import { buildPattern } from "./build-pattern.js";
import { EvaluatorOptimizer } from "./evaluator-optimizer.js";
import { Orchestrator } from "./orchestrator.js";
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
  // The same calls as `generateStr`, with how the pattern ended: a run that fell short says so.
  if (!output && llm instanceof EvaluatorOptimizer) {
    const { text, stopReason, history, best, minRating } = await llm.run(input);
    return { text, evaluation: { stopReason, attempts: history.length, bestRating: best.evaluation.rating, minRating }, usage: usage() };
  }
  if (!output && llm instanceof Orchestrator) {
    const { text, iterations, complete, unrunSteps } = await llm.run(input);
    return { text, orchestration: { iterations, complete, ...(unrunSteps ? { unrunSteps } : {}) }, usage: usage() };
  }
  if (!output) return { text: await llm.generateStr(input), usage: usage() };
  const schema = z.fromJSONSchema(output.jsonSchema);
  const structured = await llm.generateStructured(input, schema, output.schemaName ? { schemaName: output.schemaName } : {});
  return { text: JSON.stringify(structured), structured, usage: usage() };
}
