/**
 * Structured output: a zod schema as the JSON Schema a model (or a person) is shown, and a model's
 * text answer read back as a value of it. One reader for agents, which repair once, and patterns.
 * Sandbox-safe.
 */
import { ApplicationFailure } from "@temporalio/common";
import { z } from "zod";
import { FailureType } from "../common/failures.js";

/** The JSON Schema of what a schema accepts (its input side), as providers and forms take it. */
export function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  // zod 3's schemas have `_def` and no `_zod`; zod 4 would fail on them with a TypeError about `def`.
  if (typeof schema === "object" && schema !== null && !("_zod" in schema) && "_def" in schema) {
    throw ApplicationFailure.nonRetryable(
      "This schema is a zod 3 schema; duragent takes zod 4 schemas. Install zod 4 (npm i zod@^4) and import z from \"zod\" (or from \"zod/v4\" in zod 3.25).",
      FailureType.configuration,
    );
  }
  return z.toJSONSchema(schema, {
    io: "input",
    unrepresentable: "any",
    // A `.catch` value stands in for bad input; shown as a default, it reads as an answer to give.
    override: ({ zodSchema, jsonSchema }) => {
      if (zodSchema._zod.def.type === "catch") delete jsonSchema.default;
    },
  }) as Record<string, unknown>;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parses a model's JSON answer and validates it; says what is wrong when it does not fit. */
export function checkStructured<T>(raw: string, schema: z.ZodType<T>): Checked<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stripCodeFence(raw));
  } catch (error) {
    return { ok: false, error: `not valid JSON (${(error as Error).message})` };
  }
  const result = schema.safeParse(parsed);
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, error: z.prettifyError(result.error) };
}

/** Fails the run: the answer still does not fit, and no retry can make the model's answer fit. */
export function structuredOutputInvalid(owner: string, problem: string, raw: string): ApplicationFailure {
  const shown = raw.length > 2000 ? `${raw.slice(0, 2000)}… (${raw.length - 2000} more characters)` : raw;
  return ApplicationFailure.nonRetryable(`${owner}: ${problem}. Raw output: ${shown}`, FailureType.structuredOutputInvalid, { raw });
}

// Some models wrap JSON in a markdown fence even when asked not to.
function stripCodeFence(text: string): string {
  const match = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/.exec(text);
  return match?.[1] ?? text;
}

// One zod schema per JSON Schema object: a tool's spec is built once and checked on every call.
const fromJsonSchema = new WeakMap<object, z.ZodType | null>();

/** A tool's JSON Schema as zod, to check arguments with; undefined when zod cannot read it (the tool's own to enforce). */
export function zodOfJsonSchema(jsonSchema: Record<string, unknown>): z.ZodType | undefined {
  let schema = fromJsonSchema.get(jsonSchema);
  if (schema === undefined) {
    try {
      schema = z.fromJSONSchema(jsonSchema as Parameters<typeof z.fromJSONSchema>[0]);
    } catch {
      schema = null;
    }
    fromJsonSchema.set(jsonSchema, schema);
  }
  return schema ?? undefined;
}
