/**
 * Long sessions: a chat takes user messages by update and answers each with the agent's reply.
 * It continues as new every few turns, carrying the conversation across, and its model calls
 * refer to the transcript instead of repeating it, so each run's history stays bounded. The same
 * chat API works on a real Temporal server and in memory.
 */
import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Client } from "@temporalio/client";
import { ApplicationFailure } from "@temporalio/common";
import { MockActivityEnvironment, type TestWorkflowEnvironment } from "@temporalio/testing";
import { openActivityRuntime } from "../src/activities/activity-runtime.js";
import { temporalActivities } from "../src/activities/index.js";
import { createLogger } from "../src/logger.js";
import { createTranscriptResolver, type TranscriptSource } from "../src/activities/llm/transcript-resolver.js";
import { LlmRequestSchema, type LlmRequest } from "../src/common/llm.js";
import { textOf, type Message } from "../src/common/messages.js";
import { expandTranscriptReference } from "../src/common/transcript-reference.js";
import { TranscriptReferencer } from "../src/workflows/executor/transcript-referencer.js";
import { ChatTurnFailed, rejoinChat, startChat, type ChatTextEvent } from "../src/client/chat.js";
import type { Engine } from "../src/client/engine.js";
import { InvalidRunMessage, RunAlreadyEnded } from "../src/client/engine.js";
import { runChainStats, type HistoryStats } from "../src/testing/history-stats.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import type { AgentSpec } from "../src/workflows/agent/define-agent.js";
import { filesystemServer } from "./support/mcp-servers.js";
import { memoryEngine, testConfig, withTemporalWorker } from "./support/runtime.js";
import { waitFor } from "./support/wait.js";
import { statusText } from "../src/cli/status-text.js";
import { currentDetails } from "../src/common/current-details.js";
import { startTestTemporal } from "./support/temporal.js";

const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-chat-")));
writeFileSync(join(dir, "motto.txt"), "durable by default");
// Read forty times in one turn, it makes a conversation of 2.4 MB: more than one payload may carry.
const mediumFile = join(dir, "medium.txt");
writeFileSync(mediumFile, "a line of a medium-sized file\n".repeat(2_000));
const manyReads = 40;

const assistant: AgentSpec = { name: "assistant", instruction: "Chat with the user.", servers: ["fs"] };

const story = "Once upon a time a chat streamed its replies, word by word, to whoever was reading along.";

/** Echoes the user's message with how many messages the model saw; `read <path>` makes it use a tool. */
function chatScript(call: ScriptedCall): ScriptedTurn {
  const last = call.messages.at(-1)!;
  if (last.role === "tool") {
    const results = call.messages.length - call.messages.findLastIndex((message) => message.role !== "tool") - 1;
    return { text: results > 1 ? `read ${results} results` : `the file says: ${textOf(last.content)}` };
  }
  const text = last.role === "user" ? textOf(last.content) : "";
  if (text.startsWith("story")) return { text: story, chunkDelayMs: 40 };
  if (text.startsWith("read many ")) return { toolCalls: Array.from({ length: manyReads }, () => ({ name: "fs_read_text_file", arguments: { path: text.slice(10) } })) };
  if (text.startsWith("read ")) return { toolCalls: [{ name: "fs_read_text_file", arguments: { path: text.slice(5) } }] };
  return { text: `echo ${text} (${call.messages.length} messages seen)` };
}

function lastRequestMessages(requests: { body: unknown }[]): Message[] {
  // OpenAI wire: the system instruction is the first message.
  return (requests.at(-1)!.body as { messages: Message[] }).messages.slice(1);
}

describe("transcript references", () => {
  const message = (content: string): Message => ({ role: "user", content });
  const location = { runId: "wf", temporalRunId: "run-1" };

  test("name the messages already in the transcript by ranges, send the rest as they are, and expand back exactly", () => {
    const [a, b, c, d, e] = ["a", "b", "c", "d", "e"].map(message) as [Message, Message, Message, Message, Message];
    const transcript: Message[] = [a, b, c, d];
    const referencer = new TranscriptReferencer(transcript, () => location, 10);
    const tools = [{ name: "fs_read", inputSchema: { type: "object" } }];
    // Another agent's message (c) sits between this agent's; e is new.
    const request: LlmRequest = { model: "openai:m", system: "be brief", tools, messages: [a, b, d, e] };
    const sent = referencer.reference(request);
    assert.deepEqual(sent.transcriptReference, { ...location, ranges: [{ from: 0, to: 2 }, { from: 3, to: 4 }], setup: 0 });
    assert.deepEqual(sent.messages, [e]);
    assert.equal(sent.system, undefined);
    assert.equal(sent.tools, undefined);
    const parts = { slice: (from: number, to: number) => transcript.slice(from, to), setup: (index: number) => referencer.setup(index) };
    assert.deepEqual(expandTranscriptReference(sent, parts), request);
    // Small calls travel as they are.
    assert.equal(new TranscriptReferencer(transcript, () => location, 10_000).reference(request), request);
  });

  test("a reference in the older shape ({ workflowId, runId }), as an activity in flight may carry it, still parses", () => {
    const parsed = LlmRequestSchema.parse({ model: "openai:m", messages: [], transcriptReference: { workflowId: "wf", runId: "run-1", ranges: [{ from: 0, to: 2 }] } });
    assert.deepEqual(parsed.transcriptReference, { runId: "wf", temporalRunId: "run-1", ranges: [{ from: 0, to: 2 }] });
  });

  test("the worker resolves by asking the run once, then only for what was added, and forgets the least recent run", async () => {
    const transcripts = new Map<string, Message[]>([
      ["run-1", ["a", "b", "c"].map(message)],
      ["run-2", ["x"].map(message)],
    ]);
    const asked: string[] = [];
    const source: TranscriptSource = {
      async slice(run, { from, to }) {
        asked.push(`${run.temporalRunId} slice ${from}-${to}`);
        return transcripts.get(run.temporalRunId)!.slice(from, to);
      },
      async setup(run, index) {
        asked.push(`${run.temporalRunId} setup ${index}`);
        return { system: "be brief" };
      },
    };
    const resolve = createTranscriptResolver({ source, maxCachedSize: 150 });
    const call = (temporalRunId: string, to: number): LlmRequest => ({
      model: "openai:m",
      messages: [],
      transcriptReference: { runId: "wf", temporalRunId, ranges: [{ from: 0, to }], setup: 0 },
    });
    assert.deepEqual((await resolve(call("run-1", 2))).messages.map((m) => m.content), ["a", "b"]);
    assert.equal((await resolve(call("run-1", 2))).system, "be brief");
    assert.deepEqual((await resolve(call("run-1", 3))).messages.map((m) => m.content), ["a", "b", "c"]);
    await resolve(call("run-2", 1)); // over the cache budget: run-1 goes
    await resolve(call("run-1", 1));
    assert.deepEqual(asked, [
      "run-1 slice 0-2",
      "run-1 setup 0",
      "run-1 slice 2-3",
      "run-2 slice 0-1",
      "run-2 setup 0",
      "run-1 slice 0-1",
      "run-1 setup 0",
    ]);
    await assert.rejects(resolve(call("run-2", 5)), /has 1 of the 5 transcript messages/);
  });
});

describe("chat in memory", () => {
  test("replies by turn, uses tools, continues as new with the conversation, refuses bad and late messages", async () => {
    const model = await startScriptedModelServer(chatScript, { quiet: true });
    const config = testConfig(model, {
      mcp: { servers: { fs: filesystemServer(dir) } },
      // Small limits, so that both continue-as-new and transcript references happen within a few turns.
      execution: { chatTurnsPerRun: 25, transcriptReferenceBytes: 512 },
    });
    const engine = memoryEngine(config);
    try {
      const chat = await startChat(engine, assistant);
      assert.match(chat.runId, /^chat-assistant-[0-9a-f]{8}$/);

      const tool = await chat.send(`read ${join(dir, "motto.txt")}`);
      assert.deepEqual(tool, { turn: 1, text: "the file says: durable by default" });
      // Two at once are answered one after the other, in order.
      const [second, third] = await Promise.all([chat.send("two"), chat.send("three")]);
      assert.deepEqual([second.turn, third.turn], [2, 3]);
      assert.equal(third.text, `echo three (7 messages seen)`);
      // Between turns it waits for the next message, rather than reading as busy with its last step.
      const idle = await waitFor("the chat to wait for a message", async () => {
        const status = await chat.status();
        return status.waitingFor === "the next message" ? status : undefined;
      });
      assert.equal(idle.phase, "running");
      assert.match(statusText(idle), /: running — waiting for the next message \(after step \d+: llm openai:gpt-4\.1-mini \(assistant\)\)/);
      assert.match(currentDetails(idle), /^\*\*waiting for the next message\*\* · after step \d+/);

      await assert.rejects(chat.send(""), (error: unknown) => error instanceof InvalidRunMessage && /needs some text/.test(error.message));

      const rejoined = await rejoinChat(engine, chat.runId);
      for (let turn = 4; turn <= 60; turn++) {
        const reply = await rejoined.send(`message ${turn}`);
        assert.equal(reply.turn, turn);
      }
      // Turn 60 runs in the third run; the model still saw the whole conversation before it.
      const seen = lastRequestMessages(model.requests);
      assert.equal(seen.length, 2 * 60 - 1 + 2, "every turn's user and assistant message, plus turn 1's tool call and result");
      assert.equal(textOf(seen[0]!.content as string), `read ${join(dir, "motto.txt")}`);

      const result = await chat.end();
      assert.equal(result.turns, 60);
      assert.equal(result.runs, 3);
      assert.equal(result.messageCount, 2 * 60 + 2);
      assert.ok(result.usage["openai:gpt-4.1-mini"]!.inputTokens > 0);
      assert.equal((await chat.transcript()).length, 2 * 60 + 2);
      const ended = await chat.status();
      assert.equal(ended.phase, "completed");
      // Steps count on across the three runs: 61 model calls (turn 1 took two) and a tool call.
      assert.equal(ended.stepCount, 62);
      await assert.rejects(chat.send("anyone?"), /has ended|No run/);
      // Rejoining an ended chat says so at once, before anything is typed into it.
      await assert.rejects(rejoinChat(engine, chat.runId), (error: unknown) => error instanceof RunAlreadyEnded && /has already ended \(completed\); there is nothing to rejoin; start a new chat/.test(error.message));
    } finally {
      await engine.close();
      await model.close();
    }
  });
});

/** Sends a plain turn, then a streaming one; the second's text is told in pieces, and only its own. */
async function streamedTurn(engine: Engine): Promise<void> {
  const chat = await startChat(engine, assistant);
  await chat.send("hello");
  const events: ChatTextEvent[] = [];
  const reply = await chat.send("story please", { onText: (event) => events.push(event) });
  assert.equal(reply.text, story);
  assert.deepEqual(events.filter((event) => event.type === "restart"), []);
  const pieces = events.flatMap((event) => (event.type === "text" ? [event.delta] : []));
  assert.equal(pieces.join(""), story, "exactly this turn's answer, none of the earlier turn's");
  assert.ok(pieces.length > 1, `the answer came in pieces: ${JSON.stringify(pieces)}`);
  assert.equal(new Set(events.map((event) => event.id)).size, 1);
  assert.equal(events[0]!.agent, "assistant");
  await waitFor("the chat to wait for a message", async () => ((await chat.status()).waitingFor === "the next message" ? true : undefined));
  await chat.end();
}

/** A turn whose model call is refused fails with the provider's words, as a ChatTurnFailed; the chat goes on from before it. */
async function failedTurn(engine: Engine): Promise<void> {
  const chat = await startChat(engine, { name: "assistant", instruction: "Chat with the user." });
  await assert.rejects(chat.send("refuse this"), (error: unknown) => {
    assert.ok(error instanceof ChatTurnFailed, `a ChatTurnFailed, not ${String(error)}`);
    assert.equal(error.exitCode, 4);
    assert.match(error.message, /^The agent could not answer: openai rejected the request \(401\): invalid key\. Check the API key/);
    return true;
  });
  assert.deepEqual(await chat.send("after"), { turn: 1, text: "echo after (1 messages seen)" });
  await chat.end();
}

function refusingScript(call: ScriptedCall): ScriptedTurn {
  const last = call.messages.at(-1)!;
  return textOf(last.content as string) === "refuse this" ? { error: { status: 401, message: "invalid key" } } : chatScript(call);
}

describe("chat in memory, failing turns", () => {
  test("a turn whose model call fails is a ChatTurnFailed with the provider's words, and the chat goes on", async () => {
    const model = await startScriptedModelServer(refusingScript, { quiet: true });
    const engine = memoryEngine(testConfig(model));
    try {
      await failedTurn(engine);
    } finally {
      await engine.close();
      await model.close();
    }
  });
});

describe("chat in memory, streaming", () => {
  test("send() with onText tells the reply's text as it is written", async () => {
    const model = await startScriptedModelServer(chatScript, { quiet: true });
    const engine = memoryEngine(testConfig(model, { mcp: { servers: { fs: filesystemServer(dir) } } }));
    try {
      await streamedTurn(engine);
    } finally {
      await engine.close();
      await model.close();
    }
  });
});

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startTestTemporal();
});
after(async () => {
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

describe("chat on Temporal", () => {
  test("a model call handed to a worker that is stopping stops waiting on its run's transcript, to be retried elsewhere", async () => {
    const model = await startScriptedModelServer(chatScript, { quiet: true });
    // A chat whose worker has stopped: a query to it waits, as one from a worker that is stopping to its own run does.
    const chatId = await withTemporalWorker(env, testConfig(model), async (engine) => {
      const chat = await startChat(engine, { name: "assistant", instruction: "Chat with the user." });
      await chat.send("hello");
      return chat.runId;
    });
    const temporalRunId = (await env.client.workflow.getHandle(chatId).describe()).runId;
    let querySent!: () => void;
    const sent = new Promise<void>((resolve) => (querySent = resolve));
    let queryAnswered = false;
    let queryEnded!: () => void;
    const ended = new Promise<void>((resolve) => (queryEnded = resolve));
    const client = new Client({
      connection: env.client.connection,
      interceptors: {
        workflow: [
          {
            async query(input, next) {
              querySent();
              try {
                return await next(input);
              } finally {
                queryAnswered = true;
                queryEnded();
              }
            },
          },
        ],
      },
    });
    const runtime = openActivityRuntime(testConfig(model), createLogger("test", "silent"));
    const request: LlmRequest = { model: "openai:m", messages: [], transcriptReference: { runId: chatId, temporalRunId, ranges: [{ from: 0, to: 2 }] } };
    const isWorkerStopping = (error: unknown) =>
      error instanceof ApplicationFailure && error.type === "WorkerStopping" && !error.nonRetryable && /stopped during llm openai:m/.test(error.message);
    const modelCalls = model.requests.length;
    try {
      const stopping = new AbortController();
      const activities = temporalActivities(runtime.effects, { stopping: stopping.signal });
      const info = { workflowExecution: { workflowId: chatId, runId: temporalRunId }, isLocal: false };
      // Stopping while the query waits: the step ends without its answer.
      // The abandoned query ends by this deadline, before the connection closes under it.
      const call = client.withDeadline(Date.now() + 2_000, () => new MockActivityEnvironment(info, { client }).run(activities.callLlm, request));
      await sent;
      stopping.abort();
      await assert.rejects(call, isWorkerStopping);
      assert.equal(queryAnswered, false);
      // Handed over after the worker began to stop.
      await assert.rejects(new MockActivityEnvironment(info, { client }).run(activities.callLlm, request), isWorkerStopping);
      assert.equal(model.requests.length, modelCalls);
      await ended;
    } finally {
      await runtime.close();
      await model.close();
      await env.client.workflow.getHandle(chatId).terminate();
    }
  });

  test("a conversation over the 2 MB a run can hand on: the next run gets it without its tool traffic, and the chat goes on", async () => {
    const model = await startScriptedModelServer(chatScript, { quiet: true });
    try {
      await withTemporalWorker(env, testConfig(model, { mcp: { servers: { fs: filesystemServer(dir) } } }), async (engine) => {
        // Every turn ends a run, so the first conversation is handed on at once.
        const chat = await startChat(engine, assistant, { turnsPerRun: 1 });
        assert.equal((await chat.send(`read many ${mediumFile}`)).text, `read ${manyReads} results`);
        // The next run's model sees the first question, its answer and the new message.
        assert.equal((await chat.send("hello again")).text, "echo hello again (3 messages seen)");
        // Told, after its instruction, that it no longer sees everything: the 40 reads and the call that made them.
        const note = (requestBody: unknown) => (requestBody as { messages: Message[] }).messages[1];
        const told = /^duragent: 41 earlier messages of this conversation \(tool calls and their results, then the oldest turns\) are left out/;
        assert.equal(note(model.requests.at(-1)!.body)?.role, "system");
        assert.match(textOf(note(model.requests.at(-1)!.body)!.content), told);
        assert.equal((await chat.send("and again")).text, "echo and again (5 messages seen)");
        // A later hand-over writes the note afresh, not a second one.
        assert.match(textOf(note(model.requests.at(-1)!.body)!.content), told);
        assert.equal(lastRequestMessages(model.requests).filter((message) => message.role === "system").length, 1);
        const result = await chat.end();
        // The messages it no longer carries still count as the conversation's.
        assert.deepEqual({ turns: result.turns, messageCount: result.messageCount }, { turns: 3, messageCount: 1 + 1 + manyReads + 1 + 4 });
        assert.equal(model.errors.length, 0);
        // Listed once, under its agent, with its usage: not once per run it continued as.
        const listed = await waitFor("the ended chat listed as completed", async () => {
          const rows = (await engine.list(50, { usage: true })).filter((run) => run.runId === chat.runId);
          return rows.length === 1 && rows[0]!.phase === "completed" ? rows[0] : undefined;
        });
        assert.equal(listed.target, assistant.name);
        assert.ok(Object.keys(listed.usage ?? {}).length > 0);
        assert.ok((await engine.list(50, { target: assistant.name })).some((run) => run.runId === chat.runId));
      });
    } finally {
      await model.close();
    }
  });

  test("a turn whose model call fails says the provider's words, not 'Activity task failed', and the chat goes on", async () => {
    const model = await startScriptedModelServer(refusingScript, { quiet: true });
    try {
      await withTemporalWorker(env, testConfig(model), failedTurn);
    } finally {
      await model.close();
    }
  });

  test("send() with onText tells the reply's text as it is written, from the model call's heartbeats", async () => {
    const model = await startScriptedModelServer(chatScript, { quiet: true });
    try {
      await withTemporalWorker(env, testConfig(model, { mcp: { servers: { fs: filesystemServer(dir) } } }), streamedTurn);
    } finally {
      await model.close();
    }
  });

  test("500 turns: every run's history stays bounded and the last run carries the whole conversation", async () => {
    const turns = 500;
    const turnsPerRun = 100;
    const model = await startScriptedModelServer(chatScript, { quiet: true });
    const config = testConfig(model, {
      mcp: { servers: { fs: filesystemServer(dir) } },
      execution: { transcriptReferenceBytes: 4096 },
    });
    try {
      await withTemporalWorker(env, config, async (engine) => {
        const chat = await startChat(engine, assistant, { turnsPerRun });
        for (let turn = 1; turn <= turns; turn++) {
          // Halfway through, another client rejoins the chat by its id and carries on.
          const session = turn <= turns / 2 ? chat : await rejoinChat(engine, chat.runId);
          const reply = await session.send(`message ${turn}`);
          assert.equal(reply.turn, turn);
          assert.equal(reply.text, `echo message ${turn} (${2 * turn - 1} messages seen)`);
        }
        const result = await chat.end();
        // Each full run continues as new at once, so the end message reaches a sixth, empty run.
        const expectedRuns = turns / turnsPerRun + 1;
        assert.deepEqual({ turns: result.turns, runs: result.runs, messageCount: result.messageCount }, {
          turns,
          runs: expectedRuns,
          messageCount: 2 * turns,
        });
        assert.equal(lastRequestMessages(model.requests).length, 2 * turns - 1);
        assert.equal(model.errors.length, 0);

        const stats = await runChainStats(engine.client, chat.runId);
        assert.equal(stats.length, expectedRuns, "one run per continue-as-new, plus the first");
        // What a run's own turns cost: its history without the conversation handed in and handed on.
        const ownBytes = (run: HistoryStats) =>
          run.bytes -
          (run.largestPayloadByEvent.workflowExecutionStartedEventAttributes ?? 0) -
          (run.largestPayloadByEvent.workflowExecutionContinuedAsNewEventAttributes ?? 0);
        const first = ownBytes(stats[0]!);
        for (const [index, run] of stats.entries()) {
          // About a dozen events a turn: the update, two workflow tasks and the model call.
          assert.ok(run.events <= turnsPerRun * 12 + 40, `run ${index + 1} has ${run.events} events`);
          // A model call's input names the transcript instead of repeating it, however long the chat.
          const modelInput = run.largestPayloadByEvent.activityTaskScheduledEventAttributes ?? 0;
          assert.ok(modelInput < 4096 + 1024, `run ${index + 1}: an activity input of ${modelInput} bytes`);
          // Turns late in the chat cost what early ones did: nothing in history grows with the conversation
          // except the hand-over, stored once when a run continues as new and once as the next run's input.
          assert.ok(ownBytes(run) <= first * 1.05, `run ${index + 1}'s turns take ${ownBytes(run)} bytes; the first run's ${first}`);
        }
        const handedOver = stats.at(-1)!.largestPayloadByEvent.workflowExecutionStartedEventAttributes ?? 0;
        assert.ok(handedOver > 30_000, `the last run was handed the whole conversation (${handedOver} bytes)`);
        console.log(
          `chat: ${turns} turns in ${stats.length} runs; per run ${stats.map((run) => `${run.events} events/${Math.round(run.bytes / 1024)} KiB`).join(", ")}`,
        );
      });
    } finally {
      await model.close();
    }
  });
});

