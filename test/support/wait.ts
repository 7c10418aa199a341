/** Polling for tests: a value to appear, or a run to reach a phase. */
import assert from "node:assert/strict";
import type { RunPhase, RunStatus } from "../../src/common/run-status.js";
import type { RunHandle } from "../../src/client/engine.js";

export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function waitForPhase(handle: RunHandle, phase: RunPhase, timeoutMs = 20_000): Promise<RunStatus> {
  return waitFor(
    `phase ${phase}`,
    async () => {
      const status = await handle.status();
      return status.phase === phase ? status : undefined;
    },
    timeoutMs,
  );
}
