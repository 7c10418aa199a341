/**
 * A duragent workflow is a function of an executor and an input. `defineWorkflow` wraps it so
 * that Temporal can run it as a workflow (it builds a TemporalExecutor from the run input) while
 * the memory engine calls `body` with its own executor.
 */
import { isCancellation } from "@temporalio/workflow";
import type { z } from "zod";
import type { RunSettings } from "../common/run-settings.js";
import type { BaseExecutor } from "./executor/base-executor.js";
import { isContinueAsNew } from "./executor/continue-as-new.js";
import type { Executor } from "./executor/executor.js";
import { TemporalExecutor } from "./executor/temporal-executor.js";

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
}

export function defineWorkflow<I, O>(
  body: WorkflowBody<I, O>,
  options: { input?: z.ZodType<I> } = {},
): DuragentWorkflow<I, O> {
  const temporalEntry = async (run: WorkflowRunInput<I>): Promise<O> =>
    runToEnd(new TemporalExecutor(run.settings, { unwatched: run.unwatched === true }), body, run.input);
  return Object.assign(temporalEntry, {
    body,
    inputSchema: options.input,
    isDuragentWorkflow: true as const,
  });
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
