/**
 * The selection step shared by the router and the intent classifier: the model ranks named
 * options with a confidence and a reason. Its mistakes are filtered, never raised: unknown names,
 * duplicates and confidences that are not numbers are dropped.
 */
import { z } from "zod";
import type { AugmentedLlm } from "../augmented-llm.js";
import { participantOptions } from "./pattern-base.js";

/**
 * The answer's shape. The model is shown the offered names as an enum; any name parses, so that
 * an unknown one can be named in an error rather than fail the whole answer.
 */
const rankedChoicesSchema = (names: string[]) =>
  z.object({
    choices: z.array(
      z
        .object({
          name: z.string().meta({ enum: names }),
          /** 0 to 1. */
          confidence: z.number(),
          reasoning: z.string().optional(),
        })
        // A malformed choice becomes one that `filterChoices` drops, rather than failing the whole answer.
        .catch({ name: "", confidence: -1 }),
    ),
  });
type RankedChoices = z.infer<ReturnType<typeof rankedChoicesSchema>>;

export interface RankedChoice {
  name: string;
  confidence: number;
  reasoning: string;
}

export interface ChoiceOption {
  name: string;
  description: string;
  examples?: string[];
}

/** The valid choices, best first, and every name the model gave, valid or not (for errors). */
export interface Ranking {
  choices: RankedChoice[];
  named: string[];
}

export async function rankChoices(
  llm: AugmentedLlm,
  /** `what`: the options' noun, one and many (`["intent", "intents"]`). */
  request: { input: string; options: ChoiceOption[]; topK: number; what: readonly [string, string] },
): Promise<Ranking> {
  const listed = request.options
    .map((option) => {
      const examples = option.examples?.length ? `\n  examples: ${option.examples.map((example) => JSON.stringify(example)).join("; ")}` : "";
      return `- ${option.name}: ${option.description}${examples}`;
    })
    .join("\n");
  const prompt =
    `Choose the ${request.topK === 1 ? `single best ${request.what[0]}` : `top ${request.topK} ${request.what[1]}`} for the request below. ` +
    `Use only these names, give a confidence from 0 to 1 and a short reason for each choice.\n\n` +
    `Options:\n${listed}\n\nRequest:\n${request.input}`;
  const answer = await llm.generateStructured(prompt, rankedChoicesSchema(request.options.map((option) => option.name)), { ...participantOptions, schemaName: "choices" });
  return { choices: filterChoices(answer.choices, request.options, request.topK), named: answer.choices.map((choice) => choice.name).filter((name) => name !== "") };
}

/** Keeps valid choices only, best first (ties keep the model's order), at most `topK`. */
function filterChoices(choices: RankedChoices["choices"], options: ChoiceOption[], topK: number): RankedChoice[] {
  const known = new Set(options.map((option) => option.name));
  const kept = new Map<string, RankedChoice>();
  for (const choice of choices) {
    if (!known.has(choice.name) || !Number.isFinite(choice.confidence) || choice.confidence < 0) continue;
    // Some models answer in percent.
    const raw = choice.confidence > 1 && choice.confidence <= 100 ? choice.confidence / 100 : choice.confidence;
    const confidence = Math.min(1, Math.max(0, raw));
    const previous = kept.get(choice.name);
    if (previous && previous.confidence >= confidence) continue;
    kept.set(choice.name, { name: choice.name, confidence, reasoning: choice.reasoning ?? "" });
  }
  return [...kept.values()].sort((a, b) => b.confidence - a.confidence).slice(0, topK);
}
