/**
 * Runs started without duragent's client, as a team with its own Temporal estate starts them:
 * `temporal workflow start`, a Temporal Schedule, another SDK's child workflow. They send an agent
 * or pattern by name and a message, or a module workflow's own input; the worker's config gives
 * the rest. A wrong input fails the run at once, saying what the workflow takes.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { WithStartWorkflowOperation, WorkflowFailedError, type Client } from "@temporalio/client";
import type { Workflow } from "@temporalio/common";
import { ApplicationFailure } from "@temporalio/common";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import type { DuragentConfig } from "../src/config/schema.js";
import { textOf } from "../src/common/messages.js";
import { ChatMessages } from "../src/common/chat.js";
import { runSettingsFromConfig } from "../src/config/load-config.js";
import type { TemporalEngine } from "../src/client/temporal-engine.js";
import { triggerOutcome } from "../src/client/schedules.js";
import { startScriptedModelServer, type ModelScript, type ScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { filesystemServer } from "./support/mcp-servers.js";
import { bundleWorkflows, testConfig, withTemporalWorker } from "./support/runtime.js";
import { startTestTemporal } from "./support/temporal.js";
import { waitFor } from "./support/wait.js";
import { DuragentClient } from "../src/client.js";
import { createLogger } from "../src/logger.js";

const fixtures = fileURLToPath(new URL("./fixtures/greeting-workflows.ts", import.meta.url));
const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-elsewhere-")));
writeFileSync(join(dir, "plan.txt"), "the plan");

let env: TestWorkflowEnvironment;
let bundle: Awaited<ReturnType<typeof bundleWorkflows>>;
let model: ScriptedModelServer;

// The reader reads the file it is told of, then says what it read; the summarizer answers at once.
const script: ModelScript = (call) => {
  if (call.system === "Summarize.") return { text: "in short" };
  const read = call.messages.findLast((message) => message.role === "tool");
  if (read) return { text: `read: ${textOf(read.content)}` };
  return { toolCalls: [{ name: "fs_read_text_file", arguments: { path: join(dir, "plan.txt") } }] };
};

before(async () => {
  [env, bundle, model] = await Promise.all([startTestTemporal(), bundleWorkflows([fixtures]), startScriptedModelServer(script, { quiet: true })]);
});
after(async () => {
  await model?.close();
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

function config(): DuragentConfig {
  return testConfig(model, {
    llm: { defaultModel: "openai:scripted" },
    mcp: { servers: { fs: filesystemServer(dir) } },
    agents: { reader: { instruction: "Read files.", servers: ["fs"] }, summarizer: { instruction: "Summarize." } },
    workflows: { brief: { pattern: "chain", steps: ["reader", "summarizer"] } },
    modules: [fixtures],
  });
}

function withWorker<T>(body: (client: Client, taskQueue: string, engine: TemporalEngine) => Promise<T>): Promise<T> {
  return withTemporalWorker(env, config(), (engine, { temporal }) => body(env.client, temporal.taskQueue, engine), { workflowBundle: bundle });
}

/** The run's failure as Temporal reports it to its starter. */
async function failureOf(run: Promise<unknown>): Promise<ApplicationFailure> {
  const error = await run.then(
    () => assert.fail("the run completed"),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof WorkflowFailedError, String(error));
  let cause: unknown = error.cause;
  while (cause instanceof Error && !(cause instanceof ApplicationFailure)) cause = cause.cause;
  assert.ok(cause instanceof ApplicationFailure, String(error.cause));
  return cause;
}

describe("runs started without duragent's client", () => {
  test("an agent by name and a message: the worker's config gives its definition and settings; duragent lists, reads and prices the run", async () => {
    await withWorker(async (client, taskQueue, engine) => {
      const workflowId = `from-cli-${randomUUID().slice(0, 8)}`;
      const result = await client.workflow.execute("agentWorkflow", { workflowId, taskQueue, args: [{ agent: "reader", message: "What does the plan say?" }] });
      assert.equal((result as { text: string }).text, "read: the plan");
      const handle = await engine.getHandle(workflowId);
      const status = await handle.status();
      assert.equal(status.phase, "completed");
      assert.ok(Object.keys(status.usage ?? {}).length > 0, JSON.stringify(status));
      // Named as duragent names the runs it starts, so `list --target` finds it.
      const listed = await waitFor("the run listed by its agent", async () => (await engine.list(10, { target: "reader" })).find((run) => run.runId === workflowId));
      assert.equal(listed.phase, "completed");
    });
  });

  test("a pattern from the config's workflows by name, and a module workflow with its own input", async () => {
    await withWorker(async (client, taskQueue) => {
      const brief = await client.workflow.execute("patternWorkflow", { workflowId: `brief-${randomUUID().slice(0, 8)}`, taskQueue, args: [{ pattern: "brief", input: "the plan" }] });
      assert.equal((brief as { text: string }).text, "in short");
      const greeting = await client.workflow.execute("greet", { workflowId: `greet-${randomUUID().slice(0, 8)}`, taskQueue, args: [{ name: "Ada" }] });
      assert.equal(greeting, "Hello, Ada.");
    });
  });

  test("a chat with an agent or a pattern by name, its turns sent as duragent.chat.send updates", async () => {
    await withWorker(async (client, taskQueue) => {
      const workflowId = `chat-${randomUUID().slice(0, 8)}`;
      const chat = await client.workflow.start("chatWorkflow", { workflowId, taskQueue, args: [{ agent: "summarizer" }] });
      // Sent at once, while the run still reads its worker's config: it waits for the chat's handler.
      const { turn } = await chat.executeUpdate<{ turn: number }, [{ text: string }]>(ChatMessages.send, { args: [{ text: "the plan" }] });
      assert.equal(turn, 1);
      const reply = await waitFor("the reply", async () => (await chat.query<{ text: string } | null, [{ turn: number }]>(ChatMessages.reply, { turn })) ?? undefined);
      assert.equal(reply.text, "in short");
      await chat.executeUpdate(ChatMessages.end);
      await chat.result();
      // A pattern by name, its turns given the conversation.
      const patternChat = await client.workflow.start("chatWorkflow", { workflowId: `chat-${randomUUID().slice(0, 8)}`, taskQueue, args: [{ pattern: "brief" }] });
      const first = await patternChat.executeUpdate<{ turn: number }, [{ text: string }]>(ChatMessages.send, { args: [{ text: "the plan" }] });
      assert.equal((await patternChat.query<{ text: string } | null, [{ turn: number }]>(ChatMessages.reply, first))?.text, "in short");
      await patternChat.executeUpdate(ChatMessages.end);
      await patternChat.result();
    });
  });

  test("updates sent at once, while the run still reads its worker's config, wait for its handlers; a refused one fails alone", async () => {
    await withWorker(async (client, taskQueue) => {
      // Update-with-start puts the update in the run's first workflow task, before its handlers exist.
      const startWorkflowOperation = new WithStartWorkflowOperation("counter", { workflowId: `counter-${randomUUID().slice(0, 8)}`, taskQueue, args: [{ start: 1 }], workflowIdConflictPolicy: "FAIL" });
      const added = await client.workflow.executeUpdateWithStart<Workflow, number, [number]>("add", { args: [2], startWorkflowOperation });
      assert.equal(added, 3);
      const run = await startWorkflowOperation.workflowHandle();
      const [refused] = await Promise.allSettled([run.executeUpdate("add", { args: ["two"] })]);
      assert.equal(refused.status, "rejected");
      assert.match(String((refused as PromiseRejectedResult).reason?.cause?.message), /add a number, not "two"/);
      await run.signal("finish");
      assert.equal(await run.result(), 3);
    });
  });

  test("a Temporal Schedule starts an agent by name, each run on the worker's config of the day", async () => {
    await withWorker(async (client, taskQueue, engine) => {
      const scheduleId = `nightly-${randomUUID().slice(0, 8)}`;
      const schedule = await client.schedule.create({
        scheduleId,
        spec: { intervals: [{ every: "365 days" }] },
        action: { type: "startWorkflow", workflowType: "agentWorkflow", taskQueue, args: [{ agent: "reader", message: "Read the plan." }] },
        state: { paused: true },
      });
      try {
        await schedule.trigger();
        const workflowId = await waitFor("the scheduled run", async () => (await schedule.describe()).info.recentActions[0]?.action.workflow.workflowId);
        const handle = await engine.getHandle(workflowId);
        assert.equal(((await handle.result()) as { text: string }).text, "read: the plan");
      } finally {
        await schedule.delete();
      }
    });
  });

  test("a wrong input fails the run at once, saying what the workflow takes, rather than failing its workflow task for ever", async () => {
    await withWorker(async (client, taskQueue) => {
      const start = (workflowType: string, argument: unknown) => client.workflow.execute(workflowType, { workflowId: `wrong-${randomUUID().slice(0, 8)}`, taskQueue, args: [argument] });
      const bare = await failureOf(start("agentWorkflow", "LIST the files"));
      assert.equal(bare.type, "InvalidRunInput");
      assert.match(bare.message, /^agentWorkflow got "LIST the files": .*agentWorkflow \{"agent": "<an agent in the worker's config>", "message": "<text>"\}/s);
      const unknown = await failureOf(start("agentWorkflow", { agent: "nobody", message: "hi" }));
      assert.match(unknown.message, /^No agent is called 'nobody' in the worker's config \(agents: reader, summarizer\)\./);
      const kind = await failureOf(start("agentWorkflow", { agent: "brief", message: "hi" }));
      assert.match(kind.message, /^'brief' is a pattern: start patternWorkflow with \{"pattern": "brief", "input": "…"\}\.$/);
      const empty = await failureOf(start("agentWorkflow", { agent: "reader", message: "" }));
      assert.match(empty.message, /needs a message as its input/);
      const ownSettings = await failureOf(start("agentWorkflow", { input: { agent: "reader", message: "hi" }, settings: {} }));
      assert.match(ownSettings.message, /`settings` are duragent's own, made by its client; leave them out/);
      // duragent's own input, copied from a run's history and changed: checked too.
      const copied = await failureOf(start("agentWorkflow", { input: { agent: { name: "reader", instruction: "Read files." } }, settings: runSettingsFromConfig(config()) }));
      assert.match(copied.message, /^agentWorkflow's input has no message \(text\)/);
      const badGreeting = await failureOf(start("greet", { name: 42 }));
      assert.equal(badGreeting.type, "InvalidRunInput");
      assert.equal(badGreeting.message, "the input of 'greet': name: expected a string, got a number.");
    });
  });
});

describe("duragent's schedules", () => {
  /** duragent's own client, beside a worker on the test's task queue. */
  const withClient = (body: (client: DuragentClient) => Promise<void>) =>
    withTemporalWorker(
      env,
      config(),
      async (_engine, withQueue) => {
        const client = new DuragentClient(withQueue, createLogger("test", "silent"));
        try {
          await body(client);
        } finally {
          await client.close();
        }
      },
      { workflowBundle: bundle },
    );

  test("a schedule starts its target by name: described as given, triggered, paused and unpaused, listed, deleted", async () => {
    await withClient(async (client) => {
      const id = `brief-${randomUUID().slice(0, 8)}`;
      {
        const schedule = await client.schedule("brief", "Read the plan.", { id, every: "365d", cron: "0 7 * * *", timezone: "Europe/Paris", note: "the morning brief" });
        const described = await schedule.describe();
        assert.deepEqual(
          { ...described, nextRuns: described.nextRuns.length },
          {
            id,
            target: "brief",
            cron: ["0 7 * * *"],
            every: ["365d"],
            paused: false,
            note: "the morning brief",
            nextRun: described.nextRuns[0],
            input: "Read the plan.",
            timezone: "Europe/Paris",
            overlap: "skip",
            nextRuns: 10,
            recentRuns: [],
            runningRuns: [],
            skippedRuns: 0,
            missedRuns: 0,
            link: described.link,
          },
        );
        assert.match(described.link ?? "", new RegExp(`^http://[\\w.]+:\\d+/namespaces/default/schedules/${id}$`));
        assert.deepEqual(await schedule.trigger(), { effect: "starts", overlap: "skip", running: [] });
        const runId = await waitFor("the triggered run", async () => (await schedule.describe()).recentRuns[0]?.runId);
        assert.match(runId, new RegExp(`^${id}-\\d{4}-\\d\\d-\\d\\dT`));
        const run = await client.getHandle<{ text: string }>(runId);
        assert.equal((await run.result()).text, "in short");
        // Found as runs of its target, as `duragent list --target brief` finds them.
        await waitFor("the run listed by its target", async () => ((await client.list({ engine: "temporal", target: "brief" })).some((listed) => listed.runId === runId) ? true : undefined));
        await schedule.pause("a holiday");
        assert.deepEqual(
          await schedule.describe().then(({ paused, note, nextRuns }) => ({ paused, note, nextRuns })),
          { paused: true, note: "a holiday", nextRuns: [] },
        );
        await schedule.unpause();
        assert.equal((await (await client.getSchedule(id)).describe()).paused, false);
        const listed = await client.listSchedules();
        assert.deepEqual(listed.find((one) => one.id === id)?.lastRun?.runId, runId);
        await assert.rejects(client.schedule("brief", "again", { id, every: "1h" }), (error: Error) => error.name === "ScheduleAlreadyExists" && /A schedule '.*' already exists\.\nGive another id/.test(error.message));
        await schedule.delete();
        await assert.rejects(schedule.describe(), (error: Error) => error.name === "ScheduleNotFound" && error.message === `No schedule '${id}'. Check the id with \`duragent schedule list\`.`);
        await assert.rejects(client.getSchedule("no-such-schedule"), (error: Error) => error.name === "ScheduleNotFound");
      }
    });
  });

  test("a trigger while a run still runs does what the overlap policy says: skipped, buffered, or the running one ended first", () => {
    assert.deepEqual(triggerOutcome("skip", ["nightly-1"]), { effect: "skipped", overlap: "skip", running: ["nightly-1"] });
    assert.equal(triggerOutcome("buffer-one", ["nightly-1"]).effect, "buffered");
    assert.equal(triggerOutcome("buffer-one", ["nightly-1"], 1).effect, "skipped");
    assert.equal(triggerOutcome("buffer-all", ["nightly-1"], 3).effect, "buffered");
    assert.equal(triggerOutcome("cancel-other", ["nightly-1"]).effect, "cancels");
    assert.equal(triggerOutcome("terminate-other", ["nightly-1"]).effect, "terminates");
    assert.equal(triggerOutcome("allow-all", ["nightly-1"]).effect, "starts");
    assert.equal(triggerOutcome("skip", []).effect, "starts");
  });

  test("a module workflow's schedule sends its own input, checked before the schedule is made; bad times and targets are refused, saying why", async () => {
    await withClient(async (client) => {
      const id = `greet-${randomUUID().slice(0, 8)}`;
      {
        const schedule = await client.schedule("greet", { name: "Ada" }, { id, every: "365d", paused: true, overlap: "buffer-one" });
        assert.deepEqual(await schedule.describe().then(({ input, overlap, paused }) => ({ input, overlap, paused })), { input: { name: "Ada" }, overlap: "buffer-one", paused: true });
        await schedule.trigger();
        const runId = await waitFor("the triggered run", async () => (await schedule.describe()).recentRuns[0]?.runId);
        assert.equal(await (await client.getHandle<string>(runId)).result(), "Hello, Ada.");
        await schedule.delete();
        await assert.rejects(client.schedule("greet", { name: 42 }, { every: "1h" }), (error: Error) => error.name === "InvalidRunInput" && /name: expected a string, got a number/.test(error.message));
        await assert.rejects(client.schedule("reader", "hi", {}), (error: Error) => error.name === "InvalidOptions" && /give `cron` or `every`/.test(error.message));
        await assert.rejects(client.schedule("greet", { name: "Ada" }, { every: "1h", toolContext: { userId: "u-1" } }), (error: Error) => error.name === "InvalidOptions" && /'greet' is a module workflow, whose scheduled runs take its own input alone: no tool context\./.test(error.message));
        await assert.rejects(client.schedule("reader", "hi", { every: "2 parsecs" }), (error: Error) => error.name === "InvalidOptions" && /every: expected a duration of a second or more/.test(error.message));
        await assert.rejects(client.schedule("reader", "hi", { every: "1h", evry: "1h" } as never), (error: Error) => error.name === "InvalidOptions" && /evry/.test(error.message));
        await assert.rejects(client.schedule("reader", "hi", { id: `bad-${randomUUID().slice(0, 8)}`, cron: "every tuesday" }), (error: Error) => error.name === "InvalidOptions" && /^Temporal refused the schedule 'bad-\w+': .*cron/i.test(error.message));
        await assert.rejects(client.schedule("nobody", "hi", { every: "1h" }), (error: Error) => error.name === "RunTargetNotFound");
      }
    });
  });
});
