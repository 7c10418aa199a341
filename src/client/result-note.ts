/** What a run's answer does not say of how it ended, for people and MCP callers alike. */
import type { ToolMessage } from "../common/messages.js";
import { failedToolCallCause } from "../common/tools.js";
import type { PatternEnding } from "../workflows/patterns/pattern-base.js";

/**
 * Why the answer may not be what was asked for: cut off, filtered, empty, a pattern that fell
 * short of its goal, or tool calls that failed for good, which the model answered without.
 */
export function endingNote(result: unknown): string | undefined {
  if (typeof result !== "object" || result === null || !("text" in result) || typeof result.text !== "string") return undefined;
  const notes = [howItEnded(result as { text: string }), "messages" in result ? failedToolsNote(result.messages) : undefined].filter((note) => note !== undefined);
  return notes.length > 0 ? notes.join(" Also, ") : undefined;
}

const turnLimitNote = `the agent reached its turn limit (maxIterations) with the model still calling tools, so there is no answer: raise maxIterations, or the model ignored the last turn's tool_choice "none".`;

function howItEnded(result: { text: string }): string | undefined {
  const { evaluation, orchestration, swarm, parallel } = result as PatternEnding;
  const { stopReason } = result as { stopReason?: unknown };
  if (stopReason === "max_tokens") {
    return `the model's answer was cut off at its output token limit (the provider's finish reason said so): this text is incomplete. Ask for a shorter answer, or give generate() a higher maxTokens in workflow code.`;
  }
  if (stopReason === "content_filter") return `the provider stopped the model's answer (a content filter or a refusal): this text may be incomplete.`;
  if (stopReason === "max_iterations") return turnLimitNote;
  if (swarm?.stopReason === "max-iterations") {
    return `the swarm's ${turnLimitNote.replace(/^the agent/, `agent ${swarm.activeAgent}`)}`;
  }
  if (result.text.trim() === "" && "messages" in result) {
    // Its last turn's tool calls ran, and no turn was left to answer from their results (a swarm's
    // hand-over ends a turn too, and is said below).
    const last = Array.isArray(result.messages) ? (result.messages.at(-1) as { role?: unknown } | undefined) : undefined;
    // Results from before `stopReason: "max_iterations"` say it by their last message alone.
    if (last?.role === "tool" && !("swarm" in result)) return turnLimitNote;
    return `the model's answer was empty: it ended its turn with no text and no tool call.`;
  }
  if (evaluation?.stopReason === "max-refinements") {
    return `no answer reached the rating '${evaluation.minRating}' in ${counted(evaluation.attempts, "attempt")}; this is the best, rated '${evaluation.bestRating}'.`;
  }
  if (orchestration?.complete === false) {
    return `planning stopped at its cap of ${counted(orchestration.iterations, "iteration")} before the objective was complete; this answer is from the work done.`;
  }
  if (orchestration?.unrunSteps) {
    return `the planner declared the objective complete in the plan that listed ${counted(orchestration.unrunSteps, "more step")}, so none of them ran.`;
  }
  const empty = result.text.trim() === "";
  if (swarm?.stopReason === "max-handoffs") {
    return `the swarm stopped at its cap of ${counted(swarm.handoffs, "handoff")} (maxHandoffs) with the conversation handed to ${swarm.activeAgent}, before any agent answered: ${empty ? "there is no answer" : "this text is the last turn's"}.`;
  }
  if (parallel && parallel.failed.length > 0) {
    const names = parallel.failed.slice(0, 5).map((failed) => failed.name).join(", ");
    const more = parallel.failed.length > 5 ? ` and ${parallel.failed.length - 5} more` : "";
    const inputs = parallel.failed.every((failed) => failed.input !== undefined) ? ", with its input," : " (its position; the inputs, over 256 KiB together, are left out: take them from the run's input by position)";
    return `${parallel.failed.length} of ${parallel.branches} failed (${names}${more}), so this answer is without them; each failure${inputs} is under parallel.failed in the result (--json).`;
  }
  if (swarm?.stopReason === "done" && empty) return `the swarm ended by its done condition after a turn with no text (${swarm.activeAgent} has the conversation): there is no answer; its context variables are in the result.`;
  return undefined;
}

/** The agent's tool calls whose steps failed for good: the model read why, and answered without them. */
function failedToolsNote(messages: unknown): string | undefined {
  if (!Array.isArray(messages)) return undefined;
  const failed = (messages as { role?: unknown }[]).flatMap((message) => {
    const cause = message.role === "tool" ? failedToolCallCause(message as ToolMessage) : undefined;
    return cause === undefined ? [] : [{ tool: (message as ToolMessage).toolName, cause }];
  });
  const [first] = failed;
  if (first === undefined) return undefined;
  if (failed.length === 1) return `the call to '${first.tool}' failed for good, and the model answered without its result: ${first.cause}`;
  const tools = [...new Set(failed.map((call) => `'${call.tool}'`))].join(", ");
  return `${failed.length} tool calls (${tools}) failed for good, and the model answered without their results; the first: ${first.cause}`;
}

function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
