/**
 * How `run` and `watch` follow a run on the terminal, against a run handle that reports what a
 * test tells it to (the engines' own statuses are tested with the engines).
 * Run: node --import tsx --test test/follow-run.test.ts
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { followRun } from "../src/cli/follow-run.js";
import type { RunHandle } from "../src/client/engine.js";
import type { RunStatus } from "../src/common/run-status.js";

test("a status notice is printed again only when it says something new, not each time its 'last seen' age grows", async () => {
  const notice = (who: string, seconds: number) =>
    `${who} polled task queue 'q' (last seen ${seconds} s ago), but none answered within 3 s: busy, stopped since, or without this run's workflow`;
  const partials = [notice("a worker", 3), notice("a worker", 6), notice("a worker", 9), notice("2 workers", 12), notice("2 workers", 15)];
  let reads = 0;
  let finish!: (value: unknown) => void;
  const result = new Promise((resolve) => (finish = resolve));
  const handle = {
    runId: "r-1",
    result: () => result,
    status: async (): Promise<RunStatus> => {
      const partial = partials[Math.min(reads, partials.length - 1)]!;
      // The run ends once every notice has been read, and is read once more after.
      if (++reads === partials.length) finish("done");
      return { runId: "r-1", phase: "running", stepCount: 0, pending: [], usage: {}, partial };
    },
  } as unknown as RunHandle;
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    assert.equal(await followRun(handle, { interactive: false, verbose: true, pollMs: 1 }), "done");
  } finally {
    process.stderr.write = write;
  }
  const shown = written.join("").split("\n").filter((line) => line.includes("polled task queue"));
  assert.deepEqual(shown, [`  (${notice("a worker", 3)})`, `  (${notice("2 workers", 12)})`]);
});
