/**
 * Parallel (fan-out / fan-in, map-reduce): one input goes to several branches, or a list of items
 * goes through one worker, with at most `concurrency` branches running at once. The results are
 * merged by a fan-in llm or function.
 */
import { ApplicationFailure } from "@temporalio/common";
import { inWorkflowContext, isCancellation, patched } from "@temporalio/workflow";
import type { z } from "zod";
import type { Message } from "../../common/messages.js";
import type { AugmentedLlm, StructuredOptions } from "../augmented-llm.js";
import { FailureType, rootCause } from "../../common/failures.js";
import { cancellable, currentScopeCancelled } from "../executor/cancellation-scopes.js";
import { inputText, invalidPattern, participantOptions, PatternBase, type PatternEnding } from "./pattern-base.js";
import { settleWithLimit } from "./semaphore.js";

/** `fail`: one failed branch fails the whole. `collect`: failures are reported to the fan-in. */
export type FailurePolicy = "fail" | "collect";

export interface BranchResult {
  /** The branch's llm name, or `item <n>` in map mode. */
  name: string;
  /** The branch's input: the pattern's input, or the item in map mode. */
  input: string;
  ok: boolean;
  text?: string;
  error?: string;
}

/**
 * Runs that started before it completed or failed when cancelled during a fan-out, with the
 * cancelled branches as failed ones. Asked only by a cancelled run, so others record no marker.
 */
const parallelCancelPatch = "duragent-parallel-cancel-ends-run";

/**
 * The cancellation to rethrow when branches ended because the run itself (or a fan-out around this
 * one) was cancelled. A child run cancelled on its own (`duragent cancel <parent>/<child>`), or a
 * branch this fan-out stopped, is not that.
 */
function runCancellation(settled: readonly PromiseSettledResult<unknown>[]): unknown {
  const cancelled = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected" && isCancellation(outcome.reason));
  if (!cancelled || !currentScopeCancelled()) return undefined;
  return !inWorkflowContext() || patched(parallelCancelPatch) ? cancelled.reason : undefined;
}

/**
 * Under `fail`, the first failed branch cancels the others, rather than let them go on asking
 * people and acting for a fan-out that has failed. Asked at that first failure only.
 */
const parallelFailsFastPatch = "duragent-parallel-fails-fast";

/** Merges branch results in code; must be deterministic. */
export type FanInFunction = (results: BranchResult[], input: string) => string | Promise<string>;

export interface ParallelOptions {
  name?: string;
  /** Fan out: every branch gets the same input. Give this or `map`. */
  branches?: AugmentedLlm[];
  /** Map: the input is split into items and each item goes through `worker`. */
  map?: {
    worker: AugmentedLlm;
    /** Splits the input; default: a JSON array's elements, else the non-empty lines. */
    items?: (input: string) => string[];
    /** Names an item in results and failures (a ticket's id); `item <n>` when absent or empty. Deterministic. */
    name?: (item: string, index: number) => string | undefined;
  };
  /** Merges the results; default: each result under a heading. */
  fanIn?: AugmentedLlm | FanInFunction;
  /** At most this many branches run at once; unlimited when absent. */
  concurrency?: number;
  failurePolicy?: FailurePolicy;
}

export interface ParallelResult {
  text: string;
  results: BranchResult[];
}

export class Parallel extends PatternBase {
  readonly name: string;

  constructor(private readonly options: ParallelOptions) {
    super();
    if ((options.branches === undefined) === (options.map === undefined)) {
      throw invalidPattern("A parallel pattern needs exactly one of `branches` (fan out) or `map` (one worker over items).");
    }
    if (options.branches?.length === 0) throw invalidPattern("A parallel pattern needs at least one branch.");
    this.name = options.name ?? "parallel";
  }

  /** Runs every branch and returns each one's outcome, in branch order. */
  async fanOut(input: string | Message[]): Promise<BranchResult[]> {
    const text = inputText(input);
    const { branches, map } = this.options;
    const jobs = map
      ? (map.items ?? splitItems)(text).map((item, index) => ({ name: map.name?.(item, index) || `item ${index + 1}`, input: item, llm: map.worker }))
      : (branches ?? []).map((llm) => ({ name: llm.name, input: text, llm }));
    const failFast = (this.options.failurePolicy ?? "fail") === "fail";
    // A branch's failure is watched beside its promise, not by a link in its chain: a promise turn
    // more would move the order of the commands its end leads to (a queued branch's start).
    const fanOut = (onFailure?: (error: unknown) => void) =>
      settleWithLimit(jobs, this.options.concurrency, (job) => {
        const branch = job.llm.generateStr(map ? job.input : input, participantOptions);
        if (onFailure) branch.catch(onFailure);
        return branch;
      });
    let cancelledOthers = false;
    const settled = failFast
      ? await cancellable((scope) =>
          fanOut((error) => {
            if (cancelledOthers || isCancellation(error) || scope.cancelled) return;
            if (inWorkflowContext() && !patched(parallelFailsFastPatch)) return;
            cancelledOthers = true;
            scope.cancel();
          }),
        )
      : await fanOut();
    // A cancelled run ends as cancelled, not as a fan-out whose branches failed (or one that
    // completed with them, under `collect`).
    const cancelled = runCancellation(settled);
    if (cancelled !== undefined) throw cancelled;
    const results = settled.map((outcome, index): BranchResult => {
      const job = jobs[index] as (typeof jobs)[number];
      return outcome.status === "fulfilled"
        ? { name: job.name, input: job.input, ok: true, text: outcome.value }
        : { name: job.name, input: job.input, ok: false, error: withoutName(rootCause(outcome.reason), job.name) };
    });
    // Branches the fan-out cancelled itself did not fail: it no longer needed them.
    const stopped = !cancelledOthers ? [] : results.filter((_, index) => settled[index]!.status === "rejected" && isCancellation((settled[index] as PromiseRejectedResult).reason));
    const failed = results.filter((result) => !result.ok && !stopped.includes(result));
    if (failed.length > 0 && failFast) {
      const others = stopped.length > 0 ? ` (${stopped.length} other${stopped.length === 1 ? " was" : "s were"} cancelled)` : "";
      const firstFailure = settled[results.indexOf(failed[0]!)] as PromiseRejectedResult;
      throw ApplicationFailure.create({
        message:
          `${this.name}: ${failed.length} of ${results.length} branches failed${others}; first: ${failed[0]?.name}: ${withoutFinalStop(failed[0]?.error ?? "")}. ` +
          "Set failurePolicy to 'collect' to merge the successful results anyway.",
        type: FailureType.parallelBranchFailed,
        nonRetryable: true,
        ...(firstFailure.reason instanceof Error ? { cause: firstFailure.reason } : {}),
      });
    }
    return results;
  }

  async run(input: string | Message[]): Promise<ParallelResult> {
    const results = await this.fanOut(input);
    const fanIn = this.options.fanIn;
    const text = inputText(input);
    if (fanIn === undefined) return { text: defaultFanIn(results), results };
    if (typeof fanIn === "function") return { text: await fanIn(results, text), results };
    return { text: await fanIn.generateStr(fanInPrompt(text, results), participantOptions), results };
  }

  protected async respond(input: string | Message[]): Promise<string> {
    return (await this.run(input)).text;
  }

  /** The answer, with the failed branches or items when some failed under `collect`: a batch's report, and what to run again. */
  override async answer(input: string | Message[]): Promise<{ text: string } & PatternEnding> {
    const { text, results } = await this.run(input);
    const failed = results.flatMap((result, index) => (result.ok ? [] : [{ index: index + 1, name: result.name, error: result.error ?? "" }]));
    if (failed.length === 0) return { text };
    // Inputs while they stay small: a result must fit in one payload beside the answer.
    const inputs = results.filter((result) => !result.ok).reduce((bytes, result) => bytes + result.input.length, 0) <= maxFailedInputChars;
    return { text, parallel: { branches: results.length, failed: failed.map((entry) => (inputs ? { ...entry, input: results[entry.index - 1]!.input } : entry)) } };
  }

  override async generateStructured<T>(input: string | Message[], schema: z.ZodType<T>, options: StructuredOptions = {}): Promise<T> {
    const fanIn = this.options.fanIn;
    if (fanIn === undefined || typeof fanIn === "function") return super.generateStructured(input, schema, options);
    const results = await this.fanOut(input);
    return fanIn.generateStructured(fanInPrompt(inputText(input), results), schema, { ...options, ...participantOptions });
  }
}

const maxFailedInputChars = 256 * 1024;

/** An item's `field`, when the item is a JSON object that has it as text or a number. */
export function itemField(field: string): (item: string) => string | undefined {
  return (item) => {
    try {
      const value: unknown = (JSON.parse(item) as Record<string, unknown> | null)?.[field];
      return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
    } catch {
      return undefined;
    }
  };
}

function splitItems(input: string): string[] {
  try {
    const parsed: unknown = JSON.parse(input);
    if (Array.isArray(parsed)) return parsed.map((item) => (typeof item === "string" ? item : JSON.stringify(item)));
  } catch {
    // Not JSON: one item per line.
  }
  return input
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

function defaultFanIn(results: BranchResult[]): string {
  return results.map((result) => `## ${result.name}\n${result.ok ? result.text : `(failed: ${result.error})`}`).join("\n\n");
}

function fanInPrompt(input: string, results: BranchResult[]): string {
  const blocks = results.map((result) =>
    result.ok
      ? `<result name="${result.name}">\n${result.text}\n</result>`
      : `<result name="${result.name}" failed="true">\n${result.error}\n</result>`,
  );
  return `Task: ${input}\n\nResults from ${results.length} parallel branches:\n${blocks.join("\n")}\n\nCombine them into one answer.`;
}

/** A sentence without its full stop, for one that follows it. */
function withoutFinalStop(text: string): string {
  return text.endsWith(".") ? text.slice(0, -1) : text;
}

/** A branch's failure, less the agent's name it starts with when the branch is that agent: the branch is named beside it. */
function withoutName(error: string, name: string): string {
  return error.startsWith(`${name}: `) ? error.slice(name.length + 2) : error;
}
