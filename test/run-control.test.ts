/**
 * People steer runs: they answer questions (validated, with bad answers refused and the run
 * untouched), approve or reject tool calls, pause, resume and cancel; the status says where a run
 * stands. The same tests run on the memory engine and on a real Temporal server.
 */
import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { textOf } from "../src/common/messages.js";
import { RunControl } from "../src/workflows/executor/run-control.js";
import { RunMessages } from "../src/common/run-status.js";
import type { DuragentConfig } from "../src/config/schema.js";
import { InvalidRunMessage, RunFailed, type Engine } from "../src/client/engine.js";
import { runEvents, type RunEvent } from "../src/client/run-events.js";
import type { RunTarget } from "../src/client/run-targets.js";
import { startScriptedModelServer, type ModelScript, type ScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { bundleWorkflows } from "./support/runtime.js";
import type { DuragentWorkflow } from "../src/workflows/index.js";
import { askForBudget, restFor, tally } from "./fixtures/human-workflows.js";
import { filesystemServer } from "./support/mcp-servers.js";
import { runSettingsFromConfig } from "../src/config/load-config.js";
import { memoryEngine, testConfig, withTemporalWorker } from "./support/runtime.js";
import { startTestTemporal } from "./support/temporal.js";
import { waitFor, waitForPhase } from "./support/wait.js";

const fixtures = fileURLToPath(new URL("./fixtures/human-workflows.ts", import.meta.url));
const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-control-")));
writeFileSync(join(dir, "plan.txt"), "the plan");

const budget: RunTarget = { kind: "workflow", name: "askForBudget", workflow: askForBudget as unknown as DuragentWorkflow };
const reader = (extra: Record<string, unknown> = {}): RunTarget => ({
  kind: "agent",
  name: "reader",
  agent: { name: "reader", instruction: "Read files.", servers: ["fs"], ...extra },
});


type EngineRunner = <T>(script: ModelScript, body: (engine: Engine, model: ScriptedModelServer) => Promise<T>) => Promise<T>;

function configFor(model: ScriptedModelServer): DuragentConfig {
  return testConfig(model, {
    mcp: { servers: { fs: filesystemServer(dir) } },
    approvals: { tools: ["fs_write_*", "fs_read_text_file"] },
    modules: [fixtures],
  });
}

function engineTests(name: string, withEngine: () => EngineRunner) {
  describe(`people steer runs (${name})`, () => {
    test("workflow code's own signals, updates and queries are reached through the handle; a refused update leaves the run as it was", async () => {
      await withEngine()([], async (engine) => {
        const handle = await engine.start({ kind: "workflow", name: "tally", workflow: tally as unknown as DuragentWorkflow }, {});
        await handle.signal("add", 2);
        assert.equal(await handle.update<number>("addAndRead", 3), 5);
        await assert.rejects(handle.update("addAndRead", "four"), (error: unknown) => error instanceof InvalidRunMessage && /add a number, not "four"/.test(error.message));
        assert.equal(await handle.query<number>("count"), 5);
        await handle.signal("finish");
        assert.equal(await handle.result(), 5);
      });
    });

    test("a run asleep says what it waits for and until when, and stops saying it once awake", async () => {
      await withEngine()([], async (engine) => {
        const before = Date.now();
        const handle = await engine.start({ kind: "workflow", name: "restFor", workflow: restFor as unknown as DuragentWorkflow }, { ms: 3000 });
        const asleep = await waitFor("the timer in its status", async () => {
          const status = await handle.status();
          return status.waitingFor ? status : undefined;
        });
        assert.equal(asleep.phase, "running");
        const until = /^a timer of 3 s, until (\S+)$/.exec(asleep.waitingFor!)?.[1];
        assert.ok(until, asleep.waitingFor);
        assert.ok(Math.abs(Date.parse(until) - (before + 3000)) < 2000, `${until} is not 3 s after the start`);
        assert.equal(await handle.result(), "rested");
        assert.equal((await handle.status()).waitingFor, undefined);
      });
    });


    test("an answer is validated against the schema; a bad one is refused and the run is untouched", async () => {
      await withEngine()([], async (engine) => {
        const handle = await engine.start(budget, {});
        const waiting = await waitForPhase(handle, "waiting_input");
        assert.equal(waiting.pending.length, 1);
        const request = waiting.pending[0]!;
        assert.equal(request.kind, "input");
        assert.equal(request.prompt, "What is the budget?");
        assert.deepEqual((request as { schema?: { required?: string[] } }).schema?.required, ["amount"]);

        await assert.rejects(handle.answer({ value: { amount: -3 } }), (error: unknown) => {
          assert.ok(error instanceof InvalidRunMessage, String(error));
          assert.match(error.message, /input-1 is invalid.*amount/s);
          return true;
        });
        await assert.rejects(handle.answer({ requestId: "input-9", value: { amount: 3 } }), /No pending request 'input-9'/);
        assert.equal((await handle.status()).phase, "waiting_input");

        await handle.answer({ value: { amount: 1200 } });
        assert.deepEqual(await handle.result(), { status: "answered", value: { amount: 1200, currency: "EUR" } });
        assert.equal((await handle.status()).phase, "completed");
      });
    });

    test("fire-and-forget senders answer by signal; an invalid signalled answer is dropped", async () => {
      await withEngine()([], async (engine) => {
        const handle = await engine.start(budget, {});
        await waitForPhase(handle, "waiting_input");
        await handle.signal(RunMessages.answer, { value: { amount: "lots" } });
        // The status query is answered after the signal is handled (Temporal queries see every
        // event before them; in memory a signal is handled as it is sent), so this is the moment after.
        const after = await handle.status();
        assert.equal(after.phase, "waiting_input");
        assert.equal(after.pending[0]?.id, "input-1", "the same question is still open");
        await handle.signal(RunMessages.answer, { value: { amount: 5, currency: "USD" } });
        assert.deepEqual(await handle.result(), { status: "answered", value: { amount: 5, currency: "USD" } });
      });
    });

    test("a question that nobody answers times out with a typed result", async () => {
      await withEngine()([], async (engine) => {
        const handle = await engine.start(budget, { timeoutMs: 300 });
        assert.deepEqual(await handle.result(), { status: "timed_out" });
      });
    });

    test("gated tool calls wait for approval; rejection reaches the model and approval may edit arguments", async () => {
      const script: ModelScript = [
        { toolCalls: [{ name: "fs_read_text_file", arguments: { path: join(dir, "secret.txt") } }] },
        { toolCalls: [{ name: "fs_read_text_file", arguments: { path: join(dir, "wrong.txt") } }] },
        { text: "done" },
      ];
      await withEngine()(script, async (engine, model) => {
        const handle = await engine.start(reader(), "read");
        const seen: RunEvent[] = [];
        const watched = (async () => {
          for await (const event of handle.events()) seen.push(event);
          return seen;
        })();
        // The watcher reads the status as it polls: each request is decided once it has seen it.
        const watcherSees = (id: string) => waitFor(`the watcher to see ${id}`, () => seen.some((event) => event.type === "request" && event.request.id === id) || undefined);
        const first = await waitForPhase(handle, "waiting_approval");
        const request = first.pending[0]!;
        assert.equal(request.kind, "approval");
        assert.deepEqual(request.kind === "approval" && request.arguments, { path: join(dir, "secret.txt") });
        await assert.rejects(handle.answer({ value: "x" }), /not waiting for input/);
        await watcherSees(request.id);
        await handle.decide({ approved: false, reason: "not that file" });

        const second = await waitForPhase(handle, "waiting_approval");
        assert.notEqual(second.pending[0]!.id, request.id);
        // Edited arguments are checked against the tool's input schema; a refusal leaves the request open.
        await assert.rejects(handle.decide({ approved: true, arguments: { file: "plan.txt" } }), (error: unknown) => {
          assert.ok(error instanceof InvalidRunMessage, String(error));
          assert.match(error.message, /^The arguments for fs\/read_text_file do not fit its input schema: .*path/s);
          return true;
        });
        assert.deepEqual((await handle.status()).pending.map((pending) => pending.id), [second.pending[0]!.id]);
        await watcherSees(second.pending[0]!.id);
        await handle.decide({ approved: true, arguments: { path: join(dir, "plan.txt") } });
        assert.equal(((await handle.result()) as { text: string }).text, "done");

        const toolMessages = (model.requests[2]!.body as { messages: { role: string; content: string }[] }).messages.filter(
          (message) => message.role === "tool",
        );
        assert.match(toolMessages[0]!.content, /A person rejected this call to 'fs_read_text_file': not that file/);
        // The model, and the transcript, are told what ran in place of the model's arguments.
        const told = `A person changed the arguments before the call ran; it ran with ${JSON.stringify({ path: join(dir, "plan.txt") })}.`;
        assert.equal(toolMessages[1]!.content, `${told}\nthe plan`);
        const transcript = await handle.transcript();
        const ran = transcript.filter((message) => message.role === "tool").at(-1);
        assert.deepEqual(ran?.role === "tool" && ran.content.map((part) => part.type === "text" && part.text), [told, "the plan"]);
        // A watcher sees each request open, then settle once decided, before the run's end.
        const requests = (await watched).flatMap((event) => (event.type === "request" ? [`open ${event.request.id}`] : event.type === "settled" ? [`settled ${event.id} (${event.kind})`] : event.type === "end" ? ["end"] : []));
        assert.deepEqual(requests, [`open ${request.id}`, `settled ${request.id} (approval)`, `open ${second.pending[0]!.id}`, `settled ${second.pending[0]!.id} (approval)`, "end"]);
        // Each decision is told before the steps it let the run take.
        for (const id of [request.id, second.pending[0]!.id]) {
          const opened = seen.findIndex((event) => event.type === "request" && event.request.id === id);
          const settled = seen.findIndex((event) => event.type === "settled" && event.id === id);
          const nextStep = seen.findIndex((event, index) => index > opened && event.type === "step");
          assert.ok(nextStep === -1 || settled < nextStep, `settled at ${settled}, the next step at ${nextStep}: ${JSON.stringify(seen.map((event) => event.type))}`);
        }
      });
    });

    test("a decision of the wrong shape is refused, not read as a rejection; one sent by signal is taken (the thirtieth user test's)", async () => {
      const script: ModelScript = [{ toolCalls: [{ name: "fs_read_text_file", arguments: { path: join(dir, "plan.txt") } }] }, { text: "done" }];
      await withEngine()(script, async (engine, model) => {
        const handle = await engine.start(reader(), "read");
        const { pending } = await waitForPhase(handle, "waiting_approval");
        // As Temporal's CLI sends them: `--input '"yes"'`, a misspelt field.
        for (const payload of ["yes", { approve: true }, undefined]) {
          await assert.rejects(handle.update(RunMessages.decide, payload), (error: unknown) => error instanceof InvalidRunMessage && /^A decision is \{"approved": true \| false/.test(error.message));
        }
        await handle.signal(RunMessages.decide, { approve: true });
        const after = await handle.status();
        assert.deepEqual(after.pending.map((request) => request.id), [pending[0]!.id]);
        await handle.signal(RunMessages.decide, { approved: true });
        assert.equal(((await handle.result()) as { text: string }).text, "done");
        const told = (model.requests[1]!.body as { messages: { role: string; content: string }[] }).messages.find((message) => message.role === "tool");
        assert.equal(told?.content, "the plan");
      });
    });

    test("the model can ask a person through the human_input tool", async () => {
      const script: ModelScript = (call) => {
        const result = call.messages.findLast((message) => message.role === "tool");
        if (!result) return { toolCalls: [{ name: "human_input", arguments: { question: "Which city?" } }] };
        return { text: `Going to ${textOf(result.content)}` };
      };
      await withEngine()(script, async (engine) => {
        const handle = await engine.start(reader({ servers: [], humanInput: true }), "plan a trip");
        const status = await waitForPhase(handle, "waiting_input");
        assert.equal(status.pending[0]!.prompt, "Which city?");
        await handle.answer({ value: "Lisbon" });
        assert.equal(((await handle.result()) as { text: string }).text, "Going to Lisbon");
      });
    });

    test("a watcher that reads seldom still hears of questions opened and answered between its reads", async () => {
      const script: ModelScript = (call) => {
        const answers = call.messages.filter((message) => message.role === "tool");
        if (answers.length < 2) return { toolCalls: [{ name: "human_input", arguments: { question: answers.length === 0 ? "Which city?" : "Which month?" } }] };
        return { text: `Going to ${answers.map((answer) => textOf(answer.content)).join(" in ")}` };
      };
      await withEngine()(script, async (engine) => {
        const handle = await engine.start(reader({ servers: [], humanInput: true }), "plan a trip");
        let reads = 0;
        // Reads only at its start and at the run's end: both questions open and settle in between.
        const source = { status: () => handle.status().finally(() => reads++), result: () => handle.result() };
        const watched = (async () => {
          const seen: string[] = [];
          for await (const event of runEvents(source, { pollMs: 600_000 })) {
            if (event.type === "request") seen.push(`open ${event.request.id}`);
            if (event.type === "settled") seen.push(`settled ${event.id} (${event.kind})`);
            if (event.type === "end") seen.push("end");
          }
          return seen;
        })();
        await waitFor("the watcher's first read", () => (reads > 0 ? true : undefined));
        const first = await waitForPhase(handle, "waiting_input");
        await handle.answer({ value: "Lisbon" });
        const second = await waitFor("the second question", async () => (await handle.status()).pending.find((request) => request.id !== first.pending[0]!.id));
        await handle.answer({ value: "May" });
        assert.equal(((await handle.result()) as { text: string }).text, "Going to Lisbon in May");
        const [one, two] = [first.pending[0]!.id, second.id];
        assert.deepEqual(await watched, [`open ${one}`, `settled ${one} (input)`, `open ${two}`, `settled ${two} (input)`, "end"]);
        assert.equal(reads, 2);
        assert.deepEqual((await handle.status()).settled?.map((request) => request.prompt), ["Which city?", "Which month?"]);
      });
    });

    test("pause holds the run before its next step; resume lets it finish", async () => {
      const script: ModelScript = [
        { toolCalls: [{ name: "fs_list_directory", arguments: { path: dir } }], delayMs: 800 },
        { text: "listed" },
      ];
      await withEngine()(script, async (engine, model) => {
        const handle = await engine.start(reader(), "list");
        await waitFor("the model call in flight", () => (model.inFlight > 0 ? true : undefined));
        await handle.pause();
        await waitForPhase(handle, "paused");
        // The model call in flight finishes and its answer enters the transcript; in the same step
        // the run reaches the tool call and holds there, so from this moment on nothing may move.
        await waitFor("the model's answer in the transcript", async () => ((await handle.transcript()).length === 2 ? true : undefined));
        const paused = await handle.status();
        assert.equal(paused.phase, "paused");
        assert.equal(paused.stepCount, 1, "the first model call, which listed the tools too");
        assert.equal(paused.currentStep, "llm openai:gpt-4.1-mini (reader)");
        assert.equal(model.requests.length, 1);

        await handle.resume();
        assert.equal(((await handle.result()) as { text: string }).text, "listed");
        const done = await handle.status();
        assert.equal(done.stepCount, 3);
        assert.ok(done.usage["openai:gpt-4.1-mini"]!.outputTokens > 0);
      });
    });

    test("cancel stops an in-flight model call; the run ends cancelled with its transcript readable", async () => {
      const script: ModelScript = [{ text: "too late", delayMs: 30_000 }];
      await withEngine()(script, async (engine, model) => {
        const handle = await engine.start(reader({ servers: [] }), "think hard");
        await waitFor("the model call in flight", () => (model.inFlight > 0 ? true : undefined));
        await handle.cancel();
        // Both engines say it in the same words.
        await assert.rejects(handle.result(), (error: unknown) => error instanceof RunFailed && error.phase === "cancelled" && error.message === `Run ${handle.runId} was cancelled: the run was cancelled`);
        const status = await waitForPhase(handle, "cancelled");
        assert.equal(status.lastError, "the run was cancelled");
        assert.equal(status.currentStep, "llm openai:gpt-4.1-mini (reader)");
        const transcript = await handle.transcript();
        assert.deepEqual(transcript.map((message) => message.role), ["user"]);
      });
    });
  });
}

engineTests("memory", () => async (script, body) => {
  const model = await startScriptedModelServer(script, { quiet: true });
  const engine = memoryEngine(configFor(model));
  try {
    return await body(engine, model);
  } finally {
    await engine.close();
    await model.close();
  }
});

let env: TestWorkflowEnvironment;
let bundle: Awaited<ReturnType<typeof bundleWorkflows>>;
before(async () => {
  [env, bundle] = await Promise.all([startTestTemporal(), bundleWorkflows([fixtures])]);
});
after(async () => {
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

engineTests("temporal", () => async (script, body) => {
  const model = await startScriptedModelServer(script, { quiet: true });
  try {
    return await withTemporalWorker(env, configFor(model), (engine) => body(engine, model), { workflowBundle: bundle });
  } finally {
    await model.close();
  }
});

describe("messages sent with a run's start (temporal)", () => {
  test("a signal that comes with the start, before workflow code sets its handler, reaches the handler", async () => {
    const model = await startScriptedModelServer([], { quiet: true });
    try {
      await withTemporalWorker(
        env,
        configFor(model),
        async (engine, config) => {
          // Signal-with-start puts the signal in the run's first workflow task, before the body runs.
          const workflowId = `tally-${randomUUID().slice(0, 8)}`;
          await env.client.workflow.signalWithStart("tally", {
            workflowId,
            taskQueue: config.temporal.taskQueue,
            args: [{ input: {}, settings: runSettingsFromConfig(config) }],
            signal: "add",
            signalArgs: [2],
          });
          const handle = await engine.getHandle(workflowId);
          assert.equal(await handle.update<number>("addAndRead", 3), 5);
          await handle.signal("finish");
          assert.equal(await handle.result(), 5);
        },
        { workflowBundle: bundle },
      );
    } finally {
      await model.close();
    }
  });
});

describe("RunControl", () => {
  test("a step waiting for a resume waits again when the run is paused again before it starts", async () => {
    // The executors' contract: `waitUntil` re-checks its predicate whenever the run's state changes.
    const waiters = new Set<() => void>();
    const waitUntil = (predicate: () => boolean) =>
      new Promise<boolean>((resolve) => {
        const check = () => {
          if (!predicate()) return;
          waiters.delete(check);
          resolve(true);
        };
        waiters.add(check);
        check();
      });
    const control = new RunControl("run", waitUntil, () => Date.now(), undefined, () => [...waiters].forEach((check) => check()));
    control.pause();
    const begun = control.beginStep("llm openai:m");
    control.resume();
    control.pause();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(control.status().stepCount, 0);
    assert.equal(control.status().phase, "paused");
    control.resume();
    await begun;
    assert.equal(control.status().stepCount, 1);
    assert.equal(control.status().currentStep, "llm openai:m");
  });

  test("a second answer or decision to a request answered but not yet taken up is refused: the first stands (the twenty-ninth user test's)", async () => {
    const control = new RunControl("run", () => new Promise<boolean>(() => undefined), () => Date.now(), undefined, () => undefined);
    void control.ask({ prompt: "Which colour?" });
    control.validateAnswer({ value: "red" });
    control.applyAnswer({ value: "red" });
    assert.throws(() => control.validateAnswer({ value: "yellow" }), (error: unknown) => error instanceof InvalidRunMessage && /^input-1 has already been answered; the first answer stands\.$/.test(error.message));
    void control.requestApproval({ server: "fs", tool: "write_file", arguments: {} });
    control.validateDecision({ requestId: "approval-2", approved: true });
    control.applyDecision({ requestId: "approval-2", approved: true });
    assert.throws(() => control.validateDecision({ requestId: "approval-2", approved: false }), (error: unknown) => error instanceof InvalidRunMessage && /^approval-2 has already been approved; the first decision stands\.$/.test(error.message));
  });

  test("a rejection with an empty or blank reason tells the model there was none, not an empty reason", async () => {
    const waiters = new Set<() => void>();
    const waitUntil = (predicate: () => boolean) =>
      new Promise<boolean>((resolve) => {
        const check = () => predicate() && (waiters.delete(check), resolve(true));
        waiters.add(check);
        check();
      });
    const control = new RunControl("run", waitUntil, () => Date.now(), undefined, () => [...waiters].forEach((check) => check()));
    for (const reason of ["", "   "]) {
      const outcome = control.requestApproval({ server: "fs", tool: "write_file", arguments: {} });
      control.applyDecision({ approved: false, reason });
      // The executors re-check their waits once a message is applied.
      for (const check of [...waiters]) check();
      assert.deepEqual(await outcome, { approved: false, reason: "no reason given" });
    }
  });
});
