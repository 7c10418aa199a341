/** The limit for the scale benchmark: a plain Temporal workflow that runs one no-op activity and waits for a signal. */
import { condition, defineSignal, proxyActivities, setHandler } from "@temporalio/workflow";

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: "1 minute" });
export const go = defineSignal<[string]>("go");

export async function plainWaiting(): Promise<string> {
  let answer: string | undefined;
  setHandler(go, (value) => void (answer = value));
  await noop();
  await condition(() => answer !== undefined);
  return answer!;
}
