/**
 * The Web UI's "Current Details" of a run whose child runs wait for a person: what a child tells
 * its parent (its own requests and its children's, texts cut), and what the parent shows of it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { currentDetails, waitsForParent } from "../src/common/current-details.js";
import type { PendingRequest, RunStatus } from "../src/common/run-status.js";

const status = (pending: PendingRequest[] = []): RunStatus => ({ runId: "trip", phase: "running", currentStep: "child inner", stepCount: 1, pending, usage: {} });

describe("a child run's requests in its parent's details", () => {
  test("a child reports its own requests and its children's, ids prefixed as the parent's status shows them, long texts cut", () => {
    const own: PendingRequest[] = [{ kind: "input", id: "input-1", prompt: "Which city?" }];
    const nested = new Map<string, PendingRequest[]>([
      ["sw-1", [{ kind: "approval", id: "approval-1", prompt: "x".repeat(2_000), server: "fs", tool: "write_file", arguments: { content: "y".repeat(5_000) } }]],
    ]);
    const report = waitsForParent("trip/inner-1", own, nested);
    assert.equal(report.child, "trip/inner-1");
    assert.deepEqual(report.pending.map((request) => request.id), ["input-1", "sw-1/approval-1"]);
    const approval = report.pending[1]!;
    assert.ok(approval.prompt.length <= 501 && approval.prompt.endsWith("…"));
    assert.ok(approval.kind === "approval" && JSON.stringify(approval.arguments).length < 600);
  });

  test("the command to answer shows what --value takes: JSON for an object, yes or no, a number; a server's one-field form its field", () => {
    const asking = (request: Omit<Extract<PendingRequest, { kind: "input" }>, "kind" | "id" | "prompt">) => currentDetails(status([{ kind: "input", id: "input-1", prompt: "?", ...request }]));
    assert.match(asking({ schema: { type: "object", properties: { amount: { type: "number" } } } }), /--value '\{…\}' {2}\(JSON\)`/);
    assert.match(asking({ schema: { type: "boolean" } }), /--value yes\|no`/);
    assert.match(asking({ schema: { type: "integer" } }), /--value <number>`/);
    assert.match(asking({ schema: { type: "object", properties: { amount: { type: "number" } } }, origin: { server: "shop", tool: "buy", kind: "elicitation" } }), /--value <number>`/);
    assert.match(asking({}), /--value "…"`/);
  });

  test("the parent shows each child request with the command that answers it through the parent", () => {
    const one = currentDetails(status(), new Map([["inner-1", [{ kind: "input", id: "input-1", prompt: "Which city?" }]]]));
    assert.match(one, /\*\*Question\*\* in child run `inner-1`: Which city\?/);
    assert.match(one, /Answer: `duragent answer trip --value "…"`/);
    // With Temporal's tools the answer goes to the child run itself, by its own request id.
    assert.match(one, /Or with Temporal's tools: update `duragent\.input` of `trip\/inner-1` with `\{"value": …, "requestId": "input-1"\}`/);
    // With more than one request, each names its own.
    const two = currentDetails(
      status([{ kind: "input", id: "input-1", prompt: "Dates?" }]),
      new Map([["inner-1", [{ kind: "approval", id: "approval-1", prompt: "Write?", server: "fs", tool: "write_file", arguments: {} }]]]),
    );
    assert.match(two, /duragent answer trip --request input-1/);
    assert.match(two, /\*\*Approve the tool call\*\* in child run `inner-1` `fs\/write_file`: Write\?/);
    assert.match(two, /duragent approve trip --request inner-1\/approval-1/);
    assert.match(two, /Or with Temporal's tools: update `duragent\.decide` of `trip\/inner-1` with `\{"approved": true, "requestId": "approval-1"\}`/);
    assert.match(two, /Or with Temporal's tools: update `duragent\.input` with `\{"value": …, "requestId": "input-1"\}`/);
  });
});

test("a parent that has taken no step of its own names none: a fan-out whose branches are child runs waits, not 'after step 0'", () => {
  const parent: RunStatus = { runId: "fan", phase: "running", stepCount: 0, pending: [], usage: {} };
  const details = currentDetails(parent, new Map([["b1-1", [{ kind: "input", id: "input-1", prompt: "Which colour?" }]]]));
  assert.match(details, /^\*\*waiting for an answer\*\*\n\n\*\*Question\*\* in child run `b1-1`: Which colour\?/);
  assert.equal(currentDetails({ ...parent, stepCount: 2, currentStep: "llm openai:m" }), "**running** · step 2: `llm openai:m`");
});
