/**
 * A person's answer typed as text (the CLI's `--value` and prompt, a served tool's string
 * argument), read as its question expects. Pure: the callers fetch the question.
 */
import { soleFormField } from "../common/elicitation-schema.js";
import { InvalidRunMessage } from "../common/invalid-run-message.js";
import type { PendingRequest, QuestionRequest, RunStatus } from "../common/run-status.js";

/** JSON types a schema accepts at its top level (through `anyOf`/`oneOf`); undefined when it names none. */
function acceptedTypes(schema: Record<string, unknown>): Set<string> | undefined {
  const types = new Set<string>();
  const visit = (node: unknown): boolean => {
    if (typeof node !== "object" || node === null) return false;
    const { type, anyOf, oneOf, enum: values, const: constant } = node as Record<string, unknown>;
    let named = false;
    for (const name of Array.isArray(type) ? type : type === undefined ? [] : [type]) {
      types.add(name === "integer" ? "number" : String(name));
      named = true;
    }
    for (const value of Array.isArray(values) ? values : constant === undefined ? [] : [constant]) {
      types.add(jsonType(value));
      named = true;
    }
    for (const branch of [...(Array.isArray(anyOf) ? anyOf : []), ...(Array.isArray(oneOf) ? oneOf : [])]) named = visit(branch) || named;
    return named;
  };
  return visit(schema) ? types : undefined;
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/**
 * Text stays text where the question takes a string (`12`, `{"city": …}` and `true` included);
 * otherwise the text is read as JSON, so `12`, `true` and `{"amount": 12}` arrive as a number, a
 * boolean and an object; a yes-or-no question also takes `yes`, `no`, `y` and `n`. A quoted JSON
 * string is its contents. Text that is neither goes as typed, for the run to refuse with what it
 * expected.
 */
export function answerFromText(text: string, schema: Record<string, unknown> | undefined): unknown {
  let parsed: { value: unknown } | undefined;
  try {
    parsed = { value: JSON.parse(text) };
  } catch {
    parsed = undefined;
  }
  if (parsed && typeof parsed.value === "string") return parsed.value;
  const types = schema ? acceptedTypes(schema) : new Set(["string"]);
  // A yes-or-no question takes a person's yes or no, as well as JSON's true and false.
  const yesNo = /^(yes|y|no|n)$/i.exec(text.trim());
  if (!parsed && yesNo && types?.has("boolean") && !types.has("string")) return /^y/i.test(yesNo[1]!);
  if (parsed && (types === undefined || types.has(jsonType(parsed.value)))) return parsed.value;
  if (types === undefined || types.has("string") || !parsed) return text;
  return parsed.value;
}

/**
 * The one field of an MCP server's form, which a person may answer bare; undefined for any other
 * question (a run's own question of one field wants its JSON).
 */
export function bareAnswerField(question: QuestionRequest): ReturnType<typeof soleFormField> {
  return question.origin && question.schema?.type === "object" ? soleFormField(question.schema) : undefined;
}

/**
 * A value sent bare (not an object) to an MCP server's form of one field, as that form's object:
 * text read as the field asks (`no` to a yes-or-no field is false), any other value as it is.
 * Undefined for any other question, or a value that is already an object.
 */
export function bareFormAnswer(value: unknown, question: QuestionRequest): Record<string, unknown> | undefined {
  const sole = bareAnswerField(question);
  if (!sole || (typeof value === "object" && value !== null && !Array.isArray(value))) return undefined;
  return { [sole.name]: typeof value === "string" ? answerFromText(value, sole.schema) : value };
}

/**
 * A person's text as the answer to `question`: as {@link answerFromText} reads it, except that an
 * MCP server's form of one field takes the field's value bare (`Frank`, `12`, `yes`), read as that
 * field asks and sent as the form's object; a JSON object is taken as the whole form.
 */
export function answerToQuestion(text: string, question: QuestionRequest | undefined): unknown {
  const schema = question?.schema;
  const sole = question && bareAnswerField(question);
  if (question && !readable(text, sole?.schema ?? schema)) {
    const what = text.trim() === "" ? "is empty" : `is not valid JSON: ${JSON.stringify(text.length > 60 ? `${text.slice(0, 59)}…` : text)}`;
    throw new InvalidRunMessage(`The answer to ${question.id} ${what}; ${howToAnswer((sole?.schema ?? schema)!)}.`);
  }
  if (!sole) return answerFromText(text, schema);
  const whole = answerFromText(text, schema);
  if (typeof whole === "object" && whole !== null && !Array.isArray(whole)) return whole;
  return { [sole.name]: answerFromText(text, sole.schema) };
}

/**
 * Sends a person's typed answer as {@link answerToQuestion} reads it. Without the question (no
 * worker answered the status query: none running, or mid-deploy) the text goes as text; when the
 * run refuses that, a worker is back to have refused it, so the question is read again and the
 * text sent as it reads to that question, or else as what it reads as in JSON (`true`, `12`): a
 * refused answer changed nothing.
 */
export async function sendTypedAnswer(
  text: string,
  readQuestion: () => Promise<QuestionRequest | undefined>,
  send: (value: unknown) => Promise<void>,
): Promise<void> {
  const question = await readQuestion().catch(() => undefined);
  try {
    await send(answerToQuestion(text, question));
  } catch (error) {
    if (!(error instanceof InvalidRunMessage) || question) throw error;
    const read = await readQuestion().catch(() => undefined);
    const retry = read ? { value: answerToQuestion(text, read) } : jsonReading(text);
    if (retry === undefined) throw error;
    await send(retry.value);
  }
}

/** What text reads as in JSON, where that is not the text itself. */
function jsonReading(text: string): { value: unknown } | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "string" ? undefined : { value };
  } catch {
    return undefined;
  }
}

/** The question an answer goes to, as the run chooses it: the one named, or the only one pending. */
export function questionFor(status: Pick<RunStatus, "pending"> | undefined, requestId: string | undefined): QuestionRequest | undefined {
  const questions = (status?.pending ?? []).filter((request: PendingRequest): request is QuestionRequest => request.kind === "input");
  return requestId === undefined ? (questions.length === 1 ? questions[0] : undefined) : questions.find((request) => request.id === requestId);
}

/**
 * Whether text can answer a question: any text where it takes text, else JSON (or a yes or no
 * where that is asked), which the run then checks against the question.
 */
function readable(text: string, schema: Record<string, unknown> | undefined): boolean {
  const types = schema ? acceptedTypes(schema) : undefined;
  if (!types || types.has("string")) return true;
  if (types.has("boolean") && /^(yes|y|no|n)$/i.test(text.trim())) return true;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** How a person answers a question of this JSON Schema, in words: `answer with a whole number above 0`. */
export function howToAnswer(schema: Record<string, unknown>): string {
  const type = schema.type;
  if (schema.enum === undefined && schema.const === undefined && schema.anyOf === undefined && schema.oneOf === undefined) {
    if (type === "boolean") return "answer yes or no";
    if (type === "string") return "answer as text";
    if (type === "object" || type === "array") return `answer as JSON: ${describeSchema(schema, 0)}`;
  }
  return `answer with ${describeSchema(schema, 0)}`;
}

const largest = Number.MAX_SAFE_INTEGER;

/** A schema as a person reads it; objects and lists as JSON shapes, to two levels. */
function describeSchema(schema: Record<string, unknown>, depth: number): string {
  const { type, enum: values, const: constant, anyOf, oneOf, items, properties, required } = schema;
  if (Array.isArray(values)) return `one of ${values.map((value) => JSON.stringify(value)).join(", ")}`;
  if (constant !== undefined) return JSON.stringify(constant);
  const branches = Array.isArray(anyOf) ? anyOf : Array.isArray(oneOf) ? oneOf : undefined;
  if (branches) return branches.map((branch) => describeSchema(branch as Record<string, unknown>, depth)).join(" or ");
  if (Array.isArray(type)) return type.map((one) => describeSchema({ ...schema, type: one }, depth)).join(" or ");
  switch (type) {
    case "string":
      return "text";
    case "boolean":
      return "true or false";
    case "null":
      return "null";
    case "integer":
    case "number":
      return [type === "integer" ? "a whole number" : "a number", ...bounds(schema)].join(" ");
    case "array":
      return depth > 1 || typeof items !== "object" || items === null ? "a list" : `a list of ${describeSchema(items as Record<string, unknown>, depth + 1)}`;
    case "object": {
      if (depth > 1 || typeof properties !== "object" || properties === null) return "an object";
      const needed = new Set(Array.isArray(required) ? required : []);
      const fields = Object.entries(properties as Record<string, Record<string, unknown>>).map(
        ([name, field]) => `${JSON.stringify(name)}${needed.has(name) ? "" : "?"}: ${describeSchema(field, depth + 1)}`,
      );
      return `{${fields.join(", ")}}`;
    }
    default:
      return "any JSON value";
  }
}

function bounds(schema: Record<string, unknown>): string[] {
  const said: string[] = [];
  const { minimum, exclusiveMinimum, maximum, exclusiveMaximum } = schema;
  if (typeof exclusiveMinimum === "number" && exclusiveMinimum > -largest) said.push(`above ${exclusiveMinimum}`);
  else if (typeof minimum === "number" && minimum > -largest) said.push(`of at least ${minimum}`);
  if (typeof exclusiveMaximum === "number" && exclusiveMaximum < largest) said.push(`below ${exclusiveMaximum}`);
  else if (typeof maximum === "number" && maximum < largest) said.push(`of at most ${maximum}`);
  return said.length === 2 ? [`${said[0]} and ${said[1]!.replace(/^of /, "")}`] : said;
}
