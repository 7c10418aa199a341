/**
 * `duragent serve`: duragent agents used as MCP tools, by another duragent agent (over stdio and
 * Streamable HTTP, both through the real CLI) and by an MCP SDK client (runs started and steered
 * by id, progress notifications, human input asked back through elicitation). HTTP guards: bearer
 * token, DNS-rebinding protection, refusal to serve off loopback without a token. MCP 2025-11-25 over
 * HTTP: logging (the run's steps and its MCP servers' log messages at the level the client set),
 * streams resumed with Last-Event-ID after a dropped connection, error responses that echo the
 * request id. One test serves runs from a real Temporal server.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import {
  CancelledNotificationSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  type CallToolResult,
  type ElicitRequest,
  type ElicitResult,
  type JSONRPCMessage,
  type LoggingMessageNotification,
  type Progress,
} from "@modelcontextprotocol/sdk/types.js";
import { Client as ModernClient, StreamableHTTPClientTransport as ModernHTTPTransport, type ElicitRequestParams as ModernElicitParams } from "@modelcontextprotocol/client";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { answerToQuestion } from "../src/client/answer-text.js";
import { describePending } from "../src/cli/status-text.js";
import { textOf } from "../src/common/messages.js";
import type { DuragentConfig } from "../src/config/schema.js";
import type { Engine } from "../src/client/engine.js";
import { loadRunTargets, type RunTarget } from "../src/client/run-targets.js";
import { BoundedEventStore } from "../src/serve/event-store.js";
import { startHttpMcpServer, UnsafeBinding, type HttpMcpListener } from "../src/serve/http.js";
import { duragentMcpServers, ServeSetupError, targetToolNames, type ServedRuns } from "../src/serve/mcp-server.js";
import { startScriptedModelServer, type ModelScript, type ScriptedCall, type ScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { bundleWorkflows } from "./support/runtime.js";
import { everythingServer, filesystemServer } from "./support/mcp-servers.js";
import { waitFor, waitForPhase } from "./support/wait.js";
import { memoryEngine, testConfig, withTemporalWorker } from "./support/runtime.js";
import { startTestTemporal } from "./support/temporal.js";
import { askedToStream } from "./support/model-requests.js";

const bin = fileURLToPath(new URL("../bin/duragent.js", import.meta.url));
const fixtures = fileURLToPath(new URL("./fixtures/human-workflows.ts", import.meta.url));
const loggingServer = { transport: "stdio", command: process.execPath, args: [fileURLToPath(new URL("./fixtures/logging-mcp-server.mjs", import.meta.url))] };
const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-serve-")));
writeFileSync(join(dir, "plan.txt"), "the plan");

// ---------------------------------------------------------------------------------------------
// The agents, told apart by their instructions, and one model script that plays all of them.

const lastToolResult = (call: ScriptedCall) => {
  const message = call.messages.findLast((candidate) => candidate.role === "tool");
  return message ? textOf(message.content) : undefined;
};

const script: ModelScript = (call) => {
  const system = call.system ?? "";
  const result = lastToolResult(call);
  if (system.includes("INNER")) return { text: `inner answer to '${textOf(call.messages[0]!.content)}': 42` };
  if (system.includes("OUTER")) {
    if (result !== undefined) return { text: `The inner agent says: ${result}` };
    const [tool, input] = system.includes("trips") ? ["inner_asker", "plan a trip"] : ["inner_helper", "what is the answer?"];
    return { toolCalls: [{ name: tool, arguments: { input } }] };
  }
  if (system.includes("ASKER")) {
    if (result === undefined) return { toolCalls: [{ name: "human_input", arguments: { question: "Which city?" } }] };
    return { text: `Going to ${result}` };
  }
  if (system.includes("LISTER")) {
    if (result === undefined) return { toolCalls: [{ name: "fs_list_directory", arguments: { path: dir } }], delayMs: 300 };
    return { text: "listed", delayMs: 300 };
  }
  if (system.includes("READER")) {
    if (result === undefined) return { toolCalls: [{ name: "fs_read_text_file", arguments: { path: join(dir, "plan.txt") } }] };
    return { text: `read: ${result}` };
  }
  if (system.includes("SLOW")) return { text: "finally", delayMs: 1_500 };
  if (system.includes("TELLER")) return { text: story, chunkDelayMs: 40 };
  if (system.includes("CHATTY")) {
    // Patiently: the call stays in flight long enough for a run on Temporal to heartbeat its logs.
    if (result === undefined) return { toolCalls: [{ name: "chatty_chat", arguments: { waitMs: system.includes("PATIENTLY") ? 2_500 : 0 } }] };
    return { text: `chat said: ${result}` };
  }
  if (system.includes("FORMS")) {
    if (result === undefined) return { toolCalls: [{ name: "everything_trigger-elicitation-request", arguments: {} }] };
    return { text: `server said: ${result}` };
  }
  if (system.includes("PAYER")) {
    if (result === undefined) {
      return { toolCalls: [{ name: "everything_trigger-url-elicitation", arguments: { url: "https://example.com/pay?order=7", message: "Pay here" } }] };
    }
    return { text: `server said: ${result}` };
  }
  return { error: { status: 400, message: `no script for system prompt '${system}'` } };
};

const story = "Once a ferry crossed the Douro every hour, and the bridge builders watched it from the hill.";

const agents = {
  teller: { instruction: "TELLER: tell stories." },
  helper: { instruction: "INNER: answer questions." },
  asker: { instruction: "ASKER: plan trips.", description: "Plans trips, asking where to.", humanInput: true },
  lister: { instruction: "LISTER: list files.", servers: ["fs"] },
  reader: { instruction: "READER: read files.", servers: ["fs"] },
  slow: { instruction: "SLOW: think." },
  forms: { instruction: "FORMS: fill in forms.", servers: ["everything"] },
  payer: { instruction: "PAYER: pay.", servers: ["everything"] },
  chatty: { instruction: "CHATTY: chat.", servers: ["chatty"] },
  chatter: { instruction: "CHATTY, PATIENTLY: chat.", servers: ["chatty"] },
};

let model: ScriptedModelServer;
before(async () => {
  model = await startScriptedModelServer(script, { quiet: true });
});
after(async () => {
  await model?.close();
  rmSync(dir, { recursive: true, force: true });
});

function innerConfig(): DuragentConfig {
  return testConfig(model, {
    agents,
    mcp: { servers: { fs: filesystemServer(dir), everything: everythingServer(), chatty: loggingServer } },
    approvals: { tools: ["fs_read_text_file"] },
    modules: [fixtures],
    workflows: { relay: { pattern: "chain", description: "Hands the message to the helper, then answers.", steps: ["helper"] } },
  });
}

/** The inner config as a file, for `duragent serve` subprocesses. */
function innerConfigFile(): string {
  const path = join(dir, `inner-${Math.random().toString(36).slice(2)}.yaml`);
  const served = { helper: agents.helper, asker: agents.asker };
  writeFileSync(path, JSON.stringify({ llm: { providers: { openai: { apiKey: "test", baseURL: model.openaiBaseURL } } }, agents: served }));
  return path;
}

const outer: RunTarget = {
  kind: "agent",
  name: "outer",
  agent: { name: "outer", instruction: "OUTER: delegate to the inner agent.", servers: ["inner"] },
};

async function askOuterAgent(innerServer: Record<string, unknown>): Promise<string> {
  const engine = memoryEngine(testConfig(model, { mcp: { servers: { inner: innerServer } } }));
  try {
    const handle = await engine.start(outer, "ask the inner agent");
    return ((await handle.result()) as { text: string }).text;
  } finally {
    await engine.close();
  }
}

// ---------------------------------------------------------------------------------------------
// MCP client helpers

/** An engine as the server sees runs (the client's shape). */
function servedRuns(engine: Engine): ServedRuns {
  return { start: (target, input, options) => engine.start(target, input, options), getHandle: (id) => engine.getHandle(id), list: ({ limit, ...filters }) => engine.list(limit, filters) };
}

type ToolResult = CallToolResult;

async function connect(
  engine: Engine,
  config: DuragentConfig,
  options: { waitTimeoutMs?: number; elicit?: (request: ElicitRequest, extra: { requestId: string | number }) => Promise<ElicitResult>; urlElicitation?: boolean } = {},
) {
  const server = duragentMcpServers({
    targets: await loadRunTargets(config),
    runs: servedRuns(engine),
    ...(options.waitTimeoutMs ? { waitTimeoutMs: options.waitTimeoutMs } : {}),
  })("legacy");
  const elicitation = options.urlElicitation ? { form: {}, url: {} } : { form: {} };
  const client = new Client({ name: "serve-test", version: "1" }, options.elicit ? { capabilities: { elicitation } } : {});
  if (options.elicit) client.setRequestHandler(ElicitRequestSchema, options.elicit);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  await client.connect(clientSide);
  const call = async (name: string, args: Record<string, unknown>, requestOptions: { onprogress?: (progress: Progress) => void; signal?: AbortSignal } = {}) =>
    (await client.callTool({ name, arguments: args }, undefined, requestOptions)) as ToolResult;
  return { client, call, close: () => client.close() };
}

function text(result: ToolResult): string {
  return result.content.flatMap((part) => (part.type === "text" ? [part.text] : [])).join("\n");
}

function structured(result: ToolResult): Record<string, unknown> {
  assert.ok(!result.isError, `tool failed: ${text(result)}`);
  assert.ok(result.structuredContent, `no structured content in: ${text(result)}`);
  return result.structuredContent;
}

function statusUntil(call: Call, runId: string, phase: string): Promise<Record<string, unknown>> {
  return waitFor(`run ${runId} to be ${phase}`, async () => {
    const status = structured(await call("run_status", { runId }));
    return status.phase === phase ? status : undefined;
  });
}

type Call = Awaited<ReturnType<typeof connect>>["call"];

/** The run ids the server holds now. */
async function knownRuns(call: Call): Promise<Set<string>> {
  const { runs } = structured(await call("runs_list", { limit: 100 }));
  return new Set((runs as { runId: string }[]).map((run) => run.runId));
}

/** The run of `target` the server starts next, once it has: one not among `before`. */
function nextRun(call: Call, target: string, before: Set<string>): Promise<string> {
  return waitFor(`a new ${target} run`, async () => {
    const { runs } = structured(await call("runs_list", { limit: 100 }));
    return (runs as { runId: string }[]).find((run) => run.runId.startsWith(`${target}-`) && !before.has(run.runId))?.runId;
  });
}

const runIdIn = (value: string) => /\b((?:asker|askForBudget|reader|slow|helper)-[0-9a-f]{8})\b/.exec(value)?.[1];

// ---------------------------------------------------------------------------------------------

describe("a duragent agent uses another duragent agent over MCP", () => {
  test("over stdio: `duragent serve --transport stdio` as the outer agent's MCP server", async () => {
    const answer = await askOuterAgent({ command: process.execPath, args: [bin, "--config", innerConfigFile(), "serve", "--transport", "stdio"] });
    assert.equal(answer, "The inner agent says: inner answer to 'what is the answer?': 42");
  });

  test("over Streamable HTTP: `duragent serve --transport http` with a token", async () => {
    const serve = spawn(process.execPath, [bin, "--config", innerConfigFile(), "--json", "serve", "--transport", "http", "--port", "0", "--token", "s3cret"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const { url, tools } = await firstJsonLine<{ url: string; tools: string[] }>(serve);
      assert.deepEqual(tools, ["helper", "asker"]);
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
      const answer = await askOuterAgent({ url, headers: { Authorization: "Bearer s3cret" } });
      assert.equal(answer, "The inner agent says: inner answer to 'what is the answer?': 42");
    } finally {
      await stop(serve);
    }
  });
});

test("the inner agent's question becomes the outer run's question, and the person's answer travels back", async () => {
  const engine = memoryEngine(
    testConfig(model, { mcp: { servers: { inner: { command: process.execPath, args: [bin, "--config", innerConfigFile(), "serve"] } } } }),
  );
  try {
    const planner: RunTarget = { kind: "agent", name: "planner", agent: { name: "planner", instruction: "OUTER: plan trips.", servers: ["inner"] } };
    const handle = await engine.start(planner, "plan my trip");
    const status = await waitForPhase(handle, "waiting_input");
    const [question] = status.pending;
    assert.ok(question?.kind === "input", JSON.stringify(status));
    // Asked by the inner serve in an input_required result (MCP 2026-07-28), which names its own run.
    assert.match(question.prompt, /^Which city\?\s+\(run asker-[0-9a-f]{8}, input-1\)$/);
    assert.deepEqual(question.origin, { server: "inner", tool: "asker", kind: "elicitation" });
    // The inner question is plain text, and reads and is answered as such, not as a one-field JSON form.
    assert.match(describePending(question), /\(answer as text\)$/);
    // A run's own question of one field still wants its JSON: only a server's form takes a bare answer.
    const own = { kind: "input" as const, id: "input-1", prompt: "Budget?", schema: { type: "object", properties: { amount: { type: "number" } }, required: ["amount"] } };
    assert.match(describePending(own), /\(answer as JSON: \{"amount": a number\}\)$/);
    await handle.answer({ value: answerToQuestion("Lisbon", question) });
    assert.equal(((await handle.result()) as { text: string }).text, "The inner agent says: Going to Lisbon");
  } finally {
    await engine.close();
  }
});

describe("an MCP client drives duragent runs (memory engine)", () => {
  let engine: Engine;
  let config: DuragentConfig;
  before(() => {
    config = innerConfig();
    engine = memoryEngine(config);
  });
  after(async () => {
    await engine?.close();
  });

  test("tools: one pair per agent and workflow, with zod-derived input schemas, and the control tools", async () => {
    const { client, close } = await connect(engine, config);
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    for (const name of ["helper", "helper_start", "asker", "askForBudget", "askForBudget_start", "run_status", "run_input", "run_approve", "run_reject", "run_pause", "run_resume", "run_cancel", "runs_list"]) {
      assert.ok(names.includes(name), `missing tool ${name} in ${names.join(", ")}`);
    }
    const helper = tools.find((tool) => tool.name === "helper")!;
    assert.deepEqual(helper.inputSchema.required, ["input"]);
    assert.deepEqual(helper.inputSchema.properties?.input, { type: "string", description: "The message for the agent." });
    // An agent's tool shows its description when it has one, and quotes its instruction when not.
    assert.match(tools.find((tool) => tool.name === "asker")?.description ?? "", /^Asks the duragent agent 'asker'\. Plans trips, asking where to\. Waits up to/);
    assert.match(helper.description ?? "", /^Asks the duragent agent 'helper'\. Its instructions: INNER: answer questions\. Waits up to/);
    // A pattern's tool says what its description says.
    assert.match(tools.find((tool) => tool.name === "relay")?.description ?? "", /^Runs the duragent chain workflow 'relay'\. Hands the message to the helper, then answers\. Waits up to/);
    await close();
  });

  test("tool names are valid MCP (and model API) names; a clash is refused with what to rename", () => {
    const agent = (name: string): [string, RunTarget] => [name, { kind: "agent", name, agent: { name, instruction: "x" } }];
    assert.deepEqual([...targetToolNames(new Map([agent("research team.v2")])).values()], ["research_team_v2"]);
    assert.throws(() => targetToolNames(new Map([agent("run_status")])), (error: unknown) => {
      assert.ok(error instanceof ServeSetupError);
      assert.match(error.message, /'run_status' \(from agent 'run_status'\) is already a built-in control tool.*Rename/s);
      return true;
    });
    assert.throws(() => targetToolNames(new Map([agent("a b"), agent("a_b")])), /'a_b' \(from agent 'a_b'\) is already the tool of agent 'a b'/);
  });

  test("<name>_start returns a run id; run_status follows it and run_input answers its question", async () => {
    const { call, close } = await connect(engine, config);
    const { runId } = structured(await call("asker_start", { input: "plan a trip" }));
    assert.equal(typeof runId, "string");
    const waiting = await statusUntil(call, String(runId), "waiting_input");
    assert.deepEqual((waiting.pending as { id: string; prompt: string }[]).map(({ id, prompt }) => ({ id, prompt })), [{ id: "input-1", prompt: "Which city?" }]);
    // runs_list finds the runs waiting for a person, and a target's runs, among all the others.
    const listed = async (args: Record<string, unknown>) => (structured(await call("runs_list", { limit: 100, ...args })).runs as { runId: string; phase: string; target?: string }[]);
    const waitingRuns = await listed({ phase: "waiting_input" });
    assert.ok(waitingRuns.some((run) => run.runId === runId));
    assert.ok(waitingRuns.every((run) => run.phase === "waiting_input"));
    // `waiting` takes in both kinds of waiting for a person.
    assert.ok((await listed({ phase: "waiting" })).some((run) => run.runId === runId));
    assert.ok(!(await listed({ phase: "waiting_approval" })).some((run) => run.runId === runId));
    const askerRuns = await listed({ target: "asker" });
    assert.ok(askerRuns.some((run) => run.runId === runId) && askerRuns.every((run) => run.target === "asker"));
    assert.ok(!(await listed({ target: "helper" })).some((run) => run.runId === runId));
    assert.equal((await call("runs_list", { phase: "asleep" })).isError, true);

    await call("run_input", { runId, answer: "Lisbon" }).then((result) => assert.ok(!result.isError, text(result)));
    const done = await statusUntil(call, String(runId), "completed");
    assert.equal((done.result as { text: string }).text, "Going to Lisbon");

    const late = await call("run_input", { runId, answer: "Porto" });
    assert.equal(late.isError, true);
    const unknown = await call("run_status", { runId: "nope-12345678" });
    assert.equal(unknown.isError, true);
    assert.match(text(unknown), /No run 'nope-12345678'/);
    await close();
  });

  test("run_input refuses an answer that does not fit the schema; a JSON string answer is parsed", async () => {
    const { call, close } = await connect(engine, config);
    const { runId } = structured(await call("askForBudget_start", { input: {} }));
    await statusUntil(call, String(runId), "waiting_input");
    const refused = await call("run_input", { runId, answer: { amount: -3 } });
    assert.equal(refused.isError, true);
    assert.match(text(refused), /input-1 is invalid.*amount/s);
    await call("run_input", { runId, answer: '{"amount": 5}' }).then((result) => assert.ok(!result.isError, text(result)));
    const done = await statusUntil(call, String(runId), "completed");
    assert.deepEqual(done.result, { status: "answered", value: { amount: 5, currency: "EUR" } });
    await close();
  });

  test("progress of the inner run reaches a caller that asked for it", async () => {
    const { call, close } = await connect(engine, config);
    const progress: Progress[] = [];
    const result = await call("lister", { input: "list" }, { onprogress: (update) => progress.push(update) });
    assert.equal(text(result), "listed");
    // MCP does not order notifications against the result, so late ones may still be on their way.
    await waitFor(`several progress notifications (got ${JSON.stringify(progress)})`, () => (progress.length >= 2 ? true : undefined), 10_000);
    for (let index = 1; index < progress.length; index++) assert.ok(progress[index]!.progress > progress[index - 1]!.progress);
    assert.ok(progress.some((update) => /^step \d+: llm openai:/.test(update.message ?? "")), JSON.stringify(progress));
    await close();
  });

  test("a streaming answer: progress notifications carry the text so far before the call ends; the result is the whole answer", async () => {
    const { call, close } = await connect(engine, config);
    const progress: Progress[] = [];
    let ended = false;
    const whileGoing: string[] = [];
    const result = await call("teller", { input: "a story" }, {
      onprogress: (update) => {
        progress.push(update);
        if (!ended) whileGoing.push(update.message ?? "");
      },
    }).finally(() => (ended = true));
    assert.equal(text(result), story);
    const prefix = /^step \d+: llm openai:[^:]+ \(teller\): (.*)$/s;
    const texts = whileGoing.flatMap((message) => prefix.exec(message)?.[1] ?? []);
    assert.ok(texts.some((partial) => partial.length > 0 && partial.length < story.length), `part of the text before the end: ${JSON.stringify(progress)}`);
    for (const partial of texts) assert.ok(story.startsWith(partial), `'${partial}' is the answer so far`);
    await close();
  });

  test("the inner run's questions go to a caller that supports elicitation; refused answers are asked again", async () => {
    const asked: ElicitRequest["params"][] = [];
    const answers: ElicitResult[] = [
      { action: "accept", content: { answer: "Porto" } },
      { action: "accept", content: { amount: -1, currency: "EUR" } },
      { action: "accept", content: { amount: 70, currency: "USD" } },
    ];
    const { call, close } = await connect(engine, config, {
      elicit: async (request) => {
        asked.push(request.params);
        return answers.shift() ?? { action: "cancel" };
      },
    });
    assert.equal(text(await call("asker", { input: "plan a trip" })), "Going to Porto");
    assert.equal(asked[0]!.message, "Which city?");
    assert.deepEqual(asked[0]!.mode === "form" && asked[0]!.requestedSchema.required, ["answer"]);

    const budget = await call("askForBudget", { input: {} });
    assert.deepEqual(JSON.parse(text(budget)), { status: "answered", value: { amount: 70, currency: "USD" } });
    // A workflow's object value is the call's structured output too.
    assert.deepEqual(budget.structuredContent, { status: "answered", value: { amount: 70, currency: "USD" } });
    const form = asked[1]!;
    assert.ok(form.mode === "form" || form.mode === undefined);
    assert.equal(form.message, "What is the budget?");
    assert.equal("requestedSchema" in form && form.requestedSchema.properties.amount?.type, "number");
    assert.match(asked[2]!.message, /previous answer was refused.*amount/s);
    await close();
  });

  test("a question answered elsewhere while the caller's form is open: the form is withdrawn, and the call returns the run's answer", async () => {
    let formOpen!: (id: string | number) => void;
    const opened = new Promise<string | number>((resolve) => (formOpen = resolve));
    // A person away from the form: it stays open until the server withdraws it.
    const { client, call, close } = await connect(engine, config, { elicit: (_request, extra) => (formOpen(extra.requestId), new Promise<never>(() => {})) });
    // Watched here rather than through the handler's signal: SDK 1.x ignores a cancellation of request id 0.
    const withdrawn: (string | number)[] = [];
    client.setNotificationHandler(CancelledNotificationSchema, (notification) => void withdrawn.push(notification.params.requestId!));
    const before = await knownRuns(call);
    const answer = call("asker", { input: "plan a trip" });
    const formId = await opened;
    const runId = await nextRun(call, "asker", before);
    // Someone else answers, as `duragent answer` does.
    await (await engine.getHandle(runId)).answer({ requestId: "input-1", value: "Lagos" });
    const result = await answer;
    assert.ok(!result.isError, text(result));
    assert.equal(text(result), "Going to Lagos");
    await waitFor("the open form to be withdrawn", () => (withdrawn.includes(formId) ? true : undefined));
    await close();
  });

  test("a declined question stays open: the call returns the run id, and run_input answers later", async () => {
    const { call, close } = await connect(engine, config, { elicit: async () => ({ action: "decline" }) });
    const result = await call("asker", { input: "plan a trip" });
    assert.ok(!result.isError, text(result));
    assert.match(text(result), /is waiting for you\. You declined the question; it is still open\..*It asks \(input-1\): Which city\?.*run_input/s);
    const runId = runIdIn(text(result))!;
    await call("run_input", { runId, answer: "Faro" });
    assert.equal(((await statusUntil(call, runId, "completed")).result as { text: string }).text, "Going to Faro");
    await close();
  });

  test("an MCP server of the inner run asks: the question reaches the caller, and its answer, decline or URL visit reaches the server", async () => {
    const replies: ElicitResult[] = [{ action: "accept", content: { name: "Ada Lovelace" } }, { action: "decline" }, { action: "accept" }];
    const asked: ElicitRequest["params"][] = [];
    const { call, close } = await connect(engine, config, {
      urlElicitation: true,
      elicit: async (request) => {
        asked.push(request.params);
        return replies.shift() ?? { action: "cancel" };
      },
    });
    const accepted = text(await call("forms", { input: "fill it in" }));
    assert.match(accepted, /^server said: .*User provided the requested information.*Name: Ada Lovelace/s);
    // The run filled in the server's defaults before the server saw the answer.
    assert.match(accepted, /Favorite Integer: 42/);
    assert.equal(asked[0]!.message, "Please provide inputs for the following fields:");

    assert.match(text(await call("forms", { input: "fill it in" })), /^server said: .*User declined/s);

    assert.match(text(await call("payer", { input: "pay" })), /^server said: .*User completed the URL elicitation flow/s);
    const visit = asked[2]!;
    assert.equal(visit.mode, "url");
    assert.equal(visit.mode === "url" && visit.url, "https://example.com/pay?order=7");
    await close();
  });

  test("without elicitation, an MCP server's question is left for run_input, which may decline it", async () => {
    const { call, close } = await connect(engine, config);
    const result = text(await call("forms", { input: "fill it in" }));
    assert.match(result, /It asks its MCP server everything \(during trigger-elicitation-request\) \(input-1\).*"action":"decline"/s);
    const runId = /\b(forms-[0-9a-f]{8})\b/.exec(result)![1]!;
    await call("run_input", { runId, action: "decline" }).then((declined) => assert.ok(!declined.isError, text(declined)));
    assert.match(((await statusUntil(call, runId, "completed")).result as { text: string }).text, /User declined/);
    await close();
  });

  test("a gated tool call: the call returns at once with the approval to give; run_approve lets it run", async () => {
    const { call, close } = await connect(engine, config);
    const result = await call("reader", { input: "read the plan" });
    assert.match(text(result), /waits for approval \(approval-1\) to call fs\/read_text_file.*run_approve/s);
    const runId = runIdIn(text(result))!;
    await call("run_approve", { runId }).then((approved) => assert.ok(!approved.isError, text(approved)));
    assert.equal(((await statusUntil(call, runId, "completed")).result as { text: string }).text, "read: the plan");
    const again = await call("run_approve", { runId });
    assert.equal(again.isError, true);
    await close();
  });

  test("a long run: the wait times out with the run id; pause, resume, cancel and runs_list steer it", async () => {
    const { call, close } = await connect(engine, config, { waitTimeoutMs: 200 });
    const result = await call("slow", { input: "think" });
    assert.ok(!result.isError, text(result));
    assert.match(text(result), /is still running; this call stopped waiting for it\..*run_status/s);
    const runId = runIdIn(text(result))!;

    await call("run_pause", { runId });
    await statusUntil(call, runId, "paused");
    await call("run_resume", { runId });
    await statusUntil(call, runId, "running");
    await call("run_cancel", { runId });
    await statusUntil(call, runId, "cancelled");
    const { runs } = structured(await call("runs_list", { limit: 50 }));
    assert.ok((runs as { runId: string; phase: string }[]).some((run) => run.runId === runId && run.phase === "cancelled"));
    await close();
  });

  test("a caller that cancels its waiting call cancels the run it started", async () => {
    const { call, close } = await connect(engine, config);
    const controller = new AbortController();
    const before = await knownRuns(call);
    const waiting = call("slow", { input: "think" }, { signal: controller.signal });
    const runId = await nextRun(call, "slow", before);
    await statusUntil(call, runId, "running");
    controller.abort("changed my mind");
    await assert.rejects(waiting);
    await statusUntil(call, runId, "cancelled");
    await close();
  });

  test("a caller whose connection drops leaves its run going, to be followed from another connection", async () => {
    const first = await connect(engine, config);
    const before = await knownRuns(first.call);
    const waiting = first.call("slow", { input: "think" });
    const runId = await nextRun(first.call, "slow", before);
    await first.close();
    await assert.rejects(waiting);
    const { call, close } = await connect(engine, config);
    assert.equal(((await statusUntil(call, runId, "completed")).result as { text: string }).text, "finally");
    await close();
  });
});

describe("Streamable HTTP guards", () => {
  let engine: Engine;
  let config: DuragentConfig;
  let listener: HttpMcpListener;
  before(async () => {
    config = testConfig(model, { agents: { helper: agents.helper } });
    engine = memoryEngine(config);
    const targets = await loadRunTargets(config);
    listener = await startHttpMcpServer({ host: "127.0.0.1", port: 0, token: "s3cret", createServer: duragentMcpServers({ targets, runs: servedRuns(engine) }) });
  });
  after(async () => {
    await listener?.close();
    await engine?.close();
  });

  const initialize = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  });

  function post(headers: Record<string, string>, url = listener.url): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(url, { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers } }, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") }));
      });
      request.on("error", reject);
      request.end(initialize);
    });
  }

  test("no token or a wrong one: 401", async () => {
    const missing = await post({});
    assert.equal(missing.status, 401);
    assert.equal(missing.headers["www-authenticate"], 'Bearer realm="duragent"');
    assert.match(missing.body, /bearer token/);
    assert.equal((await post({ Authorization: "Bearer wrong" })).status, 401);
  });

  test("a Host or Origin that is not this server is refused (DNS rebinding)", async () => {
    const host = await post({ Authorization: "Bearer s3cret", Host: "evil.example:80" });
    assert.equal(host.status, 403);
    assert.match(host.body, /Host 'evil.example:80' is not allowed/);
    assert.equal((await post({ Authorization: "Bearer s3cret", Origin: "http://evil.example" })).status, 403);
    const ok = await post({ Authorization: "Bearer s3cret", Origin: `http://localhost:${listener.port}` });
    assert.equal(ok.status, 200, ok.body);
  });

  test("with the token, an MCP client lists and calls tools", async () => {
    const client = new Client({ name: "http-test", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(listener.url), { requestInit: { headers: { Authorization: "Bearer s3cret" } } }));
    const result = (await client.callTool({ name: "helper", arguments: { input: "hi" } })) as ToolResult;
    assert.equal(text(result), "inner answer to 'hi': 42");
    await client.close();
  });

  test("loopback needs no token, but keeps DNS-rebinding protection", async () => {
    const targets = await loadRunTargets(config);
    const open = await startHttpMcpServer({ host: "127.0.0.1", port: 0, createServer: duragentMcpServers({ targets, runs: servedRuns(engine) }) });
    try {
      assert.equal((await post({}, open.url)).status, 200);
      assert.equal((await post({ Host: "attacker.example" }, open.url)).status, 403);
    } finally {
      await open.close();
    }
  });

  test("a stdio client that closes our input mid-call ends the session: serve exits and leaves no MCP server behind", async () => {
    const marker = `closed-input-${Math.random().toString(36).slice(2)}`;
    const path = join(dir, `${marker}.yaml`);
    const chatty = { ...loggingServer, args: [...loggingServer.args, marker] };
    writeFileSync(path, JSON.stringify({ llm: { providers: { openai: { apiKey: "test", baseURL: model.openaiBaseURL } } }, mcp: { servers: { chatty } }, agents: { chatty: agents.chatty } }));
    const lines = [
      { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "closer", version: "1" } } },
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "chatty", arguments: { input: "chat a while" } } },
    ];
    const serve = spawn(process.execPath, [bin, "--config", path, "serve"], { stdio: ["pipe", "pipe", "pipe"] });
    let stderr = "";
    serve.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
    serve.stdin!.end(lines.map((line) => JSON.stringify(line)).join("\n") + "\n");
    const killer = setTimeout(() => serve.kill("SIGKILL"), 30_000);
    const [code, signal] = (await once(serve, "exit")) as [number | null, NodeJS.Signals | null];
    clearTimeout(killer);
    assert.equal(signal, null, `serve was still running 30 s after its input closed\n${stderr}`);
    assert.equal(code, 0, stderr);
    const left = spawnSync("ps", ["-eo", "args"], { encoding: "utf8" }).stdout.split("\n").filter((line) => line.includes(marker));
    assert.deepEqual(left, [], "no MCP server process is left");
  });

  test("started by npx, serve stops when npx is gone: npm does not pass SIGTERM on", async () => {
    // npx runs `sh -c <command>`, and a SIGTERM to npx ends npx and the shell, not the command.
    const launcher = spawn("sh", ["-c", `"${process.execPath}" "${bin}" --config "${innerConfigFile()}" serve --transport http --port 0; true`], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, npm_command: "exec" },
    });
    let stderr = "";
    launcher.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
    await waitFor("serve listening", () => (/http:\/\/127\.0\.0\.1:\d+/.test(stderr) ? true : undefined), 30_000);
    // The served process holds the pipes: they close when it exits, not when the shell does.
    const closed = once(launcher.stderr!, "close");
    launcher.kill("SIGKILL");
    let leftBehind = false;
    const killer = setTimeout(() => {
      leftBehind = true;
      spawnSync("pkill", ["-f", `${bin}.*serve --transport http --port 0`]);
    }, 30_000);
    await closed;
    clearTimeout(killer);
    assert.equal(leftBehind, false, `serve was still running 30 s after npx was gone\n${stderr}`);
    assert.doesNotMatch(stderr, /unexpected error/);
  });

  test("DURAGENT_SERVE_STATE_KEY that is not a 32-byte key: refuses to start, naming the variable and not echoing it", () => {
    const cli = spawnSync(process.execPath, [bin, "--config", innerConfigFile(), "serve", "--transport", "http", "--port", "0"], {
      encoding: "utf8",
      env: { ...process.env, DURAGENT_SERVE_STATE_KEY: "c2hvcnQta2V5" },
    });
    assert.notEqual(cli.status, 0, cli.stderr);
    assert.match(cli.stderr, /DURAGENT_SERVE_STATE_KEY: the key in the environment variable is 9 bytes; the requestState seal needs 32\./);
    assert.doesNotMatch(cli.stderr, /c2hvcnQta2V5|at .*\.js:\d+/);
  });

  test("a non-loopback host without a token: refuses to start", async () => {
    await assert.rejects(
      startHttpMcpServer({ host: "0.0.0.0", port: 0, createServer: () => assert.fail("must not serve") }),
      (error: unknown) => error instanceof UnsafeBinding,
    );
    const cli = spawnSync(process.execPath, [bin, "--config", innerConfigFile(), "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "0"], {
      encoding: "utf8",
      env: { ...process.env, DURAGENT_SERVE_TOKEN: "" },
    });
    assert.equal(cli.status, 2, cli.stderr);
    assert.match(cli.stderr, /duragent: Refusing to serve on 0\.0\.0\.0 without a token.*--token/s);
  });
});

describe("Streamable HTTP, MCP 2025-11-25: logging, resumable streams, error ids", () => {
  let engine: Engine;
  let listener: HttpMcpListener;
  before(async () => {
    const config = innerConfig();
    engine = memoryEngine(config);
    const targets = await loadRunTargets(config);
    listener = await startHttpMcpServer({ host: "127.0.0.1", port: 0, createServer: duragentMcpServers({ targets, runs: servedRuns(engine) }) });
  });
  after(async () => {
    await listener?.close();
    await engine?.close();
  });

  async function httpClient(fetchWith?: typeof fetch) {
    const client = new Client({ name: "http-2025-11-25", version: "1" });
    const transport = new StreamableHTTPClientTransport(new URL(listener.url), fetchWith ? { fetch: fetchWith } : {});
    await client.connect(transport);
    return { client, transport };
  }

  test("logging: declared; the run's steps and its MCP server's log messages arrive at or above the level the client set", async () => {
    const { client } = await httpClient();
    assert.deepEqual(client.getServerCapabilities()?.logging, {});
    const messages: LoggingMessageNotification["params"][] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      messages.push(notification.params);
    });

    assert.deepEqual(await client.setLoggingLevel("warning"), {});
    assert.equal(text((await client.callTool({ name: "chatty", arguments: { input: "chat" } })) as ToolResult), "chat said: chatted");
    assert.deepEqual(messages, [{ level: "warning", logger: "chatty/kitchen", data: "chat: the coffee is cold" }]);

    messages.length = 0;
    await client.setLoggingLevel("debug");
    assert.equal(text((await client.callTool({ name: "chatty", arguments: { input: "chat" } })) as ToolResult), "chat said: chatted");
    const levels = messages.map((message) => message.level);
    assert.ok(messages.some((message) => message.logger === "duragent" && /^run chatty-[0-9a-f]{8}: step \d+: llm openai:/.test(String(message.data))), JSON.stringify(messages));
    const fromServer = messages.filter((message) => message.logger?.startsWith("chatty"));
    assert.deepEqual(fromServer, [
      { level: "debug", logger: "chatty", data: "chat: details nobody asked for" },
      { level: "info", logger: "chatty", data: { event: "chat started" } },
      { level: "warning", logger: "chatty/kitchen", data: "chat: the coffee is cold" },
    ]);
    assert.ok(levels.includes("info"));
    await client.close();
  });

  test("a POST stream opens with a priming event (id, retry:); after a dropped connection, GET with Last-Event-ID replays the call's answer", async () => {
    const { client, transport } = await httpClient();
    const before = await knownRunsOf(client);
    const headers = { "mcp-session-id": transport.sessionId!, "mcp-protocol-version": "2025-11-25" };
    // An id the SDK client sharing the session never uses (it counts from 0).
    const call = { jsonrpc: "2.0", id: "resume-1", method: "tools/call", params: { name: "slow", arguments: { input: "think" } } };
    const post = await openSse(listener.url, { method: "POST", headers, body: JSON.stringify(call) });
    assert.equal(post.status, 200);
    assert.match(String(post.headers["content-type"]), /text\/event-stream/);
    const priming = await post.next();
    assert.ok(priming?.id, "the first event has an id");
    assert.equal(priming.retry, 1_000);
    assert.equal(priming.data, "");
    post.close();

    // The run goes on without the connection; its answer waits in the session's event store.
    const runId = await waitFor("the slow run", async () => (await knownRunsOf(client)).find((id) => id.startsWith("slow-") && !before.includes(id)));
    await waitFor(`run ${runId} to complete`, async () => {
      const status = structured((await client.callTool({ name: "run_status", arguments: { runId } })) as ToolResult);
      return status.phase === "completed" ? true : undefined;
    });
    const resumed = await openSse(listener.url, { method: "GET", headers: { ...headers, "last-event-id": priming.id } });
    assert.equal(resumed.status, 200);
    // What was sent meanwhile comes first (the run's steps, as log messages), then the answer.
    const replayed: (JSONRPCMessage & { method?: string; result?: CallToolResult })[] = [];
    while (!replayed.some((message) => "id" in message && message.id === "resume-1")) replayed.push(JSON.parse((await resumed.next())!.data));
    resumed.close();
    assert.ok(replayed.some((message) => message.method === "notifications/message"), JSON.stringify(replayed));
    assert.equal(text(replayed.at(-1)!.result!), "finally");

    const unknown = await openSse(listener.url, { method: "GET", headers: { ...headers, "last-event-id": "not-an-event-id" } });
    assert.equal(unknown.status, 400);
    unknown.close();
    await client.close();
  });

  test("the MCP SDK client whose POST stream drops mid-call reconnects with Last-Event-ID and gets the answer", async () => {
    const requests: string[] = [];
    let dropped = false;
    // Lets the priming event through, then fails the stream the way a lost connection does.
    const flaky: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      const body = typeof init?.body === "string" ? init.body : "";
      requests.push(`${init?.method ?? "GET"} ${headers.get("last-event-id") ? "Last-Event-ID" : ""} ${body.includes('"tools/call"') ? "tools/call" : ""}`.trim());
      const response = await fetch(input, init);
      if (dropped || init?.method !== "POST" || !body.includes('"tools/call"') || !response.body) return response;
      dropped = true;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let seen = "";
      const cut = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await reader.read();
          if (done) return controller.close();
          controller.enqueue(value);
          seen += decoder.decode(value, { stream: true });
          if (seen.includes("\n\n")) {
            await reader.cancel();
            controller.error(new TypeError("terminated: the connection was lost"));
          }
        },
      });
      return new Response(cut, { status: response.status, headers: response.headers });
    };
    const { client } = await httpClient(flaky);
    const result = (await client.callTool({ name: "slow", arguments: { input: "think" } })) as ToolResult;
    assert.equal(text(result), "finally");
    assert.ok(dropped);
    assert.ok(requests.includes("GET Last-Event-ID"), requests.join(", "));
    await client.close();
  });

  test("error responses echo the id of the request they answer, when it could be read", async () => {
    const list = { jsonrpc: "2.0", id: 7, method: "tools/list", params: {} };
    const noSession = await postRaw(listener.url, JSON.stringify(list));
    assert.equal(noSession.status, 400);
    assert.deepEqual(JSON.parse(noSession.body), { jsonrpc: "2.0", error: { code: -32000, message: "No Mcp-Session-Id header: send an initialize request first." }, id: 7 });

    const goneSession = await postRaw(listener.url, JSON.stringify({ ...list, id: "seven" }), { "mcp-session-id": "gone" });
    assert.equal(goneSession.status, 404);
    assert.equal(JSON.parse(goneSession.body).id, "seven");
    assert.equal(JSON.parse(goneSession.body).error.code, -32001);

    const notJson = await postRaw(listener.url, "{ nope");
    assert.equal(notJson.status, 400);
    assert.deepEqual(JSON.parse(notJson.body), { jsonrpc: "2.0", error: { code: -32700, message: "The request body is not JSON." }, id: null });
    // A batch has no single id to echo.
    assert.equal(JSON.parse((await postRaw(listener.url, JSON.stringify([list]))).body).id, null);

    const initialize = { jsonrpc: "2.0", id: 8, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };
    const notAcceptable = await postRaw(listener.url, JSON.stringify(initialize), { Accept: "application/json" });
    assert.equal(notAcceptable.status, 406);
    assert.equal(JSON.parse(notAcceptable.body).id, 8);
    const wrongType = await postRaw(listener.url, JSON.stringify(initialize), { "Content-Type": "text/plain" });
    assert.equal(wrongType.status, 415);
    assert.equal(JSON.parse(wrongType.body).id, 8);
    // Refusals of the SDK's session transport too: a second initialize on a session.
    const opened = await postRaw(listener.url, JSON.stringify(initialize));
    const session = String(opened.headers["mcp-session-id"]);
    const again = await postRaw(listener.url, JSON.stringify({ ...initialize, id: 9 }), { "mcp-session-id": session });
    assert.equal(again.status, 400, again.body);
    assert.equal(JSON.parse(again.body).id, 9, again.body);
  });
});

describe("Streamable HTTP, MCP 2026-07-28: stateless requests; the run's questions come back as input_required results", () => {
  let engine: Engine;
  let listener: HttpMcpListener;
  before(async () => {
    const config = innerConfig();
    engine = memoryEngine(config);
    listener = await startHttpMcpServer({ host: "127.0.0.1", port: 0, createServer: duragentMcpServers({ targets: await loadRunTargets(config), runs: servedRuns(engine) }) });
  });
  after(async () => {
    await listener?.close();
    await engine?.close();
  });

  /** What the client sent and got back, as JSON-RPC, with whether a session header went along. */
  interface Exchange {
    sent: { method?: string; params?: Record<string, unknown> };
    session: boolean;
    got: string;
  }

  /** A v2 SDK client pinned to 2026-07-28, answering questions with `elicit` when given. */
  async function modernClient(elicit?: (params: ModernElicitParams) => Promise<ElicitResult>) {
    const exchanges: Exchange[] = [];
    const recording = async (url: string | URL, init?: RequestInit) => {
      const response = await fetch(url, init);
      const sent = typeof init?.body === "string" ? (JSON.parse(init.body) as Exchange["sent"]) : {};
      const session = new Headers(init?.headers).has("mcp-session-id");
      exchanges.push({ sent, session, got: await response.clone().text() });
      return response;
    };
    const client = new ModernClient(
      { name: "modern-test", version: "1" },
      { versionNegotiation: { mode: { pin: "2026-07-28" } }, ...(elicit ? { capabilities: { elicitation: { form: {}, url: {} } } } : {}) },
    );
    if (elicit) client.setRequestHandler("elicitation/create", (request) => elicit(request.params));
    await client.connect(new ModernHTTPTransport(new URL(listener.url), { fetch: recording }));
    const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as ToolResult;
    return { client, call, exchanges, close: () => client.close() };
  }

  test("tools/list and a call need no session; a question is asked by input_required, answered on the same run, and a refused answer asked again", async () => {
    const asked: ModernElicitParams[] = [];
    const answers: ElicitResult[] = [
      { action: "accept", content: { answer: "Porto" } },
      { action: "accept", content: { amount: -1, currency: "EUR" } },
      { action: "accept", content: { amount: 70, currency: "USD" } },
    ];
    const { client, call, exchanges, close } = await modernClient(async (params) => {
      asked.push(params);
      return answers.shift() ?? { action: "cancel" };
    });
    const { tools } = await client.listTools();
    assert.ok(tools.some((tool) => tool.name === "asker"));
    const runsBefore = await knownRuns(call);

    assert.equal(text(await call("asker", { input: "plan a trip" })), "Going to Porto");
    // The run and request ids ride along, for a caller that answers with run_input instead.
    assert.match(asked[0]!.message, /^Which city\?\s+\(run asker-[0-9a-f]{8}, input-1\)$/);
    const calls = exchanges.filter((exchange) => exchange.sent.method === "tools/call" && (exchange.sent.params as { name?: string }).name === "asker");
    assert.equal(calls.length, 2, "one call that got the question, one that brought the answer");
    assert.match(calls[0]!.got, /"resultType":"input_required"/);
    assert.match(calls[0]!.got, /"requestState":"/);
    assert.ok((calls[1]!.sent.params as { inputResponses?: Record<string, unknown> }).inputResponses?.["input-1"], JSON.stringify(calls[1]!.sent));
    assert.ok(exchanges.every((exchange) => !exchange.session), "no request carried a session id");

    const budget = await call("askForBudget", { input: {} });
    assert.deepEqual(JSON.parse(text(budget)), { status: "answered", value: { amount: 70, currency: "USD" } });
    assert.match(asked[1]!.message, /^What is the budget\?/);
    assert.match(asked[2]!.message, /previous answer was refused.*amount/s);
    // Each call went on with the run it started: two calls, two runs.
    const started = [...(await knownRuns(call))].filter((id) => !runsBefore.has(id));
    assert.deepEqual(started.map((id) => id.replace(/-[0-9a-f]{8}$/, "")).sort(), ["askForBudget", "asker"]);
    await close();
  });

  test("a declined question, or a caller that cannot be asked, leaves the question open for run_input", async () => {
    const declining = await modernClient(async () => ({ action: "decline" }));
    const declined = text(await declining.call("asker", { input: "plan a trip" }));
    assert.match(declined, /is waiting for you\. You declined the question; it is still open\..*It asks \(input-1\): Which city\?.*run_input/s);
    await declining.close();

    const unasked = await modernClient();
    const result = text(await unasked.call("asker", { input: "plan a trip" }));
    assert.match(result, /is waiting for you\..*It asks \(input-1\): Which city\?.*run_input/s);
    const runId = runIdIn(result)!;
    await unasked.call("run_input", { runId, answer: "Faro" });
    assert.equal(((await statusUntil(unasked.call, runId, "completed")).result as { text: string }).text, "Going to Faro");
    await unasked.close();
  });

  test("serve processes that share a requestState key take answers to each other's questions; one with another key refuses them", async () => {
    const config = innerConfig();
    const shared = randomBytes(32);
    const serveWith = async (key: Uint8Array) =>
      startHttpMcpServer({ host: "127.0.0.1", port: 0, createServer: duragentMcpServers({ targets: await loadRunTargets(config), runs: servedRuns(engine), requestStateKey: key }) });
    const [asking, sibling, stranger] = await Promise.all([serveWith(shared), serveWith(Uint8Array.from(shared)), serveWith(randomBytes(32))]);
    /** Asks on `asking`; the call that brings the answer goes to `answering`, as a load balancer might send it. */
    const askThenAnswerAt = async (answering: HttpMcpListener) => {
      const client = new ModernClient({ name: "balanced", version: "1" }, { versionNegotiation: { mode: { pin: "2026-07-28" } }, capabilities: { elicitation: { form: {} } } });
      client.setRequestHandler("elicitation/create", async () => ({ action: "accept", content: { answer: "Porto" } }));
      const balanced = (url: string | URL, init?: RequestInit) =>
        fetch(typeof init?.body === "string" && init.body.includes('"requestState"') ? answering.url : url, init);
      await client.connect(new ModernHTTPTransport(new URL(asking.url), { fetch: balanced }));
      try {
        return text((await client.callTool({ name: "asker", arguments: { input: "plan a trip" } })) as ToolResult);
      } finally {
        await client.close();
      }
    };
    try {
      assert.equal(await askThenAnswerAt(sibling), "Going to Porto");
      await assert.rejects(askThenAnswerAt(stranger), /requestState/i);
    } finally {
      await Promise.all([asking.close(), sibling.close(), stranger.close()]);
    }
  });

  test("a forged requestState is refused with invalid params, and no run is started", async () => {
    const runsBefore = (await engine.list(1000)).length;
    const meta = {
      "io.modelcontextprotocol/protocolVersion": "2026-07-28",
      "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} } },
    };
    const response = await fetch(listener.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": "asker" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 7,
        method: "tools/call",
        params: { name: "asker", arguments: { input: "x" }, requestState: "v1.eyJwIjp7fX0.AAAA", inputResponses: {}, _meta: meta },
      }),
    });
    const body = (await response.json()) as { id: number; error?: { code: number } };
    assert.equal(body.id, 7);
    assert.equal(body.error?.code, -32602, JSON.stringify(body));
    assert.equal((await engine.list(1000)).length, runsBefore, "no run was started");
  });
});

test("the event store keeps each stream's events in order, bounded by count and age, and never replays priming events", async () => {
  let now = 0;
  const store = new BoundedEventStore({ maxEvents: 3, maxAgeMs: 1_000, now: () => now });
  const message = (id: number): JSONRPCMessage => ({ jsonrpc: "2.0", id, result: {} });
  const primed = await store.storeEvent("a", {} as JSONRPCMessage);
  const first = await store.storeEvent("a", message(1));
  await store.storeEvent("b", message(2));
  await store.storeEvent("a", message(3));
  const replay = async (after: string) => {
    const sent: unknown[] = [];
    const stream = await store.replayEventsAfter(after, { send: async (_id, sentMessage) => void sent.push("id" in sentMessage ? sentMessage.id : "?") });
    return { stream, sent };
  };
  // Four events, three kept: the priming event went first.
  assert.equal(store.size, 3);
  assert.deepEqual(await replay(primed), { stream: "a", sent: [1, 3] });
  assert.deepEqual(await replay(first), { stream: "a", sent: [3] });
  assert.equal(await store.getStreamIdForEventId(first), "a");
  assert.equal(await store.getStreamIdForEventId("garbage"), undefined);
  now = 5_000;
  assert.deepEqual(await replay(first), { stream: "a", sent: [] });
  assert.equal(store.size, 0);
});

describe("serving runs from Temporal", () => {
  let env: TestWorkflowEnvironment;
  let bundle: Awaited<ReturnType<typeof bundleWorkflows>>;
  before(async () => {
    [env, bundle] = await Promise.all([startTestTemporal(), bundleWorkflows([fixtures])]);
  });
  after(async () => {
    await env?.teardown();
  });

  test("an answer, and a question answered through elicitation, from runs on Temporal", async () => {
    await withTemporalWorker(
      env,
      innerConfig(),
      async (engine, config) => {
        const { client, call, close } = await connect(engine, config, { elicit: async () => ({ action: "accept", content: { answer: "Braga" } }) });
        assert.equal(text(await call("helper", { input: "durable?" })), "inner answer to 'durable?': 42");
        let from = model.requests.length;
        const askerStreamed = () => model.requests.slice(from).filter((request) => JSON.stringify(request.body).includes("ASKER")).map(askedToStream);
        assert.equal(text(await call("asker", { input: "plan a trip" })), "Going to Braga");
        // The tool that waits follows the run from its start, passing its text on as progress.
        assert.deepEqual(askerStreamed(), [true, true]);

        // `_start`'s run has nobody to watch it until its caller asks run_status: its first model
        // call is a plain request; after run_status, its next one streams.
        from = model.requests.length;
        const started = structured(await call("asker_start", { input: "plan a trip" }));
        await waitFor("the started run's first model call", () => (askerStreamed().length > 0 ? true : undefined));
        await statusUntil(call, String(started.runId), "waiting_input");
        await call("run_input", { runId: started.runId, answer: "Porto" });
        assert.equal(((await statusUntil(call, String(started.runId), "completed")).result as { text: string }).text, "Going to Porto");
        assert.deepEqual(askerStreamed(), [false, true]);

        const { runId } = structured(await call("askForBudget_start", { input: {} }));
        await statusUntil(call, String(runId), "waiting_input");
        const refused = await call("run_input", { runId, answer: { amount: 0 } });
        assert.equal(refused.isError, true);
        await call("run_input", { runId, answer: { amount: 9 } });
        const done = await statusUntil(call, String(runId), "completed");
        assert.deepEqual(done.result, { status: "answered", value: { amount: 9, currency: "EUR" } });
        const { runs } = structured(await call("runs_list", { limit: 10 }));
        assert.equal((runs as unknown[]).length, 4);

        // A run's MCP server logs on a worker; its heartbeats carry the messages to the caller.
        const messages: LoggingMessageNotification["params"][] = [];
        client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
          messages.push(notification.params);
        });
        await client.setLoggingLevel("info");
        assert.equal(text(await call("chatter", { input: "chat" })), "chat said: chatted");
        assert.ok(messages.some((message) => message.level === "info" && /: step \d+: tool chatty\/chat$/.test(String(message.data))), JSON.stringify(messages));
        assert.deepEqual(
          messages.filter((message) => message.logger?.startsWith("chatty")),
          [
            { level: "info", logger: "chatty", data: { event: "chat started" } },
            { level: "warning", logger: "chatty/kitchen", data: "chat: the coffee is cold" },
          ],
        );
        await close();
      },
      { workflowBundle: bundle },
    );
  });
});

// ---------------------------------------------------------------------------------------------

function firstJsonLine<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error("duragent serve did not report its URL within 20 s")), 20_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as T);
    });
    child.once("exit", (code) => reject(new Error(`duragent serve exited with ${code} before listening`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

/** The run ids an SDK client's server holds now. */
async function knownRunsOf(client: Client): Promise<string[]> {
  const { runs } = structured((await client.callTool({ name: "runs_list", arguments: { limit: 100 } })) as ToolResult);
  return (runs as { runId: string }[]).map((run) => run.runId);
}

interface SseEvent {
  id?: string;
  retry?: number;
  data: string;
}

/** A raw HTTP request whose response is read as server-sent events, one `next()` at a time. */
function openSse(
  url: string,
  init: { method: "GET" | "POST"; headers: Record<string, string>; body?: string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; next(): Promise<SseEvent | undefined>; close(): void }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      { method: init.method, headers: { Accept: "application/json, text/event-stream", ...(init.body ? { "Content-Type": "application/json" } : {}), ...init.headers } },
      (response) => {
        response.setEncoding("utf8");
        const events: SseEvent[] = [];
        const waiting: ((event: SseEvent | undefined) => void)[] = [];
        let buffer = "";
        let ended = false;
        const deliver = () => {
          while (waiting.length > 0 && (events.length > 0 || ended)) waiting.shift()!(events.shift());
        };
        response.on("data", (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event: SseEvent = { data: "" };
            let isEvent = false;
            for (const line of block.split("\n")) {
              const [field, ...rest] = line.split(":");
              const value = rest.join(":").replace(/^ /, "");
              if (field === "id") event.id = value;
              else if (field === "retry") event.retry = Number(value);
              else if (field === "data") event.data += value;
              else continue;
              isEvent = true;
            }
            if (isEvent) events.push(event);
          }
          deliver();
        });
        const finish = () => {
          ended = true;
          deliver();
        };
        response.on("end", finish);
        response.on("close", finish);
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          next: () => new Promise((resolveEvent) => {
            waiting.push(resolveEvent);
            deliver();
          }),
          close: () => request.destroy(),
        });
      },
    );
    request.on("error", reject);
    request.end(init.body);
  });
}

function postRaw(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: "POST", headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: response.headers }));
    });
    request.on("error", reject);
    request.end(body);
  });
}
