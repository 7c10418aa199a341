/**
 * Streaming model answers: both providers assemble a streamed answer into exactly the response
 * the non-streaming request gives; text reaches a run's watchers while the call is still going,
 * on both engines, with the same event shapes; a stream that breaks is a failed attempt, and on
 * Temporal a watcher sees the restart and then only the new attempt's text; streaming adds nothing
 * to a run's history.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { ApplicationFailure } from "@temporalio/common";
import { Worker } from "@temporalio/worker";
import { AnthropicProvider } from "../src/activities/llm/anthropic-provider.js";
import { createCallLlm } from "../src/activities/llm/call-llm.js";
import { OpenAIProvider } from "../src/activities/llm/openai-provider.js";
import { createProviderRegistry } from "../src/activities/llm/provider-registry.js";
import type { LlmProvider } from "../src/activities/llm/provider.js";
import { textEvents, type RunEvent, type ShownText } from "../src/client/run-events.js";
import { restartText } from "../src/cli/follow-run.js";
import { appendStreamed, type StepText } from "../src/common/server-requests.js";
import { TemporalEngine } from "../src/client/temporal-engine.js";
import { runSettingsFromConfig } from "../src/config/load-config.js";
import type { RunTarget } from "../src/client/run-targets.js";
import { FailureType } from "../src/common/failures.js";
import type { LlmRequest } from "../src/common/llm.js";
import { textOf } from "../src/common/messages.js";
import type { DuragentConfig } from "../src/config/schema.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedModelServer, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import type { Engine } from "../src/client/engine.js";
import { patternWorkflow } from "../src/workflows/builtin-workflows.js";
import type { DuragentWorkflow, PatternSpec } from "../src/workflows/index.js";
import { filesystemServer } from "./support/mcp-servers.js";
import { builtinBundle, memoryEngine, testConfig, withTemporalWorker } from "./support/runtime.js";
import { startTestTemporal } from "./support/temporal.js";
import { askedToStream } from "./support/model-requests.js";

const answer = "Porto has six bridges over the Douro, and the Dom Luís I bridge has two decks.";

/** Turns by the first user message's text, so the same script serves both paths. */
const turns: Record<string, ScriptedTurn> = {
  text: { text: answer, usage: { inputTokens: 120, outputTokens: 18, cachedInputTokens: 64 } },
  tools: { toolCalls: [{ id: "call_a", name: "lookup", arguments: { city: "Porto" } }, { id: "call_b", name: "lookup", arguments: { city: "Lisbon" } }], usage: { inputTokens: 90, outputTokens: 30 } },
  both: { text: "Let me look.", toolCalls: [{ id: "call_c", name: "lookup", arguments: { city: "Braga" } }], usage: { inputTokens: 50, outputTokens: 12 } },
  structured: { text: JSON.stringify({ city: "Porto", bridges: 6 }), usage: { inputTokens: 40, outputTokens: 7 } },
};

let model: ScriptedModelServer;
let script: (question: string, attempt: number, call: ScriptedCall) => ScriptedTurn | Promise<ScriptedTurn> = (question) => turns[question] ?? { text: `unknown: ${question}` };
const attempts = new Map<string, number>();

before(async () => {
  model = await startScriptedModelServer(
    (call) => {
      const question = textOf(call.messages.find((message) => message.role === "user")?.content ?? "");
      const attempt = (attempts.get(question) ?? 0) + 1;
      attempts.set(question, attempt);
      return script(question, attempt, call);
    },
    { quiet: true },
  );
});
after(() => model.close());

const request = (question: string, extra: Partial<LlmRequest> = {}): LlmRequest => ({
  model: "x",
  messages: [{ role: "user", content: question }],
  tools: [{ name: "lookup", description: "Looks a city up", inputSchema: { type: "object", properties: { city: { type: "string" } } } }],
  ...extra,
});

const providers: Record<string, () => LlmProvider> = {
  openai: () => new OpenAIProvider({ apiKey: "k", baseURL: model.openaiBaseURL }),
  anthropic: () => new AnthropicProvider({ apiKey: "k", baseURL: model.anthropicBaseURL }),
};

for (const [wire, make] of Object.entries(providers)) {
  describe(`${wire}: streaming`, () => {
    for (const question of ["text", "tools", "both", "structured"]) {
      test(`a streamed "${question}" answer assembles into exactly the non-streamed response`, async () => {
        const provider = make();
        const extra = question === "structured" ? { responseFormat: { type: "json_schema" as const, name: "result", schema: { type: "object" } }, tools: undefined } : {};
        const plain = await provider.generate(request(question, extra), "m");
        const pieces: string[] = [];
        const streamed = await provider.generate(request(question, extra), "m", undefined, (delta) => pieces.push(delta));
        // Each answer carries the id the server gave it (the scripted server numbers its answers).
        const [plainId, streamedId] = [plain.id, streamed.id];
        assert.match(plainId ?? "", wire === "anthropic" ? /^msg_scripted_\d+$/ : /^chatcmpl-scripted-\d+$/);
        assert.notEqual(streamedId, plainId);
        assert.deepEqual({ ...streamed, id: plainId }, plain);
        assert.equal(askedToStream(model.requests.at(-1)!), true, "the second request streamed");
        const text = question === "structured" && wire === "anthropic" ? "" : (turns[question]!.text ?? "");
        assert.equal(pieces.join(""), text);
        if (text.split(" ").length > 1) assert.ok(pieces.length > 1, "text came in pieces");
      });
    }

    test("text arrives while the call is still going", async () => {
      script = () => ({ text: answer, chunkDelayMs: 50 });
      let ended = false;
      const seenBeforeEnd: string[] = [];
      const call = make()
        .generate(request("slow"), "m", undefined, (delta) => {
          if (!ended) seenBeforeEnd.push(delta);
        })
        .finally(() => (ended = true));
      const response = await call;
      script = (question) => turns[question] ?? { text: `unknown: ${question}` };
      assert.equal(response.message.content, answer);
      assert.equal(seenBeforeEnd.join(""), answer, "every piece came before the call resolved");
    });

    test("a stream that breaks is a retryable failed attempt, never a partial answer", async () => {
      script = () => ({ text: answer, breakAfterChunks: 3, chunkDelayMs: 20 });
      const callLlm = createCallLlm(createProviderRegistry({ providers: { [wire]: { apiKey: "k", baseURL: wire === "openai" ? model.openaiBaseURL : model.anthropicBaseURL } } } as never));
      const pieces: string[] = [];
      await assert.rejects(callLlm({ ...request("broken"), model: `${wire}:m` }, undefined, (delta) => pieces.push(delta)), (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure, String(error));
        assert.equal(error.type, FailureType.llmUnavailable);
        assert.equal(error.nonRetryable, false);
        return true;
      });
      script = (question) => turns[question] ?? { text: `unknown: ${question}` };
      assert.ok(pieces.length > 0 && pieces.join("").length < answer.length, "some text came before the break");
    });
  });
}

describe("openai: assembling a stream from other servers' chunking", () => {
  // Chunks as OpenAI and compatible servers send them, which the scripted server does not vary:
  // arguments cut mid-JSON, two calls interleaved, a name repeated, a refusal.
  let events: unknown[] = [];
  let server: Server;
  let baseURL = "";
  before(async () => {
    server = createHttpServer((_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      for (const event of events) response.write(`data: ${JSON.stringify(event)}\n\n`);
      response.end("data: [DONE]\n\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({ id: "c", object: "chat.completion.chunk", created: 1, model: "m-1", choices: [{ index: 0, delta, finish_reason: finish }] });
  const usage = { id: "c", object: "chat.completion.chunk", created: 1, model: "m-1", choices: [], usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 } };
  const generate = () => new OpenAIProvider({ apiKey: "k", baseURL }).generate(request("q"), "m", undefined, () => {});

  test("tool calls cut into pieces and interleaved come out whole, in their order", async () => {
    events = [
      chunk({ role: "assistant", content: null }),
      chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "lookup", arguments: '{"ci' } }] }),
      chunk({ tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "lookup", arguments: "" } }] }),
      chunk({ tool_calls: [{ index: 1, function: { name: "lookup", arguments: '{"city":"Lisbon"}' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: 'ty":"Porto"}' } }] }),
      chunk({}, "tool_calls"),
      usage,
    ];
    const response = await generate();
    assert.deepEqual(response.message, {
      role: "assistant",
      content: "",
      toolCalls: [
        { id: "call_a", name: "lookup", arguments: '{"city":"Porto"}' },
        { id: "call_b", name: "lookup", arguments: '{"city":"Lisbon"}' },
      ],
    });
    assert.equal(response.stopReason, "tool_calls");
    assert.deepEqual(response.usage, { inputTokens: 9, outputTokens: 4 });
    assert.equal(response.model, "m-1");
  });

  test("tool call pieces without an index (as some compatible servers send them) are not lost", async () => {
    events = [
      chunk({ role: "assistant", content: null }),
      chunk({ tool_calls: [{ id: "call_a", type: "function", function: { name: "lookup", arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ function: { arguments: '"Porto"}' } }] }),
      chunk({ tool_calls: [{ id: "call_b", type: "function", function: { name: "lookup", arguments: '{"city":"Lisbon"}' } }] }),
      chunk({}, "tool_calls"),
      usage,
    ];
    assert.deepEqual((await generate()).message.toolCalls, [
      { id: "call_a", name: "lookup", arguments: '{"city":"Porto"}' },
      { id: "call_b", name: "lookup", arguments: '{"city":"Lisbon"}' },
    ]);
  });

  test("a refusal is the answer's text", async () => {
    events = [chunk({ role: "assistant", refusal: "I can't " }), chunk({ refusal: "help with that." }), chunk({}, "stop"), usage];
    assert.equal((await generate()).message.content, "I can't help with that.");
  });

  test("a stream that ends without its finish reason is an incomplete answer, not a short one; one that ends after it without usage is whole", async () => {
    events = [chunk({ role: "assistant", content: "Half an ans" })];
    await assert.rejects(generate(), { name: "StreamIncomplete", message: /before a finish reason/ });
    // A server that ignores stream_options.include_usage: the answer is whole, its usage unreported.
    events = [chunk({ content: "A whole answer." }, "stop")];
    const whole = await generate();
    assert.equal(whole.message.content, "A whole answer.");
    assert.deepEqual(whole.usage, { inputTokens: 0, outputTokens: 0, unreportedCalls: 1 });
  });
});

test("an answer longer than the kept text ends as a continuation, not a restart, for a watcher that saw it all", () => {
  const whole = Array.from({ length: 8_000 }, (_, index) => `w${index}`).join(" ");
  const shown: ShownText = new Map();
  const seen: RunEvent[] = [];
  let live: StepText = { kind: "text", id: "llm-1", step: "llm x", attempt: 1, text: "", length: 0 };
  for (let at = 0; at < whole.length; at += 5_000) {
    live = appendStreamed(live, whole.slice(at, at + 5_000));
    seen.push(...textEvents(live, shown));
  }
  const kept = 32 * 1024;
  seen.push(...textEvents({ ...live, attempt: 0, done: true, text: whole.slice(whole.length - kept), length: whole.length }, shown));
  assert.ok(whole.length > kept);
  assert.deepEqual(seen.filter((event) => event.type === "restart"), []);
  assert.equal(seen.map((event) => (event.type === "text" ? event.delta : "")).join(""), whole);
  // Each delta says where it begins, so a watcher that reconnects can skip what it has, and of which
  // attempt, the recorded answer's last piece too (its own record says none).
  let at = 0;
  for (const event of seen) {
    if (event.type !== "text") continue;
    assert.deepEqual([event.offset, event.attempt], [at, 1]);
    at += event.delta.length;
  }
  // One that joins late, far behind, gets the kept part of the text, at its place in the whole.
  const late = [...textEvents(live, new Map())];
  assert.equal(late.length, 1);
  const joined = late[0] as Extract<RunEvent, { type: "text" }>;
  assert.equal(joined.offset + joined.delta.length, whole.length);
  assert.ok(joined.offset > 0);
});

const agent: RunTarget = { kind: "agent", name: "guide", agent: { name: "guide", instruction: "Answer about cities.", servers: [] } };

/** The events until the end, and whether text came before the run's step ended. */
async function collect(events: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const seen: RunEvent[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

function textBefore(events: RunEvent[]): string {
  return events.filter((event): event is Extract<RunEvent, { type: "text" }> => event.type === "text").map((event) => event.delta).join("");
}

/** Two model calls in a row: the first can be held while a watcher reads the run's status. */
const bridgePair: PatternSpec = {
  pattern: "chain",
  name: "pair",
  steps: [
    { name: "first", instruction: "FIRST: name a bridge." },
    { name: "second", instruction: "SECOND: describe it." },
  ],
};

/**
 * Scripts the bridge pair's answers; the first call of a run asked "watched …" waits for
 * `release`, and `arrived` resolves once it has reached the model.
 */
function holdWatchedBridge(): { arrived: Promise<void>; release: () => void } {
  let firstArrived!: () => void;
  const arrived = new Promise<void>((resolve) => (firstArrived = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  script = (question, _attempt, call) => {
    if (question.startsWith("watched") && call.system?.includes("FIRST")) {
      firstArrived();
      return released.then(() => ({ text: "Dom Luís I" }));
    }
    return { text: call.system?.includes("FIRST") ? "Dom Luís I" : "It has two decks." };
  };
  return { arrived, release };
}

describe("watching a streaming run", () => {
  let temporal: TestWorkflowEnvironment;
  let config: DuragentConfig;
  before(async () => {
    temporal = await startTestTemporal();
    config = testConfig(model, {
      llm: { defaultModel: "openai:gpt-4.1-mini" },
      mcp: { servers: { fs: filesystemServer(process.cwd()) } },
      execution: { llm: { initialIntervalMs: 200 } },
    });
  });
  after(() => temporal?.teardown());

  test("memory engine: the answer's text reaches events() while the model call is going, and the result is the recorded answer", async () => {
    script = () => ({ text: answer, chunkDelayMs: 40 });
    const engine = memoryEngine(config);
    try {
      const handle = await engine.start(agent, "memory please");
      const events = await collect(handle.events());
      const end = events.at(-1);
      assert.equal(end?.type, "end");
      assert.equal((end as { result: { text: string } }).result.text, answer);
      assert.equal(textBefore(events), answer);
      assert.ok(events.findIndex((event) => event.type === "text") < events.length - 1);
      assert.deepEqual(
        events.filter((event) => event.type === "step").map((event) => (event as { step: string }).step),
        ["llm openai:gpt-4.1-mini (guide)"],
      );
    } finally {
      await engine.close();
      script = (question) => turns[question] ?? { text: `unknown: ${question}` };
    }
  });

  test("events() and `run` name every step, in order, even the fast ones between two reads of the status, and each tool call with its result, on both engines", { timeout: 120_000 }, async () => {
    const stepper: RunTarget = { kind: "agent", name: "stepper", agent: { name: "stepper", instruction: "Look three times.", servers: ["fs"] } };
    script = (_question, _attempt, call) =>
      call.messages.filter((message) => message.role === "tool").length < 3 ? { toolCalls: [{ name: "fs_list_allowed_directories", arguments: {} }] } : { text: "looked" };
    const expected = ["llm", "tool", "llm", "tool", "llm", "tool", "llm"].map((kind) => (kind === "llm" ? "llm openai:gpt-4.1-mini (stepper)" : "tool fs/list_allowed_directories"));
    const stepsOf = (events: RunEvent[]) => events.flatMap((event) => (event.type === "step" ? [[event.number, event.step] as const] : []));
    // Each tool call, then its result, as the model made and read them.
    const toolsOf = (events: RunEvent[]) =>
      events.flatMap((event) =>
        event.type === "tool_call" ? [`call ${event.tool} ${event.arguments} (${event.agent})`] : event.type === "tool_result" ? [`result ${event.tool} ${/^Allowed directories:/.test(event.result) ? "listed" : event.result}`] : [],
      );
    const expectedTools = [1, 2, 3].flatMap(() => ["call fs_list_allowed_directories {} (stepper)", "result fs_list_allowed_directories listed"]);
    try {
      const onMemory = memoryEngine(config);
      try {
        const events = await collect((await onMemory.start(stepper, "look")).events());
        assert.deepEqual(stepsOf(events), expected.map((step, index) => [index + 1, step]));
        assert.deepEqual(toolsOf(events), expectedTools);
      } finally {
        await onMemory.close();
      }
      await withTemporalWorker(temporal, config, async (engine) => {
        const events = await collect((await engine.start(stepper, "look")).events());
        assert.deepEqual(stepsOf(events), expected.map((step, index) => [index + 1, step]));
        assert.deepEqual(toolsOf(events), expectedTools);
      });
    } finally {
      script = (question) => turns[question] ?? { text: `unknown: ${question}` };
    }
  });

  test("memory engine: a run nobody watches makes plain model requests; once its status is read, its next calls stream", async () => {
    const target = { kind: "pattern" as const, name: "pair", spec: bridgePair, workflow: patternWorkflow as DuragentWorkflow };
    const { arrived, release } = holdWatchedBridge();
    const engine = memoryEngine(config);
    try {
      const before = model.requests.length;
      const unwatched = await engine.start(target, "unwatched bridge");
      assert.match(((await unwatched.result()) as { text: string }).text, /two decks/);
      assert.deepEqual(model.requests.slice(before).map(askedToStream), [false, false]);

      const middle = model.requests.length;
      const watched = await engine.start(target, "watched bridge");
      await arrived;
      assert.equal((await watched.status()).phase, "running");
      release();
      assert.match(((await watched.result()) as { text: string }).text, /two decks/);
      assert.deepEqual(model.requests.slice(middle).map(askedToStream), [false, true]);
    } finally {
      await engine.close();
      script = (question) => turns[question] ?? { text: `unknown: ${question}` };
    }
  });

  test("Temporal: a run started unwatched makes plain model requests; a status read tells it, its next calls stream, and its history replays", { timeout: 120_000 }, async () => {
    const target = { kind: "pattern" as const, name: "pair", spec: bridgePair, workflow: patternWorkflow as DuragentWorkflow };
    const { arrived, release } = holdWatchedBridge();
    const streamed = (from: number) => model.requests.slice(from).map(askedToStream);
    try {
      await withTemporalWorker(temporal, config, async (engine) => {
        const before = model.requests.length;
        const unwatched = await engine.start(target, "unwatched bridge", { watch: false });
        assert.match(((await unwatched.result()) as { text: string }).text, /two decks/);
        assert.deepEqual(streamed(before), [false, false]);

        const middle = model.requests.length;
        const watched = await engine.start(target, "watched bridge", { watch: false });
        await arrived;
        // A look that shows no text (the answer command reading a question's schema) leaves it unwatched.
        assert.equal((await (await engine.getHandle(watched.runId)).status({ watch: false })).unwatched, true);
        const signalsSoFar = (await engine.client.workflow.getHandle(watched.runId).fetchHistory()).events!.filter((event) => event.workflowExecutionSignaledEventAttributes);
        assert.deepEqual(signalsSoFar, [], "no watch signal from a status read with watch: false");
        const status = await watched.status();
        assert.equal(status.unwatched, true, "the run said nobody had watched it");
        release();
        assert.match(((await watched.result()) as { text: string }).text, /two decks/);
        assert.deepEqual(streamed(middle), [false, true]);
        assert.equal((await watched.status()).unwatched, undefined);

        const last = model.requests.length;
        const started = await engine.start(target, "started bridge");
        assert.match(((await started.result()) as { text: string }).text, /two decks/);
        assert.deepEqual(streamed(last), [true, true], "start() streams from the first call, as before");

        // Child runs started by an unwatched run are unwatched too.
        const children = model.requests.length;
        const fanOut = await engine.start({ kind: "pattern", name: "pair", spec: pair, workflow: patternWorkflow as DuragentWorkflow }, "unwatched cities", { watch: false });
        await fanOut.result();
        assert.deepEqual(streamed(children), [false, false]);

        const history = await engine.client.workflow.getHandle(watched.runId).fetchHistory();
        const signals = history.events!.filter((event) => event.workflowExecutionSignaledEventAttributes).map((event) => event.workflowExecutionSignaledEventAttributes!.signalName);
        assert.deepEqual(signals, ["duragent.watch"]);
        await Worker.runReplayHistory({ workflowBundle: await builtinBundle() }, history, watched.runId);
      });
    } finally {
      script = (question) => turns[question] ?? { text: `unknown: ${question}` };
    }
  });

  test("Temporal: text streams to a watcher outside history; a broken attempt shows a restart, then only the new attempt's text", { timeout: 120_000 }, async () => {
    await withTemporalWorker(temporal, config, async (engine) => {
      // The first attempt breaks after 4 pieces (2 s in); the second streams the whole answer.
      script = (_question, attempt) => (attempt === 1 ? { text: `${answer} FIRST ATTEMPT`, chunkDelayMs: 500, breakAfterChunks: 4 } : { text: answer, chunkDelayMs: 150 });
      attempts.clear();
      const handle = await engine.start(agent, "temporal please");
      const events = await collect(handle.events());
      const end = events.at(-1) as Extract<RunEvent, { type: "end" }>;
      assert.equal(end.phase, "completed", JSON.stringify(events));
      assert.equal((end.result as { text: string }).text, answer);
      const restart = events.findIndex((event) => event.type === "restart");
      assert.ok(restart > 0, `a restart marker: ${JSON.stringify(events)}`);
      const before = events.slice(0, restart);
      const afterRestart = events.slice(restart);
      assert.ok(textBefore(before).length > 0, "the first attempt's text was shown");
      assert.ok(answer.startsWith(textBefore(before)) || `${answer} FIRST ATTEMPT`.startsWith(textBefore(before)));
      assert.equal(textBefore(afterRestart), answer, "after the marker, exactly the new attempt's text");
      // The marker says why the attempt failed, as the run's status does, and the terminal line with it.
      const marker = events[restart] as Extract<RunEvent, { type: "restart" }>;
      assert.match(marker.reason ?? "", /broke off before the answer was complete/, JSON.stringify(marker));
      assert.match(restartText(marker), /^llm openai:\S+ \(guide\): the attempt failed \(The connection to openai broke off before the answer was complete[^\n]*\); attempt 2 starts over$/);
    });
    script = (question) => turns[question] ?? { text: `unknown: ${question}` };
  });

  // Two branches, each a pattern of its own: child runs on both engines.
  const pair: PatternSpec = {
    pattern: "parallel",
    name: "pair",
    branches: [
      { pattern: "chain", name: "north", asChildWorkflow: true, steps: [{ name: "porto", instruction: "PORTO: describe Porto." }] },
      { pattern: "chain", name: "south", asChildWorkflow: true, steps: [{ name: "faro", instruction: "FARO: describe Faro." }] },
    ],
  };
  const described: Record<string, string> = {
    porto: "Porto climbs the hills above the Douro, with tiled churches and port cellars across the river.",
    faro: "Faro sits behind the lagoons of the Ria Formosa, with an old town inside its walls.",
  };
  const fanOut = async (engine: Engine) => {
    script = (_question, _attempt, call) => {
      const city = call.system?.includes("PORTO") ? "porto" : call.system?.includes("FARO") ? "faro" : undefined;
      // Slow enough (about 4 s a branch) that a watcher on a loaded machine still sees it arrive in pieces.
      return city ? { text: described[city]!, chunkDelayMs: 250 } : { text: "?" };
    };
    try {
      const handle = await engine.start({ kind: "pattern", name: "pair", spec: pair, workflow: patternWorkflow as DuragentWorkflow }, "two cities");
      const [events, faroOnly] = await Promise.all([collect(handle.events()), collect(handle.events({ agents: ["faro"] }))]);
      assert.equal(textBefore(faroOnly), described.faro, "only the named agent's text");
      assert.deepEqual(faroOnly.at(-1), events.at(-1), "the same end");
      const end = events.at(-1) as Extract<RunEvent, { type: "end" }>;
      assert.equal(end.phase, "completed", JSON.stringify(events));
      const texts = events.filter((event): event is Extract<RunEvent, { type: "text" }> => event.type === "text");
      const byCall = new Map<string, { agent?: string; text: string }>();
      for (const event of texts) byCall.set(event.id, { agent: event.agent, text: (byCall.get(event.id)?.text ?? "") + event.delta });
      assert.deepEqual(Object.fromEntries(byCall), {
        "north-1/llm-1": { agent: "porto", text: described.porto },
        "south-1/llm-1": { agent: "faro", text: described.faro },
      });
      assert.ok(texts.length > 2, "the branches' text came in pieces");
      // Each child run's steps, named by the branch's run.
      const steps = events.flatMap((event) => (event.type === "step" ? [`${event.run} ${event.number}: ${event.step}`] : [])).sort();
      assert.deepEqual(steps, ["north-1 1: llm openai:gpt-4.1-mini (porto)", "south-1 1: llm openai:gpt-4.1-mini (faro)"]);
      for (const city of ["porto", "faro"]) assert.ok((end.result as { text: string }).text.includes(described[city]!));
    } finally {
      script = (question) => turns[question] ?? { text: `unknown: ${question}` };
    }
  };

  test("memory engine: a fan-out of child patterns streams each branch's steps and text to the parent's watcher, labelled by branch and agent", async () => {
    const engine = memoryEngine(config);
    try {
      await fanOut(engine);
    } finally {
      await engine.close();
    }
  });

  test("Temporal: a fan-out of child workflows streams each branch's steps and text to the parent's watcher, labelled by branch and agent", { timeout: 120_000 }, async () => {
    await withTemporalWorker(temporal, config, fanOut);
  });

  test("Temporal: with no worker to answer, a status read returns in seconds with what the server knows, marked partial", { timeout: 60_000 }, async () => {
    const alone = { ...config, temporal: { ...config.temporal, address: temporal.address, taskQueue: `nobody-${randomUUID()}` } };
    const engine = await TemporalEngine.connect(alone, runSettingsFromConfig(alone));
    let lonely: string;
    try {
      const handle = await engine.start(agent, "is anyone there?");
      lonely = handle.runId;
      const status = await handle.status();
      assert.equal(status.phase, "running");
      assert.match(status.partial ?? "", new RegExp(`^no worker polls task queue '${alone.temporal.taskQueue}': its steps, questions and usage are not known until one does`));
      assert.deepEqual([status.stepCount, status.pending], [0, []]);
    } finally {
      await engine.close();
    }
    // With a worker polling that lacks the run's workflow, the status does not claim none is running.
    await withTemporalWorker(temporal, config, async (engine, served) => {
      // Read from a client of another task queue, where a worker polls: the run's own queue is the one named.
      const other = await (await engine.getHandle(lonely)).status();
      assert.match(other.partial ?? "", new RegExp(`^no worker polls task queue '${alone.temporal.taskQueue}' \\(the run's own; this client's is '[^']+'\\)`));
      await engine.client.workflow.getHandle(lonely).terminate("test over");
      const stray = await engine.client.workflow.start("noSuchWorkflow", { taskQueue: served.temporal.taskQueue, workflowId: `stray-${randomUUID()}`, args: [] });
      try {
        const status = await (await engine.getHandle(stray.workflowId)).status();
        assert.match(status.partial ?? "", /a worker polled task queue '.*' \(last seen \d+ s ago\), but none answered within 3 s: busy, stopped since, or without this run's workflow|workflow code keeps failing/);
      } finally {
        await stray.terminate("test over");
      }
    });
  });

  test("Temporal: streaming adds nothing to history (the same run with streaming off)", { timeout: 120_000 }, async () => {
    const long = Array.from({ length: 400 }, (_, index) => `word${index}`).join(" ");
    script = () => ({ text: long, chunkDelayMs: 1 });
    const measure = async (stream: boolean) => {
      const base = { ...config, llm: { ...config.llm, providers: { ...config.llm.providers, openai: { ...config.llm.providers.openai!, stream } } } };
      return withTemporalWorker(temporal, base, async (engine) => {
        const handle = await engine.start(agent, "history please");
        assert.equal(((await handle.result()) as { text: string }).text, long);
        return historyBytes(engine, handle.runId);
      });
    };
    const streamed = await measure(true);
    const plain = await measure(false);
    script = (question) => turns[question] ?? { text: `unknown: ${question}` };
    console.log(`history of one 400-word answer: streamed ${streamed.bytes} bytes in ${streamed.events} events; not streamed ${plain.bytes} bytes in ${plain.events} events`);
    assert.equal(streamed.events, plain.events);
    assert.ok(Math.abs(streamed.bytes - plain.bytes) / plain.bytes < 0.1, `${streamed.bytes} vs ${plain.bytes}`);
  });
});

async function historyBytes(engine: TemporalEngine, runId: string): Promise<{ bytes: number; events: number }> {
  const history = await engine.client.workflow.getHandle(runId).fetchHistory();
  return { bytes: JSON.stringify(history).length, events: history.events?.length ?? 0 };
}

test("events() ends with the run's own end only: a client that lost its way to the run (closed, Temporal gone) throws, rather than report the run failed", async () => {
  const { runEvents } = await import("../src/client/run-events.js");
  const { RunFailed } = await import("../src/client/engine.js");
  const status = async () => ({ runId: "r-1", phase: "waiting_input" as const, stepCount: 0, pending: [], usage: {} });
  // The nineteenth user test's: the gRPC call under `result()` failing after `client.close()`.
  const lost = new Error("Unexpected error while making gRPC request");
  const events: RunEvent[] = [];
  await assert.rejects(
    (async () => {
      for await (const event of runEvents({ status, result: () => Promise.reject(lost) }, { pollMs: 10 })) events.push(event);
    })(),
    lost,
  );
  assert.deepEqual(events, []);
  const ended: RunEvent[] = [];
  for await (const event of runEvents({ status, result: () => Promise.reject(new RunFailed("r-1", "cancelled", "the run was cancelled")) }, { pollMs: 10 })) ended.push(event);
  assert.deepEqual(ended, [{ type: "end", phase: "cancelled", error: "Run r-1 was cancelled: the run was cancelled" }]);
});

test("events() tells a partial status once while only its figures change, again when its words do, and once it reads whole", async () => {
  const { runEvents } = await import("../src/client/run-events.js");
  const reasons = ["no worker answered (last seen 5 s ago)", "no worker answered (last seen 8 s ago)", "no worker polls task queue 'q'", undefined];
  let read = 0;
  let finish!: (value: unknown) => void;
  const result = new Promise((resolve) => (finish = resolve));
  const status = async () => {
    const partial = reasons[Math.min(read++, reasons.length - 1)];
    if (read > reasons.length) finish("done");
    return { runId: "r-1", phase: "running" as const, stepCount: 0, pending: [], usage: {}, ...(partial ? { partial } : {}) };
  };
  const events: RunEvent[] = [];
  for await (const event of runEvents({ status, result: () => result }, { pollMs: 1 })) events.push(event);
  assert.deepEqual(
    events.filter((event) => event.type === "partial"),
    [
      { type: "partial", reason: "no worker answered (last seen 5 s ago)" },
      { type: "partial", reason: "no worker polls task queue 'q'" },
      { type: "partial" },
    ],
  );
});
