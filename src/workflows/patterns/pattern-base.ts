/**
 * What every pattern shares: a pattern computes one text answer (`respond`), and this base turns
 * that into the whole `AugmentedLlm` interface, so a pattern can stand wherever an agent's LLM can.
 */
import { ApplicationFailure } from "@temporalio/common";
import { z } from "zod";
import { FailureType } from "../../common/failures.js";
import { textOf, type Message } from "../../common/messages.js";
import type { GenerateOptions, AugmentedLlm, StructuredOptions } from "../augmented-llm.js";
import { checkStructured, jsonSchemaOf, structuredOutputInvalid } from "../structured-output.js";

/** Participants of a pattern never share conversation state: several calls may run at once. */
export const participantOptions: GenerateOptions = { useHistory: false };

/** How a pattern's run ended, beyond its answer, for patterns that can fall short of their goal. */
export interface PatternEnding {
  /** An evaluator-optimizer's: whether an answer reached `minRating`, and the best one's rating. */
  evaluation?: { stopReason: "rating-reached" | "max-refinements"; attempts: number; bestRating: string; minRating: string };
  /** An orchestrator's: `complete` is false when planning stopped at its iteration cap; `unrunSteps`, steps planned with the declaration that all was done. */
  orchestration?: { iterations: number; complete: boolean; unrunSteps?: number };
  /** A swarm's: why it stopped (`max-iterations`: its agent ran out of turns still calling tools), how many handoffs it made, who has the conversation and the context variables it ended with. */
  swarm?: { stopReason: "answered" | "done" | "max-handoffs" | "max-iterations"; handoffs: number; activeAgent: string; contextVariables: Record<string, string> };
  /**
   * A fan-out's under `failurePolicy: collect` that had failures: how many branches or items ran,
   * and each failed one (its position from 1, name, error, and its input while they stay small, to
   * run them again).
   */
  parallel?: { branches: number; failed: { index: number; name: string; error: string; input?: string }[] };
}

export abstract class PatternBase implements AugmentedLlm {
  abstract readonly name: string;

  /** Runs the pattern on one input and returns its final answer. */
  protected abstract respond(input: string | Message[]): Promise<string>;

  /** The answer, with how the pattern ended; the same model and tool calls as `generateStr`. */
  async answer(input: string | Message[]): Promise<{ text: string } & PatternEnding> {
    return { text: await this.respond(input) };
  }

  async generate(input: string | Message[], _options?: GenerateOptions): Promise<Message[]> {
    return [{ role: "assistant", content: await this.respond(input) }];
  }

  generateStr(input: string | Message[], _options?: GenerateOptions): Promise<string> {
    return this.respond(input);
  }

  /**
   * The default asks for JSON in the input and validates the answer. Patterns whose answer comes
   * from one final llm override this to use that llm's native structured output.
   */
  async generateStructured<T>(input: string | Message[], schema: z.ZodType<T>, options: StructuredOptions = {}): Promise<T> {
    const raw = await this.respond(withJsonRequest(input, schema, options.schemaName));
    return parseStructured(this.name, raw, schema);
  }
}

/** Adds an instruction to answer with JSON matching `schema`. */
function withJsonRequest<T>(input: string | Message[], schema: z.ZodType<T>, schemaName = "result"): string | Message[] {
  const jsonSchema = JSON.stringify(jsonSchemaOf(schema));
  const request = `Answer with only a JSON value named "${schemaName}" that matches this JSON schema: ${jsonSchema}`;
  if (typeof input === "string") return `${input}\n\n${request}`;
  return [...input, { role: "user", content: request }];
}

/** Parses and validates a text answer; fails the run with the raw text when it does not fit. */
export function parseStructured<T>(owner: string, raw: string, schema: z.ZodType<T>): T {
  const checked = checkStructured(raw, schema);
  if (checked.ok) return checked.value;
  throw structuredOutputInvalid(owner, `the answer does not match the requested structure: ${checked.error}`, raw);
}

/** A mistake in how a pattern was put together: no retry can fix it, so it fails the run. */
export function invalidPattern(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.configuration);
}

/** The text of an input: a string as is, messages as their texts, one per line. */
export function inputText(input: string | Message[]): string {
  if (typeof input === "string") return input;
  if (input.length === 1 && input[0]) return textOf(input[0].content);
  return input.map((message) => `${message.role}: ${textOf(message.content)}`).join("\n");
}
