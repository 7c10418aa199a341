/**
 * Checks a person's answer against an MCP elicitation schema and fills in defaults.
 *
 * MCP allows only a flat object of primitive fields here (string with format/length/enum, number
 * and integer with bounds, boolean, and arrays of enum values), so a small validator covers it
 * exactly. It runs inside workflow code (the input Update's validator), so it must be
 * deterministic and import nothing: no Ajv, no regex compiled from server input.
 * Sandbox-safe: imported by workflow code.
 */

export type ElicitationCheck =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; problems: string[] };

type Schema = Record<string, unknown>;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:\S+$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The values a single- or multi-select field allows, or undefined for a free field. */
function allowedValues(schema: Schema): string[] | undefined {
  if (Array.isArray(schema.enum)) return schema.enum.map(String);
  const options = Array.isArray(schema.oneOf) ? schema.oneOf : Array.isArray(schema.anyOf) ? schema.anyOf : undefined;
  if (options) return options.flatMap((option) => (isRecord(option) && option.const !== undefined ? [String(option.const)] : []));
  return undefined;
}

function checkString(name: string, schema: Schema, value: unknown, problems: string[]): void {
  if (typeof value !== "string") return void problems.push(`${name} must be a string`);
  const allowed = allowedValues(schema);
  if (allowed && !allowed.includes(value)) problems.push(`${name} must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}`);
  if (typeof schema.minLength === "number" && value.length < schema.minLength) problems.push(`${name} must have at least ${schema.minLength} characters`);
  if (typeof schema.maxLength === "number" && value.length > schema.maxLength) problems.push(`${name} must have at most ${schema.maxLength} characters`);
  const format = schema.format;
  const formats: Record<string, RegExp> = { email: EMAIL, date: DATE, "date-time": DATE_TIME, uri: URI };
  if (typeof format === "string" && formats[format] && !formats[format].test(value)) problems.push(`${name} must be a valid ${format}`);
}

function checkNumber(name: string, schema: Schema, value: unknown, problems: string[]): void {
  if (typeof value !== "number" || !Number.isFinite(value)) return void problems.push(`${name} must be a number`);
  if (schema.type === "integer" && !Number.isInteger(value)) problems.push(`${name} must be an integer`);
  if (typeof schema.minimum === "number" && value < schema.minimum) problems.push(`${name} must be at least ${schema.minimum}`);
  if (typeof schema.maximum === "number" && value > schema.maximum) problems.push(`${name} must be at most ${schema.maximum}`);
}

function checkArray(name: string, schema: Schema, value: unknown, problems: string[]): void {
  if (!Array.isArray(value)) return void problems.push(`${name} must be an array`);
  const allowed = isRecord(schema.items) ? allowedValues(schema.items) : undefined;
  for (const item of value) {
    if (typeof item !== "string") problems.push(`${name} must contain strings only`);
    else if (allowed && !allowed.includes(item)) problems.push(`${name} may only contain ${allowed.map((v) => JSON.stringify(v)).join(", ")}`);
  }
  if (new Set(value).size !== value.length) problems.push(`${name} must not repeat a value`);
  if (typeof schema.minItems === "number" && value.length < schema.minItems) problems.push(`${name} must have at least ${schema.minItems} items`);
  if (typeof schema.maxItems === "number" && value.length > schema.maxItems) problems.push(`${name} must have at most ${schema.maxItems} items`);
}

/**
 * Validates `value` against a form-mode `requestedSchema`; on success returns a copy with every
 * missing field that has a `default` filled in. Unknown fields are refused, so typos surface.
 */
export function checkElicitationAnswer(requestedSchema: Record<string, unknown>, value: unknown): ElicitationCheck {
  if (!isRecord(value)) return { ok: false, problems: ["the answer must be a JSON object with the requested fields"] };
  const properties = isRecord(requestedSchema.properties) ? requestedSchema.properties : {};
  const required = Array.isArray(requestedSchema.required) ? requestedSchema.required.map(String) : [];
  const problems: string[] = [];
  const result: Record<string, unknown> = {};
  for (const name of Object.keys(value)) {
    if (!Object.hasOwn(properties, name)) problems.push(`${name} is not a requested field (fields: ${Object.keys(properties).join(", ")})`);
  }
  for (const [name, raw] of Object.entries(properties)) {
    const schema = isRecord(raw) ? raw : {};
    let field = Object.hasOwn(value, name) ? value[name] : undefined;
    if (field === undefined && schema.default !== undefined) field = Array.isArray(schema.default) ? [...schema.default] : schema.default;
    if (field === undefined) {
      if (required.includes(name)) problems.push(`${name} is required`);
      continue;
    }
    switch (schema.type) {
      case "string":
        checkString(name, schema, field, problems);
        break;
      case "number":
      case "integer":
        checkNumber(name, schema, field, problems);
        break;
      case "boolean":
        if (typeof field !== "boolean") problems.push(`${name} must be true or false`);
        break;
      case "array":
        checkArray(name, schema, field, problems);
        break;
      default:
        // A type MCP does not allow: the server validates, so the value goes through unchecked.
        break;
    }
    result[name] = field;
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: result };
}

/** The form's only field, when it has exactly one: a person can answer it bare, and the client wraps it. */
export function soleFormField(requestedSchema: Record<string, unknown>): { name: string; type: string | undefined; schema: Record<string, unknown> } | undefined {
  const properties = isRecord(requestedSchema.properties) ? Object.entries(requestedSchema.properties) : [];
  if (properties.length !== 1) return undefined;
  const [name, schema] = properties[0]!;
  const field = isRecord(schema) ? schema : {};
  return { name, type: typeof field.type === "string" ? field.type : undefined, schema: field };
}
