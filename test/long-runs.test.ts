/**
 * A tool loop longer than one history holds: on a Temporal server of its own whose suggestion to
 * continue as new comes after a few events (Temporal's defaults are 4,096 events or 4 MB), an agent
 * run continues as new between turns when Temporal suggests it, and still gives the answer.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TestWorkflowEnvironment } from "@temporalio/testing";
import type { RunTarget } from "../src/client/run-targets.js";
import { duragentSearchAttributes } from "../src/common/search-attributes.js";
import { devServerDynamicConfigArgs } from "../src/temporal/dev-server.js";
import { findTemporalCli } from "../src/temporal/temporal-cli.js";
import { runChainStats } from "../src/testing/index.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { installRuntimeLogging } from "../src/worker/create-worker.js";
import { everythingServer, filesystemServer } from "./support/mcp-servers.js";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleWorkflows, testConfig, withTemporalWorker } from "./support/runtime.js";
import { callTools } from "./fixtures/mcp-workflows.js";
import type { DuragentWorkflow } from "../src/workflows/index.js";
import { fileURLToPath } from "node:url";

const fixtures = fileURLToPath(new URL("./fixtures/mcp-workflows.ts", import.meta.url));

const suggestAfterEvents = 40;

describe("an agent run longer than Temporal suggests a history be", () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    installRuntimeLogging();
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: "existing-path", path: findTemporalCli({ install: true }) },
        ip: "127.0.0.1",
        searchAttributes: duragentSearchAttributes,
        extraArgs: ["--headless", "--log-level", "error", ...devServerDynamicConfigArgs(), "--dynamic-config-value", `limit.historyCount.suggestContinueAsNew=${suggestAfterEvents}`],
      },
    });
  });
  after(async () => {
    await env?.teardown();
  });

  test("a run whose history holds a few big tool results reads whole: the client takes pages over grpc-js's 4 MB, and runChainStats reads in small pages", async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-long-")));
    // Nine results under the 512 KB a worker warns of, over 4 MB together.
    const paths = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => join(dir, `part-${n}.txt`));
    paths.forEach((path, index) => writeFileSync(path, String(index + 1).repeat(480_000)));
    // Workflow code's own calls: an agent run would continue as new past Temporal's 4 MiB suggestion.
    const target: RunTarget = { kind: "workflow", name: "callTools", workflow: callTools as unknown as DuragentWorkflow };
    const model = await startScriptedModelServer([], { quiet: true });
    try {
      const config = testConfig(model, { mcp: { servers: { fs: filesystemServer(dir) } }, execution: { maxToolResultBytes: 500_000 } });
      await withTemporalWorker(env, config, async (engine) => {
        const handle = await engine.start(target, { server: "fs", tool: "read_text_file", arguments: paths.map((path) => ({ path })) });
        assert.deepEqual(await handle.result(), paths.map(() => 480_000));
        // One page of the whole history is over 4 MB: duragent's client takes it.
        const history = await engine.client.workflow.getHandle(handle.runId).fetchHistory();
        const sizes = (history.events ?? []).map((event) => event.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data?.length ?? 0);
        assert.ok(sizes.reduce((sum, size) => sum + size, 0) > 4 * 1024 * 1024, `${sizes.join(", ")}`);
        // The environment's own client keeps grpc-js's 4 MB: runChainStats reads in pages under it.
        const [stats] = await runChainStats(env.client, handle.runId);
        assert.ok(stats!.payloadBytes > 4 * 1024 * 1024, `${stats!.payloadBytes} bytes of payloads`);
      }, { workflowBundle: await bundleWorkflows([fixtures]) });
    } finally {
      await model.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("continues as new between two turns once Temporal suggests it, each run's history kept near the suggestion, and answers", async () => {
    const adds = 12;
    const script = (call: ScriptedCall): ScriptedTurn => {
      const sums = call.messages.filter((message) => message.role === "tool").length;
      return sums < adds ? { toolCalls: [{ name: "everything_get-sum", arguments: { a: sums, b: 1 } }] } : { text: `added ${sums} times` };
    };
    const adder: RunTarget = { kind: "agent", name: "adder", agent: { name: "adder", instruction: "Add many times.", servers: ["everything"] } };
    const model = await startScriptedModelServer(script);
    try {
      const config = testConfig(model, { mcp: { servers: { everything: everythingServer() } }, execution: { maxIterations: 50 } });
      await withTemporalWorker(env, config, async (engine) => {
        const handle = await engine.start(adder, "Add twelve times.");
        const result = (await handle.result()) as { text: string; messages: unknown[] };
        assert.equal(result.text, `added ${adds} times`);
        // Every request carried the whole task so far; no turn was repeated or lost at a hand-over.
        assert.deepEqual(model.requests.map((request) => (request.body as { messages: { role: string }[] }).messages.filter((message) => message.role === "tool").length), [...Array(adds + 1).keys()]);
        const runs = await runChainStats(env.client, handle.runId);
        assert.ok(runs.length >= 2, `one run of ${runs[0]?.events} events`);
        // A run hands over at the first turn's end after the suggestion: a turn's events past it at most.
        for (const run of runs) assert.ok(run.events <= suggestAfterEvents + 15, `a run of ${run.events} events`);
        assert.equal(result.messages.length, 1 + 2 * adds + 1);
      });
    } finally {
      await model.close();
    }
  });
});
