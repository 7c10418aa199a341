/**
 * A parent's status with its child runs' work folded in (`withChildren`), as watchers read it.
 * Run: node --import tsx --test test/child-runs.test.ts
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { withChildren } from "../src/common/child-runs.js";
import { progressText, type RunStatus } from "../src/common/run-status.js";
import { statusText } from "../src/cli/status-text.js";

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

test("a parent's status tells its child runs in flight from the last few that ended", async () => {
  const parent = running("fan-1", { children: ["fan-1/b1-1", "fan-1/b2-1"] });
  const children: Record<string, RunStatus> = {
    "fan-1/b1-1": running("fan-1/b1-1", { phase: "completed", stepCount: 1, recentSteps: ["llm openai:m"] }),
    "fan-1/b2-1": running("fan-1/b2-1", { phase: "waiting_input", stepCount: 1, recentSteps: ["llm openai:m"], pending: [{ kind: "input", id: "input-1", prompt: "Which colour?" }] }),
  };
  const merged = await withChildren(parent, async (id) => children[id]);
  assert.deepEqual(merged.childSteps, [
    { run: "b1-1", stepCount: 1, recentSteps: ["llm openai:m"], ended: "completed" },
    { run: "b2-1", stepCount: 1, recentSteps: ["llm openai:m"] },
  ]);
  const text = statusText(merged);
  assert.match(text, /^ {2}\[b1-1\] completed after step 1: llm openai:m$/m);
  assert.match(text, /^ {2}\[b2-1\] step 1: llm openai:m$/m);
});

test("a running parent shows its waiting child's question and waits with it; a parent that has ended shows none, whatever its child still shows", async () => {
  const child = running("fan-1/b1-1", { phase: "waiting_input", pending: [{ kind: "input", id: "input-1", prompt: "Which colour?" }] });
  const parent = (phase: RunStatus["phase"]) => running("fan-1", { phase, children: ["fan-1/b1-1"] });
  const open = await withChildren(parent("running"), async () => child);
  assert.deepEqual(open.pending.map((request) => request.id), ["b1-1/input-1"]);
  assert.equal(open.phase, "waiting_input");
  for (const phase of ["terminated", "cancelled"] as const) {
    const merged = await withChildren(parent(phase), async () => child);
    assert.deepEqual(merged.pending, []);
    assert.equal(merged.phase, phase);
  }
});
