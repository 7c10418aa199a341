/**
 * The Temporal engine's limits: plain Temporal workflows, as a user writes them without duragent.
 * `emptyActivities` runs as many no-op activities, one after another, as a duragent run has model
 * and tool calls, so whatever a run costs beyond these round trips is the calls' and duragent's.
 * `handWritten` runs the bench's agent loop with activities that make the same calls through the
 * SDKs, so whatever a run costs beyond it is duragent's alone.
 */
import { proxyActivities } from "@temporalio/workflow";
import { handWrittenLoop, type Calls } from "./hand-written-loop.js";

const { noop, model, tool } = proxyActivities<{ noop(): Promise<void> } & Calls>({ startToCloseTimeout: "1 minute" });

export async function emptyActivities(count: number): Promise<number> {
  for (let index = 0; index < count; index++) await noop();
  return count;
}

export async function handWritten(): Promise<string | null> {
  return handWrittenLoop({ model, tool });
}
