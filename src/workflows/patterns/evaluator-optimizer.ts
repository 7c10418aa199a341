/**
 * Evaluator-optimizer: an optimizer answers, an evaluator rates the answer on a fixed scale with
 * feedback, and the optimizer refines from that feedback until the rating reaches `minRating` or
 * `maxRefinements` refinements were made. The best-rated answer wins (the earliest on a tie).
 */
import { z } from "zod";
import type { Message } from "../../common/messages.js";
import type { AugmentedLlm, StructuredOptions } from "../augmented-llm.js";
import { patched } from "../patches.js";
import { inputText, participantOptions, PatternBase, type PatternEnding } from "./pattern-base.js";

/** The rating scale, worst first. */
export const ratingScale = ["poor", "fair", "good", "excellent"] as const;
export type Rating = (typeof ratingScale)[number];

/** Runs that started before it asked the optimizer for JSON in the task's text (see `generateStructured`). */
const structuredOptimizerPatch = "duragent-eo-structured-optimizer";

export const EvaluationSchema = z.object({
  rating: z.enum(ratingScale),
  feedback: z.string(),
  /** What the next attempt should fix first. */
  focusAreas: z.array(z.string()).optional(),
});
export type Evaluation = z.infer<typeof EvaluationSchema>;

export interface Attempt {
  /** 0 for the first answer, then one per refinement. */
  attempt: number;
  response: string;
  evaluation: Evaluation;
}

export interface EvaluatorOptimizerResult {
  /** The best answer's text. */
  text: string;
  best: Attempt;
  history: Attempt[];
  stopReason: "rating-reached" | "max-refinements";
  /** The rating an answer had to reach. */
  minRating: Rating;
}

export interface EvaluatorOptimizerOptions {
  name?: string;
  optimizer: AugmentedLlm;
  evaluator: AugmentedLlm;
  /** Default `good`. */
  minRating?: Rating;
  /** Default 3. */
  maxRefinements?: number;
}

export class EvaluatorOptimizer extends PatternBase {
  readonly name: string;

  constructor(private readonly options: EvaluatorOptimizerOptions) {
    super();
    this.name = options.name ?? "evaluator-optimizer";
  }

  /** `answerWith` gives the optimizer's answer to a prompt: its text, unless a structured answer is wanted. */
  async run(input: string | Message[], answerWith: (prompt: string | Message[]) => Promise<string> = (prompt) => this.options.optimizer.generateStr(prompt, participantOptions)): Promise<EvaluatorOptimizerResult> {
    const task = inputText(input);
    const minRating = this.options.minRating ?? "good";
    const minRank = ratingScale.indexOf(minRating);
    const maxRefinements = this.options.maxRefinements ?? 3;
    const history: Attempt[] = [];
    let response = await answerWith(input);
    for (let attempt = 0; ; attempt++) {
      const evaluation = await this.options.evaluator.generateStructured(evaluationPrompt(task, response), EvaluationSchema, {
        ...participantOptions,
        schemaName: "evaluation",
      });
      history.push({ attempt, response, evaluation });
      const stopReason =
        ratingScale.indexOf(evaluation.rating) >= minRank ? "rating-reached" : attempt >= maxRefinements ? "max-refinements" : undefined;
      if (stopReason) {
        const best = bestAttempt(history);
        return { text: best.response, best, history, stopReason, minRating };
      }
      response = await answerWith(refinementPrompt(task, response, evaluation));
    }
  }

  /**
   * Each answer comes from the optimizer's own structured output (the provider's JSON mode, with a
   * repair round), so the evaluator rates only answers that fit and the best one is the result.
   * Runs from before asked for JSON in the task's text and checked only the best answer.
   */
  override async generateStructured<T>(input: string | Message[], schema: z.ZodType<T>, options: StructuredOptions = {}): Promise<T> {
    if (!patched(structuredOptimizerPatch)) return super.generateStructured(input, schema, options);
    const answers = new Map<string, T>();
    const { text } = await this.run(input, async (prompt) => {
      const value = await this.options.optimizer.generateStructured(prompt, schema, { ...options, ...participantOptions });
      const json = JSON.stringify(value);
      answers.set(json, value);
      return json;
    });
    return answers.get(text)!;
  }

  protected async respond(input: string | Message[]): Promise<string> {
    return (await this.run(input)).text;
  }

  override async answer(input: string | Message[]): Promise<{ text: string } & PatternEnding> {
    const { text, stopReason, history, best, minRating } = await this.run(input);
    return { text, evaluation: { stopReason, attempts: history.length, bestRating: best.evaluation.rating, minRating } };
  }
}

function bestAttempt(history: Attempt[]): Attempt {
  return history.reduce((best, attempt) =>
    ratingScale.indexOf(attempt.evaluation.rating) > ratingScale.indexOf(best.evaluation.rating) ? attempt : best,
  );
}

function evaluationPrompt(task: string, response: string): string {
  return (
    `Rate the response to the task on this scale: ${ratingScale.join(", ")}. ` +
    `Give specific feedback and the areas to improve.\n\nTask:\n${task}\n\nResponse:\n${response}`
  );
}

function refinementPrompt(task: string, response: string, evaluation: Evaluation): string {
  const focus = evaluation.focusAreas?.length ? `\nFocus on: ${evaluation.focusAreas.join("; ")}` : "";
  return (
    `Improve your previous response to the task using the feedback.\n\nTask:\n${task}\n\nPrevious response:\n${response}\n\n` +
    `Rating: ${evaluation.rating}\nFeedback: ${evaluation.feedback}${focus}\n\nReply with the improved response only.`
  );
}
