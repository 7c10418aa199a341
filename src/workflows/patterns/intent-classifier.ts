/** Intent classifier: the top-k intents for a request, each with a confidence. */
import type { Message } from "../../common/messages.js";
import type { AugmentedLlm } from "../augmented-llm.js";
import { inputText, invalidPattern, PatternBase } from "./pattern-base.js";
import { rankChoices } from "./ranked-choice.js";

export interface Intent {
  name: string;
  description: string;
  /** Requests that carry this intent; they help the model draw the line between intents. */
  examples?: string[];
}

export interface IntentMatch {
  intent: string;
  confidence: number;
  reasoning: string;
}

export interface IntentClassifierOptions {
  name?: string;
  llm: AugmentedLlm;
  intents: Intent[];
  /** Default 1. */
  topK?: number;
}

export class IntentClassifier extends PatternBase {
  readonly name: string;

  constructor(private readonly options: IntentClassifierOptions) {
    super();
    this.name = options.name ?? "intent-classifier";
    if (options.intents.length === 0) throw invalidPattern(`${this.name}: an intent classifier needs at least one intent.`);
  }

  /** The best-matching intents, best first; unknown intents named by the model are dropped. */
  async classify(input: string | Message[]): Promise<IntentMatch[]> {
    const { choices } = await rankChoices(this.options.llm, {
      input: inputText(input),
      options: this.options.intents,
      topK: this.options.topK ?? 1,
      what: ["intent", "intents"],
    });
    return choices.map((choice) => ({ intent: choice.name, confidence: choice.confidence, reasoning: choice.reasoning }));
  }

  /** The matches as JSON, so a classifier can be a step of a chain or a branch of a fan-out. */
  protected async respond(input: string | Message[]): Promise<string> {
    return JSON.stringify(await this.classify(input));
  }
}
