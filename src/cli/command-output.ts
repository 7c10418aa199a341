import type { PatternEnding } from "../workflows/patterns/pattern-base.js";

/** Commands return data; the CLI prints `text` for people or `data` as JSON with `--json`. */
export interface CommandOutput {
  data: unknown;
  /** Standard output for people; empty when there is none (a chat's replies went there as they came). */
  text: string;
  /** For people only, on stderr so that stdout stays the answer: what the text leaves out. */
  note?: string | undefined;
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

/** The fields of duragent's own results, which people know from the answer or `status`. */
const shownOrKnown = new Set(["text", "usage", "structured", "evaluation", "orchestration", "messages", "messagesLeftOut", "stopReason"]);

/** What the answer's text does not say: a pattern that fell short of its goal, fields besides the text. */
export function resultNote(result: unknown): string | undefined {
  if (typeof result !== "object" || result === null || !("text" in result) || typeof result.text !== "string") return undefined;
  const { evaluation, orchestration } = result as PatternEnding;
  const { stopReason } = result as { stopReason?: unknown };
  if (stopReason === "max_tokens") {
    return `the model's answer was cut off at its output token limit (the provider's finish reason said so): this text is incomplete. Ask for a shorter answer, or give generate() a higher maxTokens in workflow code.`;
  }
  if (stopReason === "content_filter") return `the provider stopped the model's answer (a content filter or a refusal): this text may be incomplete.`;
  if (result.text.trim() === "" && "messages" in result) return `the model's answer was empty: it ended its turn with no text and no tool call.`;
  if (evaluation?.stopReason === "max-refinements") {
    return `no answer reached the rating '${evaluation.minRating}' in ${counted(evaluation.attempts, "attempt")}; this is the best, rated '${evaluation.bestRating}'.`;
  }
  if (orchestration?.complete === false) {
    return `planning stopped at its cap of ${counted(orchestration.iterations, "iteration")} before the objective was complete; this answer is from the work done.`;
  }
  if (orchestration?.unrunSteps) {
    return `the planner declared the objective complete in the plan that listed ${counted(orchestration.unrunSteps, "more step")}, so none of them ran.`;
  }
  const more = Object.keys(result).filter((key) => !shownOrKnown.has(key));
  // Not `duragent result <id>`: a memory run is gone once its command ends.
  if (more.length > 0) return `the result also has ${more.join(", ")}: add --json to see ${more.length === 1 ? "it" : "them"}.`;
  return undefined;
}

/** The Web UI link on a line of its own, when the run has one. */
export function linkLine(link: string | undefined): string {
  return link ? `\nWeb UI: ${link}` : "";
}

function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
