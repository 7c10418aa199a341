/**
 * What a tool's JSON Schema says of its top-level arguments that is certain to refuse a call: a
 * required one missing, or one of the wrong JSON type. Nothing finer (formats, patterns, nested
 * shapes), which servers read differently, and a number or yes/no written as text passes (lax
 * servers take `"5"` for 5): their own check still runs on the worker.
 */
type JsonType = "string" | "number" | "integer" | "boolean" | "object" | "array" | "null";

function jsonTypeOf(value: unknown): JsonType {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value as JsonType;
}

function fits(value: unknown, type: unknown): boolean {
  const types = (Array.isArray(type) ? type : [type]).filter((one): one is JsonType => typeof one === "string");
  if (types.length === 0) return true;
  const actual = jsonTypeOf(value);
  const asText = typeof value === "string" ? value.trim() : undefined;
  return types.some(
    (wanted) =>
      wanted === actual ||
      (wanted === "number" && actual === "integer") ||
      (asText !== undefined && asText !== "" && (wanted === "number" || wanted === "integer") && Number.isFinite(Number(asText))) ||
      (wanted === "boolean" && (asText === "true" || asText === "false")),
  );
}

/** Each way `args` surely do not fit `schema`, one line each; empty when none is certain. */
export function argumentTypeMisfits(schema: Record<string, unknown> | undefined, args: Record<string, unknown>): string[] {
  if (schema === undefined || schema.type !== "object") return [];
  const properties = (typeof schema.properties === "object" && schema.properties !== null ? schema.properties : {}) as Record<string, { type?: unknown } | undefined>;
  const required = Array.isArray(schema.required) ? schema.required.filter((name): name is string => typeof name === "string") : [];
  const misfits = required.filter((name) => !Object.hasOwn(args, name)).map((name) => `${name}: missing`);
  for (const [name, value] of Object.entries(args)) {
    const type = properties[name]?.type;
    if (value !== undefined && !fits(value, type)) misfits.push(`${name}: expected ${Array.isArray(type) ? type.join(" or ") : String(type)}, got ${jsonTypeOf(value)}`);
  }
  return misfits;
}
