/**
 * Runs are findable by agent and phase in the Web UI; checked here through the Temporal CLI's
 * own `workflow list --query`, as a person would search.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { findTemporalCli } from "../src/temporal/temporal-cli.js";
import { startScriptedModelServer, type ScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { testConfig, withTemporalWorker } from "./support/runtime.js";
import { startTestTemporal } from "./support/temporal.js";
import { waitFor } from "./support/wait.js";

let env: TestWorkflowEnvironment;
let model: ScriptedModelServer;
before(async () => {
  env = await startTestTemporal();
  model = await startScriptedModelServer((call) =>
    call.messages.some((message) => message.role === "tool")
      ? { text: "thanks" }
      : { toolCalls: [{ name: "human_input", arguments: { question: "Name?" } }] },
  );
});
after(async () => {
  await model?.close();
  await env?.teardown();
});

function listRuns(query: string): string[] {
  const output = execFileSync(findTemporalCli(), ["workflow", "list", "--address", env.address, "--query", query, "--output", "json"], {
    encoding: "utf8",
  });
  const runs = (output.trim() === "" ? [] : JSON.parse(output)) as { execution: { workflowId: string } }[];
  return runs.map((run) => run.execution.workflowId);
}

/** Visibility is eventually consistent: a run shows up in a query some moments after it changed. */
async function eventually(query: string, runId: string): Promise<void> {
  await waitFor(`${runId} found by ${query}`, () => (listRuns(query).includes(runId) ? true : undefined), 15_000);
}

test("runs carry DuragentAgent and a current DuragentPhase", async () => {
  const config = testConfig(model);
  await withTemporalWorker(env, config, async (engine) => {
    const handle = await engine.start(
      { kind: "agent", name: "greeter", agent: { name: "greeter", instruction: "Greet.", humanInput: true } },
      "hello",
    );
    await eventually(`DuragentAgent = 'greeter' AND DuragentPhase = 'waiting_input'`, handle.runId);
    await handle.answer({ value: "Ada" });
    await handle.result();
    await eventually(`DuragentAgent = 'greeter' AND DuragentPhase = 'completed'`, handle.runId);
    assert.deepEqual(listRuns(`DuragentAgent = 'nobody'`), []);
  });
});
