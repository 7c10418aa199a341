/**
 * Turns a run's input request into an MCP elicitation form, and the form's answer back into the
 * value the run expects. MCP forms are flat objects of primitive fields, so:
 * - a request without a schema (a plain string answer) becomes `{ answer: string }`;
 * - a flat object schema of primitive fields is sent as it is (minus keywords forms lack; the
 *   run validates the answer against its full schema anyway);
 * - a single primitive schema (`{ type: "number" }`) is wrapped as `{ answer: <schema> }`;
 * - anything else (nested objects, arrays of objects) cannot be a form: the caller answers it with
 *   `run_input` instead.
 * A URL-mode request (an MCP server of the run asking the person to open a page) is passed on in
 * URL mode.
 */
import {
  specTypeSchemas,
  type ElicitRequestFormParams,
  type ElicitRequestURLParams,
  type PrimitiveSchemaDefinition,
} from "@modelcontextprotocol/server";
import type { QuestionRequest } from "../common/run-status.js";

export interface ElicitationForm {
  params: ElicitRequestFormParams | ElicitRequestURLParams;
  /** The value to send to the run, from the form's accepted content. */
  toAnswer(content: Record<string, unknown>): unknown;
}

const answerField = "answer";

function primitive(schema: unknown): PrimitiveSchemaDefinition | undefined {
  const parsed = specTypeSchemas.PrimitiveSchemaDefinition["~standard"].validate(schema);
  if (parsed instanceof Promise) return undefined;
  return parsed.issues ? undefined : (parsed.value as PrimitiveSchemaDefinition);
}

/** The form for a request, or undefined when its schema has no form equivalent. */
export function elicitationForm(request: QuestionRequest, elicitationId: string, note?: string): ElicitationForm | undefined {
  const message = note ? `${request.prompt}\n\n${note}` : request.prompt;
  if (request.url !== undefined) return { params: { mode: "url", message, url: request.url, elicitationId }, toAnswer: () => undefined };
  const wrapped = (field: PrimitiveSchemaDefinition): ElicitationForm => ({
    params: { mode: "form", message, requestedSchema: { type: "object", properties: { [answerField]: field }, required: [answerField] } },
    toAnswer: (content) => content[answerField],
  });
  const schema = request.schema;
  if (schema === undefined) return wrapped({ type: "string", title: "Answer" });
  if (schema.type !== "object") {
    const field = primitive(schema);
    return field ? wrapped(field) : undefined;
  }
  const properties = schema.properties;
  if (typeof properties !== "object" || properties === null) return undefined;
  const fields: Record<string, PrimitiveSchemaDefinition> = {};
  for (const [name, property] of Object.entries(properties)) {
    const field = primitive(property);
    if (!field) return undefined;
    fields[name] = field;
  }
  const required = Array.isArray(schema.required) ? schema.required.filter((name): name is string => typeof name === "string") : [];
  return {
    params: { mode: "form", message, requestedSchema: { type: "object", properties: fields, required } },
    toAnswer: (content) => content,
  };
}
