/** What `run`, `result` and `watch` say on stderr beside an answer whose text leaves something out. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { resultNote, resultText } from "../src/cli/command-output.js";
import { failedToolCallError, toolError } from "../src/common/tools.js";
import { startScriptedModelServer } from "../src/testing/scripted-model-server.js";
import type { AgentRunResult } from "../src/workflows/builtin-workflows.js";
import { memoryEngine, testConfig } from "./support/runtime.js";
import { patternWorkflow } from "../src/workflows/builtin-workflows.js";
import type { DuragentWorkflow } from "../src/workflows/index.js";
import type { PatternRunResult } from "../src/workflows/patterns/child-pattern.js";

test("a result's note: a pattern that fell short, in the right number; fields besides the text; nothing for an agent's answer", () => {
  const evaluation = { stopReason: "max-refinements", attempts: 1, bestRating: "poor", minRating: "good" };
  assert.equal(resultNote({ text: "t", evaluation }), "no answer reached the rating 'good' in 1 attempt; this is the best, rated 'poor'.");
  assert.equal(resultNote({ text: "t", evaluation: { ...evaluation, stopReason: "rating-reached" } }), undefined);
  assert.match(resultNote({ text: "t", orchestration: { iterations: 1, complete: false } }) ?? "", /cap of 1 iteration before/);
  assert.equal(resultNote({ text: "t", choices: [1], stop: "x" }), "the result also has choices, stop: add --json to see them.");
  assert.equal(resultNote({ text: "t", messages: [], usage: {} }), undefined);
  assert.equal(resultNote("plain text"), undefined);
});

test("a result whose text is not a string is printed whole as JSON, with no note of fields left out", () => {
  const result = { text: { uri: "mine://a", mimeType: "text/plain" }, list: [1], blob: "AAAA" };
  assert.equal(resultText(result), JSON.stringify(result, null, 2));
  assert.equal(resultNote(result), undefined);
  // A string text is the answer, and the fields beside it are named.
  assert.equal(resultText({ text: "the answer", list: [1] }), "the answer");
  assert.equal(resultNote({ text: "the answer", list: [1] }), "the result also has list: add --json to see it.");
});

test("tool calls that failed for good are noted, each tool once, after any other note; a tool's own error is not", () => {
  const toolMessage = (id: string, toolName: string, result: { content: unknown[]; isError: boolean }) => ({ role: "tool", toolCallId: id, toolName, ...result });
  const crashed = toolMessage("1", "fs_read", failedToolCallError("fs_read", "MCP server 'fs' exited (code 1) during tools/call read."));
  const refused = toolMessage("2", "fs_read", toolError("ENOENT: no such file"));
  assert.equal(resultNote({ text: "t", messages: [refused], usage: {} }), undefined);
  // The wording of another tool's failure is not this tool's.
  assert.equal(resultNote({ text: "t", messages: [{ ...crashed, toolName: "fs_write" }], usage: {} }), undefined);
  assert.equal(resultNote({ text: "t", messages: [refused, crashed], usage: {} }), "the call to 'fs_read' failed for good, and the model answered without its result: MCP server 'fs' exited (code 1) during tools/call read.");
  const hung = toolMessage("3", "web_get", failedToolCallError("web_get", "The step 'tool web/get' timed out."));
  assert.equal(
    resultNote({ text: "t", messages: [crashed, hung, crashed], usage: {}, stopReason: "max_tokens" }),
    "the model's answer was cut off at its output token limit (the provider's finish reason said so): this text is incomplete. Ask for a shorter answer, or give generate() a higher maxTokens in workflow code." +
      " Also, 3 tool calls ('fs_read', 'web_get') failed for good, and the model answered without their results; the first: MCP server 'fs' exited (code 1) during tools/call read.",
  );
});

test("an answer the provider cut off, stopped or left empty is noted, not passed off as whole", () => {
  assert.match(resultNote({ text: "The answer is cut off in the mid", messages: [], usage: {}, stopReason: "max_tokens" }) ?? "", /^the model's answer was cut off at its output token limit .*this text is incomplete/);
  assert.match(resultNote({ text: "I can't", messages: [], usage: {}, stopReason: "content_filter" }) ?? "", /^the provider stopped the model's answer/);
  assert.equal(resultNote({ text: "", messages: [], usage: {} }), "the model's answer was empty: it ended its turn with no text and no tool call.");
  // The twentieth user test's: the last turn's tool calls ran and no turn was left (a model that
  // ignored tool_choice "none"), which is not a turn ended with no tool call.
  const stillCalling = { text: "", messages: [{ role: "assistant", content: "", toolCalls: [{ id: "c", name: "t", arguments: "{}" }] }, { role: "tool", toolCallId: "c", toolName: "t", content: [] }], usage: {} };
  assert.match(resultNote(stillCalling) ?? "", /^the agent reached its turn limit \(maxIterations\) with the model still calling tools, so there is no answer/);
  assert.equal(resultNote({ text: "Partial", messages: [], usage: {}, stopReason: "max_iterations" }), resultNote(stillCalling));
  // A workflow's own result with an empty text is its business.
  assert.equal(resultNote({ text: "" }), undefined);
});

test("an agent run's result says why its final answer stopped when the provider cut it off, on the real loop and SDK", async () => {
  for (const [stopReason, expected] of [["max_tokens", "max_tokens"], ["content_filter", "content_filter"], ["end", undefined]] as const) {
    const model = await startScriptedModelServer(() => ({ text: "The answer is cut off in the mid", stopReason }), { quiet: true });
    const engine = memoryEngine(testConfig(model));
    try {
      const handle = await engine.start({ kind: "agent", name: "writer", agent: { name: "writer", instruction: "Write." } }, "Write a long essay.");
      const result = (await handle.result()) as AgentRunResult;
      assert.equal(result.text, "The answer is cut off in the mid");
      assert.equal(result.stopReason, expected, `the provider said ${stopReason}`);
      assert.equal(resultNote(result) === undefined, expected === undefined);
    } finally {
      await engine.close();
      await model.close();
    }
  }
});

test("a swarm stopped by its handoff cap or its done condition says so, not an empty answer passed off as one", async () => {
  // Two agents that only ever hand the conversation to each other.
  const model = await startScriptedModelServer((call) => ({ toolCalls: [{ name: call.tools.find((tool) => tool.startsWith("transfer_to_"))!, arguments: { reason: "yours" } }] }), { quiet: true });
  const engine = memoryEngine(testConfig(model));
  try {
    const spec = { pattern: "swarm" as const, name: "loop", agents: [{ name: "ping", instruction: "Ping." }, { name: "pong", instruction: "Pong." }], maxHandoffs: 3 };
    const handle = await engine.start({ kind: "pattern", name: "loop", spec, workflow: patternWorkflow as DuragentWorkflow }, "go");
    const result = (await handle.result()) as PatternRunResult;
    assert.equal(result.text, "");
    assert.deepEqual(result.swarm, { stopReason: "max-handoffs", handoffs: 3, activeAgent: "pong", contextVariables: {} });
    assert.equal(resultNote(result), "the swarm stopped at its cap of 3 handoffs (maxHandoffs) with the conversation handed to pong, before any agent answered: there is no answer.");
  } finally {
    await engine.close();
    await model.close();
  }
  const done = { stopReason: "done", handoffs: 1, activeAgent: "desk", contextVariables: { customer: "Ada" } } as const;
  assert.match(resultNote({ text: "", swarm: done }) ?? "", /^the swarm ended by its done condition after a turn with no text \(desk has the conversation\)/);
  assert.equal(resultNote({ text: "Done.", swarm: done }), undefined);
  assert.equal(resultNote({ text: "Hi", swarm: { ...done, stopReason: "answered" } }), undefined);
});

test("an agent whose model keeps calling tools to its last turn (tool_choice \"none\" ignored) ends noted as at its turn limit, on the real loop", async () => {
  const { everythingServer } = await import("./support/mcp-servers.js");
  const model = await startScriptedModelServer(() => ({ toolCalls: [{ name: "everything_echo", arguments: { message: "again" } }] }), { quiet: true });
  const engine = memoryEngine(testConfig(model, { mcp: { servers: { everything: everythingServer() } } }));
  try {
    const handle = await engine.start({ kind: "agent", name: "looper", agent: { name: "looper", instruction: "Echo.", servers: ["everything"], maxIterations: 2 } }, "Go.");
    const result = (await handle.result()) as AgentRunResult;
    assert.equal(result.text, "");
    // A program or a test tells it from an answer that is empty by the result alone.
    assert.equal(result.stopReason, "max_iterations");
    assert.equal(model.requests.length, 2);
    assert.match(resultNote(result) ?? "", /^the agent reached its turn limit \(maxIterations\)/);
  } finally {
    await engine.close();
    await model.close();
  }
});
