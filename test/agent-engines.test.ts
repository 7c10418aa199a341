/**
 * The walking skeleton: one agent with two real MCP servers and a scripted model behind the real
 * OpenAI SDK gives the same answer through the same steps in memory and on a real Temporal server.
 */
import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { defaultPayloadConverter } from "@temporalio/common";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { textOf } from "../src/common/messages.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { everythingServer, filesystemServer } from "./support/mcp-servers.js";
import { builtinBundle, bundleWorkflows, memoryEngine, testConfig, withTemporalWorker } from "./support/runtime.js";
import { RunTargetNotFound, type RunTarget } from "../src/client/run-targets.js";
import { createClient } from "../src/client.js";
import { ExitCode, UserError } from "../src/errors/user-error.js";
import { defineWorkflow, type DuragentWorkflow } from "../src/workflows/index.js";
import { fileURLToPath, pathToFileURL } from "node:url";
import { summarise } from "./fixtures/usage-workflows.js";
// @ts-expect-error: a JavaScript fixture, without declarations
import { shorten as untypedShorten } from "./fixtures/js-workflows.mjs";

const usageWorkflows = fileURLToPath(new URL("./fixtures/usage-workflows.ts", import.meta.url));
const jsWorkflows = fileURLToPath(new URL("./fixtures/js-workflows.mjs", import.meta.url));
const shorten = untypedShorten as DuragentWorkflow<string, string>;
import { createLogger } from "../src/logger.js";
import { createWorker } from "../src/worker.js";
import { randomUUID } from "node:crypto";
import { startTestTemporal } from "./support/temporal.js";
import { waitFor } from "./support/wait.js";
import { MemoryEngine } from "../src/client/memory-engine.js";
import { RunNotFound, type Engine } from "../src/client/engine.js";
import { InvalidRunMessage } from "../src/common/invalid-run-message.js";
import { TemporalEngine } from "../src/client/temporal-engine.js";
import { runSettingsFromConfig } from "../src/config/load-config.js";
import { explainTemporalError } from "../src/client/temporal-errors.js";
import { Client, Connection, WorkflowNotFoundError } from "@temporalio/client";
import { connect as connectTcp, createServer as createNetServer, type AddressInfo, type Socket } from "node:net";

const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-engines-")));
after(() => rmSync(dir, { recursive: true, force: true }));
const notes = join(dir, "notes.md");
writeFileSync(notes, "Launch is on Friday. Bring snacks.\n");

const finder: RunTarget = {
  kind: "agent",
  name: "finder",
  agent: { name: "finder", instruction: "Answer from the files.", servers: ["filesystem", "everything"] },
};

/** Reads the notes and adds two numbers in one turn (two parallel tool calls), then answers from both results. */
function finderScript(call: ScriptedCall): ScriptedTurn {
  const results = call.messages.filter((message) => message.role === "tool");
  if (results.length === 0) {
    return {
      toolCalls: [
        { name: "filesystem_read_text_file", arguments: { path: notes } },
        { name: "everything_get-sum", arguments: { a: 2, b: 3 } },
      ],
    };
  }
  return { text: `Notes: ${textOf(results[0]!.content).trim()} Sum: ${textOf(results[1]!.content).trim()}` };
}

// Tool-call ids are counted per scripted server, so one server per engine keeps the bodies comparable.
async function runOn(engineName: "memory" | "temporal", env?: TestWorkflowEnvironment) {
  const model = await startScriptedModelServer(finderScript);
  const config = testConfig(model, { mcp: { servers: { filesystem: filesystemServer(dir), everything: everythingServer() } } });
  try {
    if (engineName === "memory") {
      const engine = memoryEngine(config);
      try {
        const handle = await engine.start(finder, "What do my notes say, and what is 2+3?");
        // Watched, as on Temporal, where model calls always stream (into heartbeats).
        await handle.status();
        return { result: (await handle.result()) as { text: string }, runId: handle.runId, bodies: model.requests.map((r) => r.body) };
      } finally {
        await engine.close();
      }
    }
    return await withTemporalWorker(env!, config, async (engine) => {
      const handle = await engine.start(finder, "What do my notes say, and what is 2+3?");
      return { result: (await handle.result()) as { text: string }, runId: handle.runId, bodies: model.requests.map((r) => r.body) };
    });
  } finally {
    await model.close();
  }
}

describe("one agent, two engines", () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await startTestTemporal();
  });
  after(async () => {
    await env?.teardown();
  });

  test("memory and Temporal give the same answer through the same model requests", async () => {
    const memory = await runOn("memory");
    const temporal = await runOn("temporal", env);

    assert.match(memory.result.text, /^Notes: Launch is on Friday\. Bring snacks\. Sum: .*\b5\b/);
    assert.equal(temporal.result.text, memory.result.text);
    assert.equal(memory.bodies.length, 2);
    assert.deepEqual(temporal.bodies, memory.bodies);

    // The second request carries both tool results, answered to the right call ids.
    const second = memory.bodies[1] as { messages: { role: string; tool_call_id?: string }[]; tools: { function: { name: string } }[] };
    assert.deepEqual(
      second.messages.filter((m) => m.role === "tool").map((m) => m.tool_call_id),
      ["call_1", "call_2"],
    );
    const offered = second.tools.map((tool) => tool.function.name);
    assert.ok(offered.includes("filesystem_read_text_file") && offered.includes("everything_echo"), offered.join(","));
    assert.match(temporal.runId, /^finder-[0-9a-f]{8}$/);
  });

  test("a long tool loop continues as a new run every agentTurnsPerRun turns, carrying its conversation, usage, turn count and step count, on both engines", async () => {
    // Five echoes, one a turn, then the answer: six model turns, three runs of two.
    const script = (call: ScriptedCall): ScriptedTurn => {
      const echoes = call.messages.filter((message) => message.role === "tool").length;
      const usage = { inputTokens: 100, outputTokens: 10 };
      return echoes < 5 ? { toolCalls: [{ name: "everything_echo", arguments: { message: `echo ${echoes + 1}` } }], usage } : { text: `done after ${echoes} echoes`, usage };
    };
    const echoer: RunTarget = { kind: "agent", name: "echoer", agent: { name: "echoer", instruction: "Echo five times.", servers: ["everything"] } };
    const on = async (engineName: "memory" | "temporal") => {
      const model = await startScriptedModelServer(script);
      const config = testConfig(model, { mcp: { servers: { everything: everythingServer() } }, execution: { agentTurnsPerRun: 2, maxIterations: 10 } });
      try {
        const go = async (engine: Engine) => {
          const handle = await engine.start(echoer, "Echo five times, then say so.");
          const result = (await handle.result()) as { text: string; messages: unknown[]; usage: Record<string, { inputTokens: number; outputTokens: number }> };
          return { result, runId: handle.runId, steps: (await handle.status()).stepCount, bodies: model.requests.map((request) => request.body as { messages: { role: string }[] }) };
        };
        if (engineName === "memory") {
          const engine = memoryEngine(config);
          try {
            return await go(engine);
          } finally {
            await engine.close();
          }
        }
        return await withTemporalWorker(env, config, async (engine) => {
          const outcome = await go(engine);
          // The run id names the chain: its first run ended continuing as new, twice over.
          const runs: string[] = [];
          for await (const execution of env.client.workflow.list({ query: `WorkflowId = '${outcome.runId}'` })) runs.push(execution.status.name);
          return { ...outcome, runs: runs.sort() };
        });
      } finally {
        await model.close();
      }
    };
    const memory = await on("memory");
    const temporal = await on("temporal");
    for (const outcome of [memory, temporal]) {
      assert.equal(outcome.result.text, "done after 5 echoes");
      // Every turn was paid for, across the runs.
      assert.deepEqual(Object.values(outcome.result.usage), [{ inputTokens: 600, outputTokens: 60 }]);
      // Each request carries the whole conversation: a new run's first call sees what the last run did.
      assert.deepEqual(outcome.bodies.map((body) => body.messages.filter((message) => message.role === "tool").length), [0, 1, 2, 3, 4, 5]);
      // The result's exchange is the whole task: the user's message, six turns, five results.
      assert.equal(outcome.result.messages.length, 12);
      // Steps count on across the runs: six model calls and five tool calls.
      assert.equal(outcome.steps, 11);
    }
    assert.deepEqual(temporal.bodies.map((body) => body.messages), memory.bodies.map((body) => body.messages));
    assert.deepEqual("runs" in temporal ? temporal.runs : [], ["COMPLETED", "CONTINUED_AS_NEW", "CONTINUED_AS_NEW"]);
  });

  test("two tools that would reach the model under one name fail the run at its first model call, naming both, before the model is asked", async () => {
    // Names are cut to the providers' 64 characters, so two servers that differ only after that collide.
    const [first, second] = ["a", "b"].map((suffix) => `${"s".repeat(64)}${suffix}`) as [string, string];
    const model = await startScriptedModelServer(finderScript);
    const engine = memoryEngine(testConfig(model, { mcp: { servers: { [first]: filesystemServer(dir), [second]: everythingServer() } } }));
    try {
      const handle = await engine.start({ kind: "agent", name: "clash", agent: { name: "clash", instruction: "Answer.", servers: [first, second] } }, "Hello?");
      await assert.rejects(handle.result(), (error: Error) => {
        assert.equal(error.name, "RunFailed");
        assert.match(error.message, /would both be called 's{64}'/);
        assert.match(error.message, /Rename one of the servers in mcp\.servers/);
        return true;
      });
      assert.equal(model.requests.length, 0, "the model was never asked");
    } finally {
      await engine.close();
      await model.close();
    }
  });

  test("a worker created and closed without ever running lets its connection go", async () => {
    const model = await startScriptedModelServer(finderScript);
    const base = testConfig(model, { engine: "temporal", mcp: { servers: { filesystem: filesystemServer(dir) } } });
    const config = { ...base, temporal: { ...base.temporal, address: env.address, taskQueue: `test-${randomUUID()}` } };
    try {
      const worker = await createWorker({ config, logger: createLogger("test-worker", "silent"), workflowBundle: await builtinBundle() });
      await worker.close();
      assert.equal(worker.worker.getState(), "STOPPED");
    } finally {
      await model.close();
    }
  });

  test("a client given the worker in its process starts runs on it eagerly; a client of its own does not", async () => {
    const model = await startScriptedModelServer(finderScript);
    const base = testConfig(model, { engine: "temporal", mcp: { servers: { filesystem: filesystemServer(dir), everything: everythingServer() } } });
    const config = { ...base, temporal: { ...base.temporal, address: env.address, taskQueue: `test-${randomUUID()}` } };
    const worker = await createWorker({ config, logger: createLogger("test-worker", "silent"), workflowBundle: await builtinBundle() });
    const beside = await createClient({ config, worker });
    const apart = await createClient({ config });
    try {
      await worker.worker.runUntil(async () => {
        const eager = await beside.start(finder, "What do my notes say, and what is 2+3?");
        assert.equal(eager.startedEagerly, true);
        assert.match(((await eager.result()) as { text: string }).text, /^Notes: Launch is on Friday/);
        const plain = await apart.start(finder, "What do my notes say, and what is 2+3?");
        assert.equal(plain.startedEagerly, undefined);
        assert.match(((await plain.result()) as { text: string }).text, /^Notes: Launch is on Friday/);
        // The shared connection still serves the client's other calls.
        assert.equal((await (await beside.getHandle(plain.runId)).status()).phase, "completed");
      });
    } finally {
      await beside.close();
      await apart.close();
      await worker.close();
      await model.close();
    }
  });

  test("a client sharing its worker's connection tells a run whose workflow code keeps failing, with the error, as a client of its own does", async () => {
    const model = await startScriptedModelServer(finderScript);
    const throwing = fileURLToPath(new URL("./fixtures/throwing-workflow.ts", import.meta.url));
    const base = testConfig(model, { engine: "temporal", modules: [throwing] });
    const config = { ...base, temporal: { ...base.temporal, address: env.address, taskQueue: `test-${randomUUID()}` } };
    const worker = await createWorker({ config, logger: createLogger("test-worker", "silent"), workflowBundle: await bundleWorkflows([throwing]) });
    const beside = await createClient({ config, worker });
    const apart = await createClient({ config });
    try {
      await worker.worker.runUntil(async () => {
        const handle = await beside.start("throwsAtOnce", "bug");
        for (const client of [beside, apart]) {
          const stuck = await waitFor("the failure in its status", async () => {
            const status = await (await client.getHandle(handle.runId)).status();
            return status.lastError ? status : undefined;
          }, 30_000);
          assert.equal(stuck.phase, "running");
          assert.match(stuck.lastError!, /^Error: oops: a bug in workflow code \(at .*throwing-workflow\.ts:\d+:\d+\)/);
          assert.match(stuck.partial!, /workflow code keeps failing/);
          const listed = (await client.list({ usage: true })).find((run) => run.runId === handle.runId);
          assert.equal(listed?.stuck, "its workflow code keeps failing on its workers");
        }
        await handle.terminate("test over");
      });
    } finally {
      await beside.close();
      await apart.close();
      await worker.close();
      await model.close();
    }
  });

  test("on Temporal each step is an activity with a summary for the Web UI; the first model call lists the tools, with no step or marker of its own", async () => {
    const { runId } = await runOn("temporal", env);
    const history = await env.client.workflow.getHandle(runId).fetchHistory();
    const summary = (payload: Parameters<typeof defaultPayloadConverter.fromPayload>[0] | null | undefined) =>
      payload ? defaultPayloadConverter.fromPayload<string>(payload) : undefined;
    const steps = (history.events ?? []).flatMap((event) => {
      const scheduled = event.activityTaskScheduledEventAttributes;
      return scheduled ? [`${scheduled.activityType!.name!}: ${summary(event.userMetadata?.summary)}`] : [];
    });
    assert.equal(steps[0], "callLlm: llm openai:gpt-4.1-mini (finder)");
    assert.deepEqual(steps.slice(1, 3).sort(), ["callTool: tool everything/get-sum", "callTool: tool filesystem/read_text_file"]);
    assert.equal(steps[3], "callLlm: llm openai:gpt-4.1-mini (finder)");
    assert.equal(steps.length, 4);
    // No local activity, patch marker or search-attribute upsert: the first workflow task only schedules the call.
    const events = history.events ?? [];
    const firstTask = events.slice(0, events.findIndex((event) => event.activityTaskScheduledEventAttributes));
    assert.deepEqual(firstTask.filter((event) => event.markerRecordedEventAttributes || event.upsertWorkflowSearchAttributesEventAttributes), []);
    assert.equal(events.filter((event) => event.markerRecordedEventAttributes).length, 0);
    const firstCall = (history.events ?? []).find((event) => event.activityTaskCompletedEventAttributes)!;
    const { toolLists } = defaultPayloadConverter.fromPayload<{ toolLists: { server: string }[][] }>(firstCall.activityTaskCompletedEventAttributes!.result!.payloads![0]!);
    assert.deepEqual(toolLists.map((list) => list[0]?.server), ["filesystem", "everything"]);

    // Parallel tool calls from one turn are scheduled in the same workflow task.
    const scheduled = (history.events ?? []).filter((event) => event.activityTaskScheduledEventAttributes);
    assert.equal(
      String(scheduled[1]!.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId),
      String(scheduled[2]!.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId),
    );
  });
});

describe("generated run ids", () => {
  const greeter: RunTarget = { kind: "agent", name: "greeter", agent: { name: "greeter", instruction: "Greet whoever writes.", servers: [] } };
  // The random part of a generated id is 32 bits: draw the same one twice, as a long-lived process
  // or a namespace that keeps many runs will one day do.
  const drawing = (...parts: string[]) => () => `${parts.shift() ?? randomUUID()}-0000-4000-8000-000000000000`;
  /** Ada's run takes `firstId`; Grace's, drawn the same id, gets `secondId`; each run keeps its own answer. */
  const drawnAgain = async (engine: Engine, firstId: string, secondId: string) => {
    const first = await engine.start(greeter, "Ada");
    await first.result();
    const second = await engine.start(greeter, "Grace");
    assert.equal(first.runId, firstId);
    assert.equal(second.runId, secondId);
    assert.match(((await second.result()) as { text: string }).text, /Grace/);
    assert.match(((await (await engine.getHandle(firstId)).result()) as { text: string }).text, /Ada/);
  };
  let temporal: TestWorkflowEnvironment;
  let model: Awaited<ReturnType<typeof startScriptedModelServer>>;
  before(async () => {
    temporal = await startTestTemporal();
    model = await startScriptedModelServer((call) => ({ text: `Hello, ${textOf(call.messages.at(-1)!.content)}` }));
  });
  after(async () => {
    await model?.close();
    await temporal?.teardown();
  });

  test("patched() from duragent/workflow: on the memory engine every run takes the new path; on Temporal the SDK's marker is recorded", async () => {
    const fixture = fileURLToPath(new URL("./fixtures/patched-workflow.ts", import.meta.url));
    const { guarded } = await import("./fixtures/patched-workflow.js");
    const memory = await createClient({ config: testConfig(model, { modules: [fixture] }), engine: "memory" });
    try {
      assert.equal(await memory.execute(guarded, "go"), "new path");
    } finally {
      await memory.close();
    }
    await withTemporalWorker(temporal, testConfig(model, { modules: [fixture] }), async (engine) => {
      const handle = await engine.start({ kind: "workflow", name: "guarded", workflow: guarded as DuragentWorkflow }, "go");
      assert.equal(await handle.result(), "new path");
      const events = (await engine.client.workflow.getHandle(handle.runId).fetchHistory()).events ?? [];
      const markers = events.flatMap((event) => (event.markerRecordedEventAttributes ? [event.markerRecordedEventAttributes.markerName] : []));
      assert.deepEqual(markers, ["core_patch", "core_patch"]);
    }, { workflowBundle: await bundleWorkflows([fixture]) });
  });

  test("memory engine: an id drawn again while its run is kept is drawn anew; an id the caller chose is refused", async () => {
    const config = testConfig(model);
    const engine = new MemoryEngine(config, runSettingsFromConfig(config), createLogger("test", "silent"), drawing("aaaaaaaa", "aaaaaaaa", "bbbbbbbb"));
    try {
      await drawnAgain(engine, "greeter-aaaaaaaa", "greeter-bbbbbbbb");
      await assert.rejects(engine.start(greeter, "Alan", { runId: "greeter-aaaaaaaa" }), (error: unknown) => error instanceof UserError && error.name === "RunAlreadyExists" && /A run 'greeter-aaaaaaaa' already exists in this process/.test(error.message));
    } finally {
      await engine.close();
    }
  });

  test("a client starts a workflow from defineWorkflow by the object a module exports, typed, a TypeScript module's too; one no module exports, or anything else, is a user error", async () => {
    const client = await createClient({ config: testConfig(model, { modules: [jsWorkflows, usageWorkflows] }), engine: "memory" });
    try {
      const short: string = await client.execute(shorten, "A long text.");
      assert.match(short, /^short: /);
      // A program that can import TypeScript itself shares the module's instance with duragent: its
      // top-level code runs once.
      const summary: string = await client.execute(summarise, "A long text.");
      assert.match(summary, /^summary: /);
      assert.equal((globalThis as { usageWorkflowsLoads?: number }).usageWorkflowsLoads, 1);
      // Where duragent loads it with its own loader (a program that cannot), the instances differ:
      // the object is known by its code, and its result is typed all the same.
      const { summarise: copy } = (await import(`${pathToFileURL(usageWorkflows).href}?another-instance`)) as typeof import("./fixtures/usage-workflows.js");
      assert.notEqual(copy, summarise);
      const copied: string = await client.execute(copy, "A long text.");
      assert.match(copied, /^summary: /);
      const stray = defineWorkflow<string, string>(async (_ctx, input) => input);
      await assert.rejects(client.start(stray, "x"), (error: unknown) => error instanceof UserError && /is not one that the config's modules: export.*start<Output>\("exportName", input\)/s.test(error.message));
      await assert.rejects(client.start({ name: "summarise" } as never, "x"), (error: unknown) => error instanceof UserError && /Cannot start \{"name":"summarise"\}: give a target's name/.test(error.message));
    } finally {
      await client.close();
    }
  });

  test("a workflow object from another instance of its module (a test runner's transform, a loader of its own) is the export defined at its place, even beside one with the same code", async () => {
    const twins = fileURLToPath(new URL("./fixtures/twin-workflows.ts", import.meta.url));
    const client = await createClient({ config: testConfig(model, { modules: [twins] }), engine: "memory" });
    try {
      const own = (await import(twins)) as typeof import("./fixtures/twin-workflows.js");
      const copy = (await import(`${pathToFileURL(twins).href}?another-instance`)) as typeof import("./fixtures/twin-workflows.js");
      assert.notEqual(copy.second, own.second);
      assert.equal(copy.second.body.toString(), copy.first.body.toString());
      for (const name of ["first", "second"] as const) {
        const handle = await client.start(copy[name], "x");
        assert.match(handle.runId, new RegExp(`^${name}-`));
        assert.equal(await handle.result(), "got x");
      }
    } finally {
      await client.close();
    }
  });

  test("a program's bad start options, run id or config are user errors naming what is wrong, not raw TypeErrors or silently ignored", async () => {
    const client = await createClient({ config: testConfig(model), engine: "memory" });
    const agent = { name: "echo", instruction: "Echo." };
    try {
      const refused = async (options: unknown, pattern: RegExp) =>
        assert.rejects(client.start(agent as never, "x", options as never), (error: unknown) => {
          assert.ok(error instanceof UserError, String(error));
          assert.equal(error.name, "InvalidOptions");
          assert.match(error.message, pattern);
          return true;
        });
      await refused({ tokenBudget: "abc" }, /^the start options: tokenBudget: expected a number, got a string/);
      await refused({ tokenBudget: -1 }, /^the start options: tokenBudget: expected a number >= 0, got -1/);
      await refused({ costBudget: "2.50" }, /^the start options: costBudget: expected a number, got a string/);
      await refused({ runId: "" }, /^the start options: runId: expected a non-empty string/);
      await refused({ runID: "mine" }, /runID: unknown key; did you mean 'runId'\?/);
      await assert.rejects(client.getHandle(undefined as never), (error: unknown) => error instanceof UserError && /^A run id must be a non-empty string; got undefined\./.test(error.message));
    } finally {
      await client.close();
    }
    // A config of thousands of targets is named by its first forty, and how many more.
    assert.match(new RunTargetNotFound("x", Array.from({ length: 100 }, (_, index) => `a${index}`)).message, /Known: a0, a1, .*, a39 and 60 more\./);
    await assert.rejects(createClient({ config: 42 as never }), (error: unknown) => error instanceof UserError && /^config must be a path to a duragent\.config\.yaml .*got a number\./.test(error.message));
  });

  test("memory engine: past memory.keepFinishedRuns the oldest ended run is forgotten, and a lookup of it names the settings", async () => {
    const config = testConfig(model, { memory: { keepFinishedRuns: 1 } });
    const engine = memoryEngine(config);
    try {
      const first = await engine.start(greeter, "Ada");
      await first.result();
      const second = await engine.start(greeter, "Grace");
      await second.result();
      assert.match(((await (await engine.getHandle(second.runId)).result()) as { text: string }).text, /Grace/);
      await assert.rejects(engine.getHandle(first.runId), (error: unknown) => {
        assert.ok(error instanceof RunNotFound);
        assert.match(error.message, /an ended one is kept 3600 s, at most the latest 1: memory\.keepFinishedMs, memory\.keepFinishedRuns/);
        return true;
      });
    } finally {
      await engine.close();
    }
  });

  test("Temporal: an id drawn again that a closed run holds is drawn anew, and the closed run keeps its own", { timeout: 60_000 }, async () => {
    await withTemporalWorker(temporal, testConfig(model), async (_engine, config) => {
      const engine = await TemporalEngine.connect(config, runSettingsFromConfig(config), undefined, drawing("cccccccc", "cccccccc", "dddddddd"));
      try {
        // Without the refusal, Temporal would have started Grace's run under Ada's id.
        await drawnAgain(engine, "greeter-cccccccc", "greeter-dddddddd");
      } finally {
        await engine.close();
      }
    });
  });

  test("Temporal: a run id the caller chose that an open run holds is refused as RunAlreadyExists, as on the memory engine", async () => {
    await withTemporalWorker(temporal, testConfig(model), async (_engine, config) => {
      // A queue nobody polls keeps the first run open.
      const idle = { ...config, temporal: { ...config.temporal, taskQueue: "nobody-polls-chosen-ids" } };
      const engine = await TemporalEngine.connect(idle, runSettingsFromConfig(idle));
      try {
        const first = await engine.start(greeter, "Ada", { runId: "chosen-run-id" });
        await assert.rejects(engine.start(greeter, "Grace", { runId: "chosen-run-id" }), (error: unknown) => error instanceof UserError && error.name === "RunAlreadyExists" && /^A run 'chosen-run-id' already exists open on Temporal; choose another id\.$/.test(error.message));
        await first.terminate("the test is over");
      } finally {
        await engine.close();
      }
    });
  });
  test("Temporal: a query no worker answers is NoWorker, saying why, not the server's bare deadline (the twenty-third user test's)", async () => {
    const config = testConfig(model, { engine: "temporal", temporal: { address: temporal.address, taskQueue: "nobody-polls-queries" } });
    const engine = await TemporalEngine.connect(config, runSettingsFromConfig(config));
    try {
      const run = await engine.start(greeter, "Ada");
      await assert.rejects(run.query("count"), (error: unknown) => {
        assert.ok(error instanceof UserError, String(error));
        assert.equal(error.name, "NoWorker");
        assert.equal(error.exitCode, ExitCode.unavailable);
        assert.match(error.message, new RegExp(`^No worker answered the query 'count' of run ${run.runId}: no worker polls task queue 'nobody-polls-queries'`));
        return true;
      });
      await run.terminate("the test is over");
    } finally {
      await engine.close();
    }
  });

  test("Temporal: an answer no worker takes is NoWorker after a bounded wait, saying why, rather than a wait as long as no worker serves, and events() says why nothing comes (the twenty-seventh user test's)", async () => {
    const config = testConfig(model, { engine: "temporal", temporal: { address: temporal.address, taskQueue: "nobody-polls-answers" } });
    const engine = await TemporalEngine.connect(config, runSettingsFromConfig(config));
    try {
      const run = await engine.start(greeter, "Ada");
      // A message of the wrong shape (untyped JSON from a browser) is refused before it is sent.
      await assert.rejects(run.answer({ requestId: 5 as never, value: "x" }), (error: unknown) => error instanceof InvalidRunMessage && /^the answer: requestId: expected a string/.test(error.message));
      await assert.rejects(run.decide({ approved: "yes" as never }), (error: unknown) => error instanceof InvalidRunMessage && /^the decision: approved: expected a boolean/.test(error.message));
      // Decisions and updates go the same way.
      await assert.rejects(run.answer({ requestId: "input-1", value: "x" }), (error: unknown) => {
        assert.ok(error instanceof UserError, String(error));
        assert.equal(error.name, "NoWorker");
        assert.equal(error.exitCode, ExitCode.unavailable);
        assert.match(error.message, new RegExp(`^The answer to run ${run.runId} was not taken by a worker within 20 s: no worker polls task queue 'nobody-polls-answers'`));
        assert.match(error.hint ?? "", /duragent status/);
        return true;
      });
      // A watcher is told why nothing comes, rather than left with silence.
      const events = run.events()[Symbol.asyncIterator]();
      const first = await events.next();
      assert.equal(first.value?.type, "partial");
      assert.match((first.value as { reason?: string }).reason ?? "", /no worker polls task queue 'nobody-polls-answers'/);
      await events.return?.();
      await run.terminate("the test is over");
    } finally {
      await engine.close();
    }
  });

  test("a client that finds no config file says so when a target is not found or the default Temporal cannot be reached, rather than run on defaults unseen (the twenty-seventh user test's)", async () => {
    const empty = realpathSync(mkdtempSync(join(tmpdir(), "duragent-no-config-")));
    const before = process.cwd();
    process.chdir(empty);
    const saved = process.env.DURAGENT_CONFIG;
    delete process.env.DURAGENT_CONFIG;
    try {
      const client = await createClient({ engine: "memory", logger: createLogger("test", "silent") });
      try {
        await assert.rejects(client.start("assistant", "Hello"), (error: unknown) => {
          assert.ok(error instanceof RunTargetNotFound, String(error));
          assert.match(error.hint ?? "", new RegExp(`^No duragent\\.config\\.yaml was found in ${empty.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} or above, so this client runs on the defaults \\(memory engine, Temporal at [^,]+, task queue`));
          return true;
        });
      } finally {
        await client.close();
      }
      // Nor is a Temporal the defaults name, unreachable, left unexplained.
      const savedAddress = process.env.TEMPORAL_ADDRESS;
      process.env.TEMPORAL_ADDRESS = "127.0.0.1:1";
      const remote = await createClient({ engine: "temporal", logger: createLogger("test", "silent") });
      try {
        await assert.rejects(remote.list(), (error: unknown) => {
          assert.ok(error instanceof UserError && error.name === "TemporalUnreachable", String(error));
          assert.match(error.hint ?? "", /^No duragent\.config\.yaml was found in .* so this client runs on the defaults \(temporal engine, Temporal at 127\.0\.0\.1:1,/);
          return true;
        });
      } finally {
        await remote.close();
        if (savedAddress === undefined) delete process.env.TEMPORAL_ADDRESS;
        else process.env.TEMPORAL_ADDRESS = savedAddress;
      }
    } finally {
      process.chdir(before);
      if (saved !== undefined) process.env.DURAGENT_CONFIG = saved;
      rmSync(empty, { recursive: true, force: true });
    }
  });

  test("a closed client refuses every call as ClientClosed, and so do its Temporal runs' handles and events(), rather than open another connection", async () => {
    const config = testConfig(model, { engine: "temporal", temporal: { address: temporal.address, taskQueue: "nobody-polls-closed-client" } });
    const client = await createClient({ config });
    const run = await client.start(greeter, "Ada");
    await client.close();
    const closed = (error: unknown) => error instanceof UserError && error.name === "ClientClosed" && /^This duragent client was closed \(client\.close\(\)\)/.test(error.message) && /createClient\(\)/.test(error.hint ?? "");
    await assert.rejects(run.status(), closed);
    await assert.rejects(run.answer({ value: "x" }), closed);
    await assert.rejects(run.cancel(), closed);
    await assert.rejects(run.events()[Symbol.asyncIterator]().next(), closed);
    await assert.rejects(client.start(greeter, "Grace"), closed);
    await assert.rejects(client.list(), closed);
    await assert.rejects(client.getHandle(run.runId), closed);
    // The run itself goes on: another client finds it open, and ends it.
    const other = await createClient({ config });
    try {
      const found = await other.getHandle(run.runId);
      assert.equal((await found.status({ watch: false })).phase, "running");
      await found.terminate("the test is over");
    } finally {
      await other.close();
    }
    const memory = await createClient({ config: testConfig(model), engine: "memory" });
    await memory.close();
    await assert.rejects(memory.start(greeter, "Ada"), closed);
  });

  test("a client connected before Temporal went away gets TemporalUnreachable, naming the address, from the SDK's own error", async () => {
    // A proxy stands in for the server, so that it can go away under a connected client.
    const sockets = new Set<Socket>();
    const [host, port] = temporal.address.split(":") as [string, string];
    const proxy = createNetServer((socket) => {
      const upstream = connectTcp(Number(port), host);
      for (const end of [socket, upstream]) {
        sockets.add(end);
        end.on("error", () => end.destroy());
      }
      socket.pipe(upstream).pipe(socket);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const address = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    // Without the SDK's retries, which would take some 20 s to give up.
    const connection = await Connection.connect({ address, interceptors: [] });
    try {
      const workflows = new Client({ connection }).workflow;
      await assert.rejects(workflows.getHandle("no-such-run").describe(), WorkflowNotFoundError);
      // close() waits for the open connections, which the client would keep for minutes.
      const closed = new Promise((resolve) => proxy.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
      const lost = await workflows.getHandle("no-such-run").describe().then(() => assert.fail("described with no server"), (error: unknown) => error);
      const said = explainTemporalError(lost, { ...testConfig(model).temporal, address });
      assert.ok(said, String(lost));
      assert.equal(said.name, "TemporalUnreachable");
      assert.equal(said.exitCode, ExitCode.unavailable);
      // Which the client sees first, the dropped connection or a refused new one, is a race.
      assert.match(said.message.split("\n")[0]!, new RegExp(`^Cannot reach Temporal at ${address}: (connection refused|Connection dropped)$`));
    } finally {
      await connection.close();
    }
  });
});

describe("replay testing from a user's project (duragent/testing)", () => {
  let temporal: TestWorkflowEnvironment;
  let model: Awaited<ReturnType<typeof startScriptedModelServer>>;
  before(async () => {
    temporal = await startTestTemporal();
    model = await startScriptedModelServer(() => ({ text: "short" }), { quiet: true });
  });
  after(async () => {
    await model?.close();
    await temporal?.teardown();
  });

  test("a run's saved history replays against its code, and a change of shape without patched() is caught; the Temporal CLI's JSON loads too", async () => {
    const { saveRunHistory, replayRunHistories } = await import("../src/testing/index.js");
    const { findTemporalCli } = await import("../src/temporal/temporal-cli.js");
    const { spawnSync } = await import("node:child_process");
    const original = fileURLToPath(new URL("./fixtures/usage-workflows.ts", import.meta.url));
    const changed = fileURLToPath(new URL("./fixtures/usage-workflows-changed.ts", import.meta.url));
    const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-replay-")));
    const { bundleWorkflows } = await import("./support/runtime.js");
    await withTemporalWorker(temporal, testConfig(model, { modules: [original] }), async (engine, config) => {
      const handle = await engine.start({ kind: "workflow", name: "summarise", workflow: summarise as DuragentWorkflow }, "A long text.");
      assert.equal(await handle.result(), "summary: short");
      // Into a folder not made yet, as the README's `histories/plan.json`.
      const saved = join(dir, "histories", "summarise.json");
      await saveRunHistory({ runId: handle.runId, file: saved, config });
      const cli = spawnSync(findTemporalCli(), ["workflow", "show", "--output", "json", "--workflow-id", handle.runId, "--address", config.temporal.address, "--namespace", config.temporal.namespace], { encoding: "utf8" });
      assert.equal(cli.status, 0, cli.stderr);
      const shown = join(dir, "summarise-cli.json");
      writeFileSync(shown, cli.stdout);

      const same = await replayRunHistories({ files: [saved, shown], config: { ...config, modules: [original] } });
      assert.deepEqual(same.map((outcome) => [outcome.workflowId, outcome.error?.message]), [[handle.runId, undefined], [handle.runId, undefined]]);
      const [drifted] = await replayRunHistories({ files: [saved], config: { ...config, modules: [changed] } });
      assert.equal(drifted?.error?.name, "DeterminismViolationError", String(drifted?.error));
      // In words, as `duragent replay` says it, not the SDK's debug print.
      assert.match(drifted?.reason ?? "", /^the code changed shape \(\[TMPRL1100\] Nondeterminism error: .*HistoryEvent\(id: \d+, \w+\)\)$/);
      // A replay script of its own: no SDK log lines on the console, and it ends when done.
      const script = [
        `import { replayRunHistories } from ${JSON.stringify(new URL("../src/testing/index.ts", import.meta.url).href)};`,
        `const outcomes = await replayRunHistories({ files: [${JSON.stringify(saved)}], config: ${JSON.stringify({ ...config, modules: [original] })} });`,
        `console.log(JSON.stringify(outcomes.map((outcome) => outcome.error?.name ?? "replays")));`,
      ].join("\n");
      const alone = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "--eval", script], { encoding: "utf8", timeout: 120_000 });
      assert.equal(alone.status, 0, alone.stderr);
      assert.equal(alone.stdout, '["replays"]\n');
      assert.equal(alone.stderr, "");
      // The same check from the CLI, for a CI step: each file's outcome, and an exit code that fails the step.
      const replayCli = (modules: string, files: string[]) => {
        writeFileSync(join(dir, "duragent.config.yaml"), `temporal:\n  address: ${config.temporal.address}\nmodules:\n  - ${JSON.stringify(modules)}\n`);
        return spawnSync(process.execPath, [fileURLToPath(new URL("../bin/duragent.js", import.meta.url)), "replay", ...files], { cwd: dir, encoding: "utf8", timeout: 120_000 });
      };
      const passes = replayCli(original, [saved, shown]);
      assert.equal(passes.status, 0, passes.stderr);
      assert.equal(passes.stdout, `histories/summarise.json: replays (${handle.runId})\nsummarise-cli.json: replays (${handle.runId})\nall 2 histories replay against this code\n`);
      const breaks = replayCli(changed, [saved]);
      assert.equal(breaks.status, ExitCode.usage, breaks.stderr);
      assert.match(breaks.stderr, new RegExp(`^duragent: histories/summarise\\.json: does not replay: the code changed shape \\(\\[TMPRL1100\\] Nondeterminism error: Activity machine does not handle this event: HistoryEvent\\(id: \\d+, \\w+\\)\\)\n1 of 1 history does not replay against this code\.\n.*patched\(\)`));
      assert.doesNotMatch(breaks.stderr, /Failing workflow task|\n\s+at /);
      writeFileSync(join(dir, "empty.json"), "{}");
      writeFileSync(join(dir, "junk.json"), "not json");
      const junk = replayCli(original, [join(dir, "empty.json"), join(dir, "junk.json")]);
      assert.equal(junk.status, ExitCode.usage, junk.stderr);
      assert.match(junk.stderr, /^duragent: empty\.json: does not replay: not a whole history: it does not start with a WorkflowExecutionStarted event naming its workflow id\njunk\.json: does not replay: not a saved history: Unexpected token .*\n2 of 2 histories do not replay/);
      const absent = replayCli(original, [join(dir, "absent.json")]);
      assert.equal(absent.status, ExitCode.notFound, absent.stderr);
      assert.match(absent.stderr, /No such file: .*absent\.json\.\n.*temporal workflow show/);
    }, { workflowBundle: await bundleWorkflows([original]) });
    rmSync(dir, { recursive: true, force: true });
  });
});
