/**
 * How many promises a run's workflow code makes, counted while Temporal's replayer replays its
 * history. A worker pays a source-mapped stack trace for each (the SDK's hook for the stack-trace
 * query), so the count is a measure of a run's worker CPU that, unlike a time, no load can move.
 */
import { promiseHooks } from "node:v8";
import type { Worker, WorkflowBundle } from "@temporalio/worker";

type History = Parameters<typeof Worker.runReplayHistory>[1];

export async function workflowPromises(workflowBundle: WorkflowBundle, history: History, workflowId: string): Promise<number> {
  // Loaded here, not at import: the rest of duragent/testing has no need of the worker's native module.
  const { Worker } = await import("@temporalio/worker");
  let promises = 0;
  // The replayer runs the workflow on this thread; its sandbox has a Promise of its own.
  const stop = promiseHooks.onInit((promise) => {
    if (promise.constructor !== Promise) promises += 1;
  });
  try {
    await Worker.runReplayHistory({ workflowBundle }, history, workflowId);
  } finally {
    stop();
  }
  return promises;
}
