/**
 * A duragent workflow is a function of an executor and an input. `defineWorkflow` wraps it so
 * that Temporal can run it as a workflow (it builds a TemporalExecutor from the run input) while
 * the memory engine calls `body` with its own executor.
 */
import { inWorkflowContext, isCancellation } from "@temporalio/workflow";
import type { z } from "zod";
import type { RunSettings } from "../common/run-settings.js";
import type { BaseExecutor } from "./executor/base-executor.js";
import { isContinueAsNew } from "./executor/continue-as-new.js";
import type { Executor } from "./executor/executor.js";
import { TemporalExecutor } from "./executor/temporal-executor.js";
import { fromWorkerConfig, holdEarlyMessages, isRunInput } from "./started-elsewhere.js";
import { ApplicationFailure } from "@temporalio/common";
import { FailureType } from "../common/failures.js";

/** What a Temporal run of any duragent workflow receives. */
export interface WorkflowRunInput<I> {
  input: I;
  settings: RunSettings;
  /** Started with nobody watching (`execute`): model calls stream once someone reads the status. */
  unwatched?: boolean;
}

export type WorkflowBody<I, O> = (ctx: Executor, input: I) => Promise<O>;

export interface DuragentWorkflow<I = unknown, O = unknown> {
  (run: WorkflowRunInput<I>): Promise<O>;
  readonly body: WorkflowBody<I, O>;
  /** Validates the input at the client, before a run starts. */
  readonly inputSchema?: z.ZodType<I>;
  readonly isDuragentWorkflow: true;
  /**
   * Which module defined it, and its place among that module's definitions (`path#n`), outside
   * Temporal's sandbox: how a client tells which export a program's workflow object is when
   * duragent loaded the module apart from the program (its own TypeScript loader, a test
   * runner's transform), so the objects differ.
   */
  readonly definedAt?: string;
}

export function defineWorkflow<I, O>(
  body: WorkflowBody<I, O>,
  options: { input?: z.ZodType<I> } = {},
): DuragentWorkflow<I, O> {
  const temporalEntry = async (argument: WorkflowRunInput<I>): Promise<O> => {
    if (isRunInput(argument)) return runToEnd(new TemporalExecutor(argument.settings, { unwatched: argument.unwatched === true }), body, argument.input);
    // Started without duragent's client: the worker's config gives what the client would have sent.
    const early = holdEarlyMessages();
    let run: WorkflowRunInput<I>;
    try {
      run = (await fromWorkerConfig(argument)) as WorkflowRunInput<I>;
    } catch (error) {
      early.release(() => {
        throw ApplicationFailure.nonRetryable("The run did not start: its input does not fit (see how the run failed).", FailureType.invalidRunInput);
      });
      throw error;
    }
    const executor = new TemporalExecutor(run.settings, { unwatched: true });
    // The body sets its handlers as it begins, before its first await: the early updates then find them.
    const ending = runToEnd(executor, body, run.input);
    early.release((name, value) => executor.deliverEarlyUpdate(name, value));
    return ending;
  };
  const definedAt = inWorkflowContext() ? undefined : definitionSite();
  return Object.assign(temporalEntry, {
    body,
    inputSchema: options.input,
    isDuragentWorkflow: true as const,
    ...(definedAt !== undefined ? { definedAt } : {}),
  });
}

/** Where in each module, as its URL is loaded (query and all), workflows have been defined, in order. */
const definedIn = new Map<string, string[]>();

/**
 * Which module defined the workflow, and the place of its definition among that module's
 * (`path#n`): the same for every instance of one module however it was loaded (tsx, a test
 * runner's transform), since each runs the module's top-level code in the same order. Lines
 * alone would not do: only some loaders map the stack to the source. A place seen before is
 * another instance of the module defining the same workflow again.
 */
function definitionSite(): string | undefined {
  // This function's frame, then defineWorkflow's, then its caller's.
  const frame = new Error().stack?.split("\n")[3]?.trim();
  // `at fn (where:line:column)` or `at where:line:column`; a path may hold spaces.
  const site = frame && (/\((.+):(\d+:\d+)\)$/.exec(frame) ?? /^at (?:async )?(.+):(\d+:\d+)$/.exec(frame));
  if (!site) return undefined;
  const loaded = site[1]!;
  const position = site[2]!;
  const places = definedIn.get(loaded) ?? [];
  definedIn.set(loaded, places);
  let place = places.indexOf(position);
  if (place < 0) place = places.push(position) - 1;
  let path = loaded.replace(/\?.*$/, "");
  if (path.startsWith("file://")) {
    try {
      path = decodeURIComponent(path.slice("file://".length));
    } catch {
      return undefined;
    }
  }
  return `${path.replace(/\\/g, "/").replace(/^\/([A-Za-z]:)/, "$1")}#${place + 1}`;
}

export function isDuragentWorkflow(value: unknown): value is DuragentWorkflow {
  return typeof value === "function" && (value as Partial<DuragentWorkflow>).isDuragentWorkflow === true;
}

/** Runs a body on an executor and records how it ended, so the status query tells the truth. */
export async function runToEnd<I, O>(ctx: BaseExecutor, body: WorkflowBody<I, O>, input: I): Promise<O> {
  try {
    const output = await body(ctx, input);
    ctx.control.finish("completed");
    return output;
  } catch (error) {
    // Continuing as new is how a long run goes on, not a failure; the next run reports its own state.
    if (isContinueAsNew(error)) throw error;
    ctx.control.recordError(error);
    ctx.control.finish(isCancellation(error) ? "cancelled" : "failed");
    const telling = ctx.endedShort(error);
    if (telling) await telling;
    throw error;
  }
}
