/**
 * Chats with a pattern: each turn the pattern is given the conversation so far. A swarm's chat
 * goes on with the agent that had the conversation and the context variables it had, across
 * continue-as-new too; the same on both engines.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { startChat } from "../src/client/chat.js";
import type { Engine } from "../src/client/engine.js";
import { findRunTarget, type RunTarget } from "../src/client/run-targets.js";
import { textOf } from "../src/common/messages.js";
import type { DuragentConfig } from "../src/config/schema.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedModelServer, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { memoryEngine, testConfig, withTemporalWorker } from "./support/runtime.js";
import { startTestTemporal } from "./support/temporal.js";

/**
 * Triage hands a refund to billing, noting the order first; billing answers with what it can see:
 * the context variables in its instruction and how many user messages the conversation has.
 * The chain's agents echo the user messages they were given.
 */
function script(call: ScriptedCall): ScriptedTurn {
  const users = call.messages.filter((message) => message.role === "user").map((message) => textOf(message.content));
  const toolResults = call.messages.filter((message) => message.role === "tool").length;
  if (call.system?.startsWith("You triage.")) {
    if (!call.tools.includes("set_context_variables")) return { text: "no swarm tools" };
    if (toolResults === 0) return { toolCalls: [{ name: "set_context_variables", arguments: { variables: { orderId: "A-1" } } }] };
    return { toolCalls: [{ name: "transfer_to_billing", arguments: {} }] };
  }
  if (call.system?.startsWith("You bill.")) {
    const context = /Shared context variables: (\{.*\})/.exec(call.system)?.[1] ?? "{}";
    return { text: `billing on ${users.at(-1)} (${users.length} user messages, context ${context})` };
  }
  if (call.system?.startsWith("You echo.")) return { text: `heard: ${users.join(" / ")}` };
  return { text: `unexpected system: ${call.system}` };
}

let model: ScriptedModelServer;
let env: TestWorkflowEnvironment;

before(async () => {
  [model, env] = await Promise.all([startScriptedModelServer(script, { quiet: true }), startTestTemporal()]);
});

after(async () => {
  await model?.close();
  await env?.teardown();
});

function config(): DuragentConfig {
  return testConfig(model, {
    agents: {
      triage: { instruction: "You triage.", description: "Sends each request to the right desk." },
      billing: { instruction: "You bill.", description: "Refunds and invoices." },
      echo: { instruction: "You echo." },
    },
    workflows: {
      desk: { pattern: "swarm", agents: ["triage", "billing"] },
      relay: { pattern: "chain", steps: ["echo"] },
    },
  });
}

async function swarmChat(engine: Engine, desk: RunTarget): Promise<void> {
  if (desk.kind !== "pattern") throw new Error("desk is a pattern");
  // One turn a run: the second turn is taken by the next run, from what the first handed over.
  const chat = await startChat(engine, desk, { turnsPerRun: 1 });
  assert.equal((await chat.send("I want a refund")).text, 'billing on I want a refund (1 user messages, context {"orderId":"A-1"})');
  const seen = model.requests.length;
  // Billing has the conversation now: triage is not asked again, and the order is still known.
  assert.equal((await chat.send("thanks, how long?")).text, 'billing on thanks, how long? (2 user messages, context {"orderId":"A-1"})');
  assert.equal(model.requests.length, seen + 1);
  const summary = await chat.end();
  assert.deepEqual([summary.turns, summary.runs], [2, 3]);
  assert.ok(Object.values(summary.usage).some((usage) => usage.inputTokens > 0), JSON.stringify(summary.usage));
}

describe("a chat with a pattern", () => {
  test("a swarm goes on with the agent that has the conversation, and its context variables, across runs, on both engines", async () => {
    const loaded = config();
    const desk = await findRunTarget(loaded, "desk");
    const engine = memoryEngine(loaded);
    try {
      await swarmChat(engine, desk);
    } finally {
      await engine.close();
    }
    await withTemporalWorker(env, loaded, (temporal) => swarmChat(temporal, desk));
  });

  test("another pattern is given the whole conversation each turn", async () => {
    const loaded = config();
    const engine = memoryEngine(loaded);
    try {
      const relay = await findRunTarget(loaded, "relay");
      if (relay.kind !== "pattern") throw new Error("relay is a pattern");
      const chat = await startChat(engine, relay);
      assert.equal((await chat.send("one")).text, "heard: one");
      assert.equal((await chat.send("two")).text, "heard: one / two");
      assert.deepEqual((await chat.end()).turns, 2);
    } finally {
      await engine.close();
    }
  });
});
