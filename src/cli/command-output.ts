import { endingNote } from "../client/result-note.js";

/** Commands return data; the CLI prints `text` for people or `data` as JSON with `--json`. */
export interface CommandOutput {
  data: unknown;
  /** Standard output for people; empty when there is none (a chat's replies went there as they came). */
  text: string;
  /** For people only, on stderr so that stdout stays the answer: what the text leaves out. */
  note?: string | undefined;
}

/**
 * `--input` is JSON when it parses as a JSON object or array, and text otherwise; `notJson` says
 * why text that begins as JSON (`{` or `[`) is not, since the sender should hear it goes as text.
 */
export function readInput(raw: string): { value: unknown; notJson?: string } {
  const trimmed = raw.trim();
  if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) return { value: raw };
  try {
    return { value: JSON.parse(trimmed) };
  } catch (error) {
    return { value: raw, notJson: (error as Error).message };
  }
}

export function parseInput(raw: string): unknown {
  return readInput(raw).value;
}

/** How a run's result reads on a terminal: an agent's answer, a string, or indented JSON. */
export function resultText(result: unknown): string {
  if (typeof result === "string") return result;
  return answerText(result) ?? JSON.stringify(result, null, 2);
}

/** A result's answer: its `text` field when that is a string. Any other `text` is data, printed with the rest. */
function answerText(result: unknown): string | undefined {
  return typeof result === "object" && result !== null && "text" in result && typeof result.text === "string" ? result.text : undefined;
}

/** The fields of duragent's own results, which people know from the answer or `status`. */
const shownOrKnown = new Set(["text", "usage", "structured", "evaluation", "orchestration", "swarm", "messages", "messagesLeftOut", "stopReason"]);

/** What the answer's text does not say: how the run fell short of its goal, fields besides the text. */
export function resultNote(result: unknown): string | undefined {
  const ending = endingNote(result);
  // Only where the text alone was printed: a result printed whole as JSON leaves nothing out.
  if (ending !== undefined || typeof result !== "object" || result === null || answerText(result) === undefined) return ending;
  const more = Object.keys(result).filter((key) => !shownOrKnown.has(key));
  // Not `duragent result <id>`: a memory run is gone once its command ends.
  if (more.length > 0) return `the result also has ${more.join(", ")}: add --json to see ${more.length === 1 ? "it" : "them"}.`;
  return undefined;
}

/** The Web UI link on a line of its own, when the run has one. */
export function linkLine(link: string | undefined): string {
  return link ? `\nWeb UI: ${link}` : "";
}

/** Rows as lines of aligned columns, two spaces apart; the last column is left as long as it is. */
export function alignedLines(rows: readonly (readonly string[])[]): string[] {
  const columns = Math.max(0, ...rows.map((row) => row.length - 1));
  const widths = Array.from({ length: columns }, (_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0)));
  return rows.map((row) => row.map((cell, column) => (column < widths.length ? cell.padEnd(widths[column]!) : cell)).join("  ").trimEnd());
}
