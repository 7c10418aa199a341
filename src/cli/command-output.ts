/** Commands return data; the CLI prints `text` for people or `data` as JSON with `--json`. */
export interface CommandOutput {
  data: unknown;
  text: string;
}

/** `--input` is JSON when it parses as a JSON object or array, and text otherwise. */
export function parseInput(raw: string): unknown {
  const trimmed = raw.trim();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return raw;
    }
  }
  return raw;
}

/**
 * An answer typed as text, read as its question expects: a question that wants a string (or
 * gives no schema) gets the text as typed, braces and all; any other gets the text as JSON, so
 * `12`, `true` and `{"amount": 12}` arrive as a number, a boolean and an object. Text that is not
 * JSON goes as typed, for the run to refuse with what it expected.
 */
export function answerValue(raw: string, schema: Record<string, unknown> | undefined): unknown {
  if (schema === undefined || schema.type === "string") return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** How a run's result reads on a terminal: an agent's answer, a string, or indented JSON. */
export function resultText(result: unknown): string {
  if (typeof result === "string") return result;
  if (typeof result === "object" && result !== null && "text" in result && typeof result.text === "string") {
    return result.text;
  }
  return JSON.stringify(result, null, 2);
}

/** The Web UI link on a line of its own, when the run has one. */
export function linkLine(link: string | undefined): string {
  return link ? `\nWeb UI: ${link}` : "";
}
