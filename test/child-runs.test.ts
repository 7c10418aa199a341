/**
 * A parent's status with its child runs' work folded in (`withChildren`), as watchers read it.
 * Run: node --import tsx --test test/child-runs.test.ts
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { withChildren } from "../src/common/child-runs.js";
import { progressText, type RunStatus } from "../src/common/run-status.js";

const running = (runId: string, more: Partial<RunStatus> = {}): RunStatus => ({ runId, phase: "running", stepCount: 0, pending: [], usage: {}, ...more });

test("a child run's tools' progress shows in its parent's status, its call ids prefixed by the child's id within the parent", async () => {
  const parent = running("trip-1", {
    children: ["trip-1/north-1"],
    progress: [{ callId: "call-1", step: "tool fs/copy", progress: 1, total: 2 }],
  });
  const child = running("trip-1/north-1", {
    stepCount: 2,
    currentStep: "tool everything/trigger-long-running-operation",
    progress: [{ callId: "call-2", step: "tool everything/trigger-long-running-operation", progress: 3, total: 5, message: "Step 3 of 5" }],
  });
  const merged = await withChildren(parent, async (id) => (id === child.runId ? child : undefined));
  assert.deepEqual(merged.progress, [
    { callId: "call-1", step: "tool fs/copy", progress: 1, total: 2 },
    { callId: "north-1/call-2", step: "tool everything/trigger-long-running-operation", progress: 3, total: 5, message: "Step 3 of 5" },
  ]);
  // A parent without progress of its own or its children's has none.
  assert.equal((await withChildren(running("trip-2", { children: ["trip-2/south-1"] }), async () => running("trip-2/south-1"))).progress, undefined);
});

test("a server's progress message is shown on one line, without control characters, and cut when long", () => {
  assert.equal(progressText({ callId: "c", step: "tool s/t", progress: 2, total: 5, message: "copying\n\u001b[31mred\u001b[0m\tfile" }), "2/5, copying [31mred [0m file");
  assert.equal(progressText({ callId: "c", step: "tool s/t", progress: 7 }), "7");
  const long = progressText({ callId: "c", step: "tool s/t", progress: 1, message: "x".repeat(500) });
  assert.equal(long, `1, ${"x".repeat(99)}…`);
});
