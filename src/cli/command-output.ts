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
