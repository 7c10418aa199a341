/**
 * The limit for the Temporal engine: a plain Temporal workflow that runs as many no-op activities,
 * one after another, as a duragent run has model and tool calls. Whatever duragent adds beyond
 * these round trips is its own cost.
 */
import { proxyActivities } from "@temporalio/workflow";

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: "1 minute" });

export async function emptyActivities(count: number): Promise<number> {
  for (let index = 0; index < count; index++) await noop();
  return count;
}
