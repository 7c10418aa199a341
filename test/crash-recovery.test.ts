/**
 * Crash recovery, proven with a real kill: a worker process (`duragent worker`, as a user runs it)
 * is SIGKILLed with its MCP servers mid-run, a fresh one takes over, and the run ends as if nothing
 * happened. The scripted model's request log and the counting MCP server's own log are the ground
 * truth: every completed step ran exactly once; only the step in flight at the kill ran twice. A
 * model call killed mid-stream streams again, and its watcher is told so. A question a 2026-07-28
 * tool asks in an `input_required` result outlives the kill, and its answer reaches the tool.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { textOf } from "../src/common/messages.js";
import type { RunPhase } from "../src/common/run-status.js";
import { loadConfig, runSettingsFromConfig } from "../src/config/load-config.js";
import type { RunHandle } from "../src/client/engine.js";
import type { RunEvent } from "../src/client/run-events.js";
import { findRunTarget } from "../src/client/run-targets.js";
import { TemporalEngine } from "../src/client/temporal-engine.js";
import {
  startScriptedModelServer,
  type RecordedRequest,
  type ScriptedCall,
  type ScriptedModelServer,
  type ScriptedTurn,
} from "../src/testing/scripted-model-server.js";
import type { CountingLogEntry } from "./fixtures/counting-mcp-server.js";
import type { MrtrLogEntry } from "./fixtures/mrtr-mcp-server.js";
import { startTestTemporal } from "./support/temporal.js";
import { waitFor as waitUntil, waitForPhase as waitUntilPhase } from "./support/wait.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const cli = join(repo, "bin", "duragent.js");
const countingServer = fileURLToPath(new URL("./fixtures/counting-mcp-server.ts", import.meta.url));
const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-crash-")));
const countingLog = join(dir, "counting.log");
const mrtrServer = fileURLToPath(new URL("./fixtures/mrtr-mcp-server.ts", import.meta.url));
const mrtrLog = join(dir, "mrtr.log");

// Long enough to kill the worker inside it, short enough to run twice.
const SLOW_STEP_MS = 2_500;

const story = Array.from({ length: 30 }, (_, index) => `word${index}`).join(" ");
let storyAttempts = 0;

/**
 * The steps agent: record a, record b, slow c, record d, then answer. Tool-call ids are fixed, so
 * an interrupted run sends byte-identical requests to an uninterrupted one.
 * The asker agent: record h1, ask a person a colour, paint with it, answer.
 */
function script(call: ScriptedCall): ScriptedTurn {
  const task = textOf(call.messages[0]?.content ?? "");
  const results = call.messages.filter((message) => message.role === "tool").map((message) => textOf(message.content));
  const record = (label: string): ScriptedTurn => ({ toolCalls: [{ id: `call_${label}`, name: "counter_record_step", arguments: { label } }] });
  if (task === "run the steps") {
    const steps: ScriptedTurn[] = [
      record("a"),
      record("b"),
      { toolCalls: [{ id: "call_c", name: "counter_slow_step", arguments: { label: "c", ms: SLOW_STEP_MS } }] },
      record("d"),
    ];
    return steps[results.length] ?? { text: `Done: ${results.join(", ")}` };
  }
  if (task === "tell the story") {
    // The first attempt is slow enough to die in; the second slow enough to be watched streaming.
    storyAttempts += 1;
    return { text: story, chunkDelayMs: storyAttempts === 1 ? 400 : 150 };
  }
  if (task === "paint the shed") {
    if (results.length === 0) return { toolCalls: [{ id: "call_paint", name: "painter_paint", arguments: {} }] };
    return { text: `Shed: ${results[0]}` };
  }
  if (task === "paint the fence") {
    if (results.length === 0) return record("h1");
    if (results.length === 1) return { toolCalls: [{ id: "call_ask", name: "human_input", arguments: { question: "Which colour?" } }] };
    if (results.length === 2) return record(`paint ${results[1]}`);
    return { text: `Painted the fence ${results[1]}` };
  }
  return { error: { status: 400, message: `unexpected task '${task}'` } };
}

const configYaml = `
engine: temporal
temporal:
  address: \${DURAGENT_TEMPORAL_ADDRESS}
  taskQueue: crash-recovery
llm:
  defaultModel: openai:scripted
  providers:
    openai:
      apiKey: test-key
      baseURL: \${SCRIPTED_MODEL_URL}
mcp:
  servers:
    counter:
      command: ${JSON.stringify(process.execPath)}
      # tsx resolves from the repository, not from this directory.
      cwd: ${JSON.stringify(repo)}
      args: ["--import", "tsx", ${JSON.stringify(countingServer)}, ${JSON.stringify(countingLog)}]
    painter:
      command: ${JSON.stringify(process.execPath)}
      cwd: ${JSON.stringify(repo)}
      args: ["--import", "tsx", ${JSON.stringify(mrtrServer)}, ${JSON.stringify(mrtrLog)}]
# The default policies: heartbeats every second and a 3 s heartbeat timeout retry a step orphaned
# by the kill within seconds.
agents:
  stepper:
    instruction: Run the steps.
    servers: [counter]
  teller:
    instruction: Tell stories.
  asker:
    instruction: Ask before painting.
    servers: [counter]
    humanInput: true
  shedPainter:
    instruction: Paint sheds.
    servers: [painter]
`;

/** A `duragent worker` process, leader of its own process group (which holds its MCP servers). */
interface WorkerProcess {
  readonly pid: number;
  /** Everything it wrote to stderr, for failure messages. */
  readonly stderr: () => string;
  /** SIGKILLs the whole group, as a crash or an OOM kill would; resolves once the leader is gone. */
  kill(): Promise<void>;
  /** SIGTERMs the worker alone, as an orchestrator stopping it does; resolves once it has exited. */
  stop(): Promise<void>;
}

const workers: WorkerProcess[] = [];

async function spawnWorker(workerEnv: NodeJS.ProcessEnv): Promise<WorkerProcess> {
  // detached: a new process group, so one kill reaches the MCP servers the worker started too.
  const child: ChildProcess = spawn(process.execPath, [cli, "worker"], { cwd: dir, env: workerEnv, detached: true, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const worker: WorkerProcess = {
    pid: child.pid!,
    stderr: () => stderr,
    async kill() {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
      await exited;
    },
    async stop() {
      process.kill(child.pid!, "SIGTERM");
      await exited;
    },
  };
  workers.push(worker);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker not ready after 30s:\n${stderr}`)), 30_000);
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      if (stderr.includes("serving task queue")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code ?? signal}) before it was ready:\n${stderr}`));
    });
  });
  return worker;
}

function readCountingLog(): CountingLogEntry[] {
  if (!existsSync(countingLog)) return [];
  return readFileSync(countingLog, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as CountingLogEntry);
}

/** The parent of a process: a worker, for the MCP servers it started. */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** Alive and not a zombie: an orphaned zombie is dead even if nobody has reaped it yet. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

// A step orphaned by a kill is retried after its heartbeat timeout, so waits are longer here.
const waitFor = <T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000) =>
  waitUntil(what, probe, timeoutMs);
const waitForPhase = (handle: RunHandle, phase: RunPhase) => waitUntilPhase(handle, phase, 30_000);

/** The model requests of one task, in arrival order. */
function requestsFor(model: ScriptedModelServer, task: string, from = 0): RecordedRequest[] {
  return model.requests.slice(from).filter((request) => {
    const body = request.body as { messages?: { role: string; content: unknown }[] };
    return body.messages?.find((message) => message.role === "user")?.content === task;
  });
}

/** How many tool results each request carried: one request per turn means each count appears once. */
function turnsOf(requests: RecordedRequest[]): number[] {
  return requests.map((request) => (request.body as { messages: { role: string }[] }).messages.filter((m) => m.role === "tool").length);
}

describe("crash recovery with a real worker process", () => {
  let env: TestWorkflowEnvironment;
  let model: ScriptedModelServer;
  let engine: TemporalEngine;
  let workerEnv: NodeJS.ProcessEnv;

  before(async () => {
    [env, model] = await Promise.all([startTestTemporal(), startScriptedModelServer(script, { quiet: true })]);
    writeFileSync(join(dir, "duragent.config.yaml"), configYaml);
    workerEnv = { ...process.env, DURAGENT_TEMPORAL_ADDRESS: env.address, SCRIPTED_MODEL_URL: model.openaiBaseURL };
    // The client reads the same file the workers do, so runs carry its short timeouts.
    const { config } = await loadConfig({ path: dir, env: workerEnv });
    engine = await TemporalEngine.connect(config, runSettingsFromConfig(config));
  });

  after(async () => {
    await Promise.all(workers.map((worker) => worker.kill()));
    await engine?.close();
    await model?.close();
    await env?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The worker started last, while it lives. */
  let live: WorkerProcess | undefined;
  const liveWorker = async () => (live ??= await spawnWorker(workerEnv));
  const crashAndRestart = async () => {
    const dead = live!;
    live = undefined;
    await dead.kill();
    return liveWorker();
  };

  test("SIGKILL mid-run: the run ends with the same answer; only the step in flight ran twice", { timeout: 90_000 }, async () => {
    await liveWorker();
    const { config } = await loadConfig({ path: dir, env: workerEnv });
    const stepper = await findRunTarget(config, "stepper");

    // An uninterrupted reference run first.
    const reference = (await (await engine.start(stepper, "run the steps")).result()) as { text: string };
    assert.equal(reference.text, "Done: recorded a, recorded b, finished c, recorded d");
    const referenceRequests = requestsFor(model, "run the steps");
    const requestMark = model.requests.length;
    const logMark = readCountingLog().length;
    const newEntries = () => readCountingLog().slice(logMark);

    const handle = await engine.start(stepper, "run the steps");
    const slowStart = await waitFor("slow step c to start", () =>
      newEntries().find((entry) => entry.tool === "slow_step" && entry.phase === "start"),
    );
    // Two model turns and two tool calls are complete; the third model turn asked for c.
    assert.deepEqual(turnsOf(requestsFor(model, "run the steps", requestMark)), [0, 1, 2]);
    assert.deepEqual(newEntries().map((entry) => `${entry.tool} ${entry.label} ${entry.phase}`), [
      "record_step a call",
      "record_step b call",
      "slow_step c start",
    ]);

    const killed = live!;
    await crashAndRestart();
    await waitFor("the killed worker's MCP server to be gone", () => (isRunning(slowStart.pid) ? undefined : true), 15_000);
    assert.equal(isRunning(killed.pid), false);

    const result = (await handle.result()) as { text: string };
    assert.equal(result.text, reference.text);

    // The model saw exactly the reference run's requests: each turn once, none repeated.
    const crashedRequests = requestsFor(model, "run the steps", requestMark);
    assert.deepEqual(turnsOf(crashedRequests), [0, 1, 2, 3, 4]);
    assert.deepEqual(
      crashedRequests.map((request) => request.body),
      referenceRequests.map((request) => request.body),
    );
    assert.deepEqual(model.errors, []);

    // The MCP server executed a, b and d once; c, in flight at the kill, started twice and finished once,
    // the second time in a new server process.
    const entries = newEntries();
    assert.deepEqual(entries.map((entry) => `${entry.tool} ${entry.label} ${entry.phase}`), [
      "record_step a call",
      "record_step b call",
      "slow_step c start",
      "slow_step c start",
      "slow_step c end",
      "record_step d call",
    ]);
    assert.notEqual(entries[3]!.pid, slowStart.pid);
  });

  /**
   * Two workers up and a run of the steps agent in its slow step: which worker holds the step,
   * the other one, and the run's model requests and tool calls from its start.
   */
  async function slowStepWithStandby() {
    const first = await liveWorker();
    const standby = await spawnWorker(workerEnv);
    const { config } = await loadConfig({ path: dir, env: workerEnv });
    const stepper = await findRunTarget(config, "stepper");
    const requestMark = model.requests.length;
    const logMark = readCountingLog().length;
    const newEntries = () => readCountingLog().slice(logMark);
    const handle = await engine.start(stepper, "run the steps");
    const slowStart = await waitFor("slow step c to start", () => newEntries().find((entry) => entry.tool === "slow_step" && entry.phase === "start"));
    const holder = [first, standby].find((worker) => worker.pid === parentOf(slowStart.pid));
    assert.ok(holder, `the slow step's MCP server (pid ${slowStart.pid}) belongs to one of the workers`);
    // The one left serving is the live worker from here on.
    live = holder === first ? standby : first;
    return { handle, holder, survivor: live, requestMark, newEntries };
  }

  test("SIGKILL of the worker holding a step, with a standby worker up: the standby finishes the run", { timeout: 90_000 }, async () => {
    const { handle, holder, survivor, requestMark, newEntries } = await slowStepWithStandby();
    // Whichever worker took the step dies; the other one, already up, must pick it up.
    await holder.kill();

    const result = (await handle.result()) as { text: string };
    assert.equal(result.text, "Done: recorded a, recorded b, finished c, recorded d");
    assert.deepEqual(turnsOf(requestsFor(model, "run the steps", requestMark)), [0, 1, 2, 3, 4]);
    const entries = newEntries();
    assert.deepEqual(entries.map((entry) => `${entry.tool} ${entry.label} ${entry.phase}`), [
      "record_step a call",
      "record_step b call",
      "slow_step c start",
      "slow_step c start",
      "slow_step c end",
      "record_step d call",
    ]);
    assert.equal(parentOf(entries[3]!.pid), survivor.pid, "the standby ran the step again");
    assert.ok(isRunning(survivor.pid));
  });

  test("SIGTERM of the worker holding a step, with a standby worker up: the step finishes on the stopping worker, and the standby takes the rest; no step runs twice", { timeout: 90_000 }, async () => {
    const { handle, holder, survivor, requestMark, newEntries } = await slowStepWithStandby();
    await holder.stop();
    // It drained: the step in flight ended before the worker did, and it said why it waited.
    assert.ok(newEntries().some((entry) => entry.tool === "slow_step" && entry.phase === "end"), holder.stderr());
    assert.match(holder.stderr(), /stopping: 1 step in flight may take up to 20 s to finish \(worker\.shutdownGraceTimeMs\)/);

    const result = (await handle.result()) as { text: string };
    assert.equal(result.text, "Done: recorded a, recorded b, finished c, recorded d");
    assert.deepEqual(turnsOf(requestsFor(model, "run the steps", requestMark)), [0, 1, 2, 3, 4]);
    assert.deepEqual(
      newEntries().map((entry) => `${entry.tool} ${entry.label} ${entry.phase}`),
      ["record_step a call", "record_step b call", "slow_step c start", "slow_step c end", "record_step d call"],
    );
    assert.equal(parentOf(newEntries().at(-1)!.pid), survivor.pid, "the standby made the step after");
  });

  test("SIGKILL mid-stream: the watcher sees the first attempt's text, a restart marker, then exactly the new attempt's text; the result is the recorded answer", { timeout: 90_000 }, async () => {
    await liveWorker();
    const { config } = await loadConfig({ path: dir, env: workerEnv });
    const teller = await findRunTarget(config, "teller");
    storyAttempts = 0;
    const handle = await engine.start(teller, "tell the story");
    const events: RunEvent[] = [];
    const watching = (async () => {
      for await (const event of handle.events()) events.push(event);
    })();
    await waitFor("the story to stream", () => (events.some((event) => event.type === "text") ? true : undefined));
    await crashAndRestart();
    await watching;

    const end = events.at(-1) as Extract<RunEvent, { type: "end" }>;
    assert.equal(end.phase, "completed", JSON.stringify(events));
    assert.equal((end.result as { text: string }).text, story);
    assert.equal(storyAttempts, 2, "the model call streamed twice");
    const texts = (from: RunEvent[]) => from.flatMap((event) => (event.type === "text" ? [event.delta] : [])).join("");
    const restart = events.findIndex((event) => event.type === "restart");
    assert.ok(restart > 0, `a restart marker: ${JSON.stringify(events)}`);
    assert.equal((events[restart] as Extract<RunEvent, { type: "restart" }>).attempt, 2);
    const first = texts(events.slice(0, restart));
    assert.ok(first.length > 0 && first.length < story.length && story.startsWith(first), `the dead attempt's text so far: '${first}'`);
    assert.equal(texts(events.slice(restart)), story, "after the marker, the new attempt's text and nothing else");
    assert.equal(events.filter((event) => event.type === "restart").length, 1);
  });

  test("SIGKILL while a 2026-07-28 tool's input_required question waits: it stays the run's question, and the answer is re-sent to the tool", { timeout: 90_000 }, async () => {
    await liveWorker();
    const { config } = await loadConfig({ path: dir, env: workerEnv });
    const handle = await engine.start(await findRunTarget(config, "shedPainter"), "paint the shed");
    const waiting = await waitForPhase(handle, "waiting_input");
    const [question] = waiting.pending;
    assert.ok(question?.kind === "input", JSON.stringify(waiting));
    assert.equal(question.prompt, "Which colour?");
    assert.deepEqual(question.origin, { server: "painter", tool: "paint", kind: "elicitation" });

    await crashAndRestart();
    await handle.answer({ value: { colour: "green" } });

    assert.equal(((await handle.result()) as { text: string }).text, "Shed: painted green");
    const calls = readFileSync(mrtrLog, "utf8").trim().split("\n").map((line) => JSON.parse(line) as MrtrLogEntry);
    assert.ok(calls.every((call) => call.protocolVersion === "2026-07-28"), `every call came by 2026-07-28: ${JSON.stringify(calls)}`);
    // Asked before the kill and again by the retried step, then called once with the answer.
    assert.deepEqual(calls.map((call) => call.colour), [...calls.slice(0, -1).map(() => null), "green"]);
    assert.ok(calls.length >= 2 && new Set(calls.map((call) => call.pid)).size >= 2, JSON.stringify(calls));
  });

  test("SIGKILL while waiting for a person: the answer sent after the restart is applied", { timeout: 90_000 }, async () => {
    await liveWorker();
    const { config } = await loadConfig({ path: dir, env: workerEnv });
    const asker = await findRunTarget(config, "asker");
    const requestMark = model.requests.length;
    const logMark = readCountingLog().length;

    const handle = await engine.start(asker, "paint the fence");
    const waiting = await waitForPhase(handle, "waiting_input");
    assert.equal(waiting.pending[0]?.prompt, "Which colour?");

    await crashAndRestart();
    await handle.answer({ value: "green" });

    const result = (await handle.result()) as { text: string };
    assert.equal(result.text, "Painted the fence green");
    assert.deepEqual(turnsOf(requestsFor(model, "paint the fence", requestMark)), [0, 1, 2, 3]);
    assert.deepEqual(
      readCountingLog()
        .slice(logMark)
        .map((entry) => `${entry.tool} ${entry.label} ${entry.phase}`),
      ["record_step h1 call", "record_step paint green call"],
    );
    assert.deepEqual(model.errors, []);
  });
});
