/**
 * Steering runs from the CLI, as a person would from another terminal: start, status, input,
 * approve, reject, pause, resume, cancel, list, history and result against a real Temporal server
 * and a `duragent worker` process; and in memory, questions asked on the terminal and `chat`.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { connect as connectTcp, type AddressInfo } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { textOf } from "../src/common/messages.js";
import type { RunStatus } from "../src/common/run-status.js";
import { ExitCode } from "../src/errors/user-error.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedModelServer, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { packageBin } from "./support/mcp-servers.js";
import { startTestTemporal } from "./support/temporal.js";
import { waitFor } from "./support/wait.js";

const tlsFixtures = fileURLToPath(new URL("./fixtures/tls", import.meta.url));
const cliPath = fileURLToPath(new URL("../bin/duragent.js", import.meta.url));
const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-steer-")));
writeFileSync(join(dir, "plan.txt"), "the plan");
// Questions that want a number and a yes or no, as a person types them: `12`, `true`.
writeFileSync(
  join(dir, "workflows.ts"),
  [
    `import { defineWorkflow } from ${JSON.stringify(fileURLToPath(new URL("../src/workflows/index.ts", import.meta.url)))};`,
    `import { z } from ${JSON.stringify(fileURLToPath(import.meta.resolve("zod")))};`,
    `export const counter = defineWorkflow(async (ctx) => {`,
    `  const count = await ctx.ask({ prompt: "How many?", schema: z.number().int() });`,
    `  const sure = await ctx.ask({ prompt: "Sure?", schema: z.boolean() });`,
    `  return JSON.stringify([count, sure]);`,
    `});`,
    `export const broken = defineWorkflow(async (_ctx, input: { missing?: { deep: string } }) => input.missing!.deep);`,
    // Its own signals, update (with a validator) and query, which `duragent signal|update|query` reach.
    `export const tally = defineWorkflow(async (ctx) => {`,
    `  let count = 0;`,
    `  let finished = false;`,
    `  ctx.messages.onSignal("add", (n: number) => { count += n; });`,
    `  ctx.messages.onUpdate("addAndRead", (n: number) => (count += n), { validator: (n: unknown) => { if (typeof n !== "number") throw new Error("add a number"); } });`,
    `  ctx.messages.onQuery("count", () => ({ count }));`,
    `  ctx.messages.onSignal("finish", () => { finished = true; });`,
    `  await ctx.condition(() => finished);`,
    `  return String(count);`,
    `});`,
    "",
  ].join("\n"),
);

const story = "The ferry crossed the river at dawn, and the whole town came down to watch it land.";

/** Asks a person first; reads a file when told to; answers from whatever came back. */
function script(call: ScriptedCall): ScriptedTurn {
  // A chat's turn answers its newest message; a run's, the one it was started with.
  const question = textOf((call.system === "Chat." ? call.messages.findLast((message) => message.role === "user") : call.messages.find((message) => message.role === "user"))?.content ?? "");
  const result = call.messages.findLast((message) => message.role === "tool");
  if (question.includes("slowly")) return { text: "finally", delayMs: 60_000 };
  if (result) return { text: `Got: ${textOf(result.content)}` };
  if (question.includes("read")) return { toolCalls: [{ name: "fs_read_text_file", arguments: { path: join(dir, "nope.txt") } }] };
  if (call.system === "Chat." && question.includes("long story")) return { text: Array.from({ length: 10 }, () => story).join(" "), chunkDelayMs: 80 };
  if (call.system === "Chat." && question.includes("story")) return { text: story, chunkDelayMs: 80 };
  if (call.system === "Chat.") return { text: `You said ${question}` };
  return { toolCalls: [{ name: "human_input", arguments: { question: "Which city?" } }] };
}

writeFileSync(
  join(dir, "duragent.config.yaml"),
  [
    "temporal:",
    "  address: ${DURAGENT_TEMPORAL_ADDRESS:-127.0.0.1:7233}",
    "  taskQueue: ${DURAGENT_TASK_QUEUE:-steer}",
    "mcp:",
    "  servers:",
    "    fs:",
    `      command: ${JSON.stringify(process.execPath)}`,
    `      args: ${JSON.stringify([packageBin("@modelcontextprotocol/server-filesystem"), dir])}`,
    "approvals:",
    "  tools: [fs_read_text_file]",
    "agents:",
    "  planner:",
    "    instruction: Plan trips.",
    "    servers: [fs]",
    "    humanInput: true",
    "  chatty:",
    "    instruction: Chat.",
    // A model the Anthropic SDK calls deprecated: it says so with console.warn on every call.
    "  elder:",
    "    instruction: Chat.",
    "    model: anthropic:claude-sonnet-4-5",
    "modules: [./workflows.ts]",
    "",
  ].join("\n"),
);

let model: ScriptedModelServer;
let env: TestWorkflowEnvironment;
let worker: ChildProcess;
let workerOut = "";
let workerErr = "";
let environment: NodeJS.ProcessEnv;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to its exit; `onStdout` sees stdout as it comes, piece by piece. */
function cli(args: string[], stdin?: string, env: NodeJS.ProcessEnv = environment, onStdout?: (soFar: string) => void, onStderr?: (soFar: string) => void): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: dir, env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
      onStdout?.(stdout);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
      onStderr?.(stderr);
    });
    child.stdin.end(stdin ?? "");
    // A command that hangs fails its test with what it printed, rather than the whole file timing out.
    const timer = setTimeout(() => {
      stderr += "\n(killed: no exit within 120 s)";
      child.kill("SIGKILL");
    }, 120_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `result --json` with stderr on a pseudo-terminal (util-linux's `script`), as a person's shell has it, and stdout to a file. */
function resultOnATerminal(runId: string): { screen(): string; stdout: Promise<string> } {
  const out = join(dir, `result-${runId}.json`);
  const command = `${[process.execPath, cliPath, "result", runId, "--json", "--engine", "temporal"].map((part) => `'${part}'`).join(" ")} > '${out}'`;
  const child = spawn("script", ["-qfec", command, "/dev/null"], { cwd: dir, env: { ...environment, TERM: "dumb" }, stdio: ["pipe", "pipe", "pipe"] });
  let screen = "";
  child.stdout.on("data", (chunk: Buffer) => (screen += chunk));
  const stdout = (once(child, "exit") as Promise<[number | null]>).then(([code]) => {
    assert.equal(code, 0, screen);
    return readFileSync(out, "utf8");
  });
  return { screen: () => screen, stdout };
}

async function statusOf(runId: string): Promise<RunStatus> {
  const result = await cli(["status", runId, "--json", "--engine", "temporal"]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as RunStatus;
}

function waitForPhase(runId: string, phase: RunStatus["phase"]): Promise<RunStatus> {
  return waitFor(`${runId} to be ${phase}`, async () => {
    const status = await statusOf(runId);
    return status.phase === phase ? status : undefined;
  }, 30_000);
}

before(async () => {
  [model, env] = await Promise.all([startScriptedModelServer(script, { quiet: true }), startTestTemporal()]);
  environment = {
    ...process.env,
    OPENAI_API_KEY: "test",
    OPENAI_BASE_URL: model.openaiBaseURL,
    ANTHROPIC_API_KEY: "test",
    ANTHROPIC_BASE_URL: model.anthropicBaseURL,
    DURAGENT_TEMPORAL_ADDRESS: env.address,
  };
  worker = spawn(process.execPath, [cliPath, "worker"], { cwd: dir, env: environment, stdio: ["ignore", "pipe", "pipe"] });
  worker.stdout!.on("data", (chunk: Buffer) => (workerOut += chunk));
  worker.stderr!.on("data", (chunk: Buffer) => (workerErr += chunk));
  await new Promise<void>((resolve) => worker.stderr!.on("data", (chunk: Buffer) => String(chunk).includes("serving") && resolve()));
});

after(async () => {
  if (worker && worker.exitCode === null) {
    worker.kill("SIGTERM");
    await new Promise((resolve) => worker.once("exit", resolve));
  }
  await env?.teardown();
  await model?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("steering a Temporal run from the CLI", () => {
  test("start, status, input, result, list and history", async () => {
    const started = await cli(["start", "planner", "--input", "plan a trip", "--engine", "temporal"]);
    assert.equal(started.code, 0, started.stderr);
    const runId = started.stdout.trim();
    assert.match(runId, /^planner-[0-9a-f]{8}$/);
    assert.match(started.stderr, /Web UI: http/);

    const waiting = await waitForPhase(runId, "waiting_input");
    assert.equal(waiting.pending[0]!.prompt, "Which city?");
    // Runs waiting for a person, by phase and target (the search attributes; visibility may lag).
    type Listed = { runId: string; phase: string; target?: string }[];
    const listed = async (...filters: string[]) => JSON.parse((await cli(["list", "--json", ...filters, "--engine", "temporal"])).stdout) as Listed;
    const waitingRuns = await waitFor("the run listed as waiting", async () => {
      const runs = await listed("--phase", "waiting_input", "--target", "planner");
      return runs.some((run) => run.runId === runId) ? runs : undefined;
    });
    assert.ok(waitingRuns.every((run) => run.phase === "waiting_input" && run.target === "planner"), JSON.stringify(waitingRuns));
    assert.ok(!(await listed("--phase", "waiting_input", "--target", "chatty")).some((run) => run.runId === runId));
    const badPhase = await cli(["list", "--phase", "asleep", "--engine", "temporal"]);
    assert.equal(badPhase.code, ExitCode.usage);
    assert.match(badPhase.stderr, /argument 'asleep' is invalid\. Allowed choices are running, waiting_input/);

    const human = await cli(["status", runId, "--engine", "temporal"]);
    assert.match(human.stdout, /waiting_input/);
    assert.match(human.stdout, /input-1: Which city\?/);
    // What to do about it, as the exact command.
    assert.match(human.stdout, new RegExp(`\n    answer with \`duragent answer ${runId} --value …\``));
    assert.match(human.stdout, /Web UI: /);
    // `list` says under a waiting run what it waits for, and the command that gives it.
    const listedText = await cli(["list", "--target", "planner", "--engine", "temporal"]);
    assert.match(listedText.stdout, new RegExp(`\n${runId} +waiting_input .*\n  input-1: Which city\\? — answer with \`duragent answer ${runId} --value …\``));

    const wrongKind = await cli(["approve", runId, "--engine", "temporal"]);
    assert.equal(wrongKind.code, ExitCode.usage);
    assert.match(wrongKind.stderr, /not waiting for an approval\. It waits for input-1 \(a question: answer it\)\./);

    const noAnswer = await cli(["input", runId, "--engine", "temporal"]);
    assert.equal(noAnswer.code, ExitCode.usage);
    assert.match(noAnswer.stderr, /--value/);
    const declined = await cli(["input", runId, "--decline", "--engine", "temporal"]);
    assert.equal(declined.code, ExitCode.usage, "the run's own questions cannot be declined");

    // `result` of a run that waits for a person says so, and how to answer, then waits for the answer.
    let waitingStderr = "";
    const waitingResult = cli(["result", runId, "--engine", "temporal"], undefined, environment, undefined, (soFar) => (waitingStderr = soFar));
    await waitFor("result to say what the run waits for", () => (/input-1: Which city\?\n {2}answer with `duragent answer/.test(waitingStderr) ? true : undefined), 30_000);
    assert.match(waitingStderr, /is waiting for input; `result` waits until it ends\./);
    // With --json on a terminal too: stdout (here a file) holds the JSON alone.
    const onTerminal = existsSync("/usr/bin/script") ? resultOnATerminal(runId) : undefined;
    if (onTerminal) await waitFor("result --json on a terminal to say what the run waits for", () => (/is waiting for input; `result` waits until it ends\./.test(onTerminal.screen()) ? true : undefined), 30_000);

    const answered = await cli(["input", runId, "--value", "Lisbon", "--engine", "temporal"]);
    assert.equal(answered.code, 0, answered.stderr);
    const result = await cli(["result", runId, "--engine", "temporal"]);
    assert.equal(result.stdout.trim(), "Got: Lisbon");
    assert.equal((await waitingResult).stdout.trim(), "Got: Lisbon");
    if (onTerminal) assert.equal((JSON.parse(await onTerminal.stdout) as { result: { text: string } }).result.text, "Got: Lisbon");

    const list = await cli(["list", "--json", "--engine", "temporal"]);
    assert.ok((JSON.parse(list.stdout) as { runId: string }[]).some((run) => run.runId === runId));
    // A project that runs in memory lists Temporal's runs: no other process's memory runs can be listed.
    const fromMemory = await cli(["list", "--json", "--engine", "memory"]);
    assert.ok((JSON.parse(fromMemory.stdout) as { runId: string }[]).some((run) => run.runId === runId), fromMemory.stderr);
    await waitFor("the run listed as completed", async () => ((await listed("--phase", "completed")).some((run) => run.runId === runId) ? true : undefined));
    const history = await cli(["history", runId, "--engine", "temporal"]);
    assert.match(history.stdout, /human_input/);
    assert.match(history.stdout, /tool human_input: Lisbon/);
  });

  test("watch follows the steps and answers the run's question from standard input", async () => {
    const runId = (await cli(["start", "planner", "--input", "plan a trip", "--engine", "temporal"])).stdout.trim();
    const watched = await cli(["watch", runId, "--engine", "temporal"], "Madrid\n");
    assert.equal(watched.code, 0, watched.stderr);
    assert.equal(watched.stdout.trim(), "Got: Madrid");
    assert.match(watched.stderr, /steps? [\d–]+: /);
    assert.match(watched.stderr, /input-1: Which city\?/);
    assert.match(watched.stderr, /Web UI: /);
  });

  test("approve and reject gated tool calls", async () => {
    const started = await cli(["start", "planner", "--input", "read the plan", "--engine", "temporal"]);
    const runId = started.stdout.trim();
    const waiting = await waitForPhase(runId, "waiting_approval");
    assert.equal(waiting.pending[0]!.kind, "approval");
    // `--phase waiting` lists the runs waiting for a person of either kind (visibility may lag).
    const waitingRuns = await waitFor("the run listed as waiting", async () => {
      const runs = JSON.parse((await cli(["list", "--json", "--phase", "waiting", "--target", "planner", "--engine", "temporal"])).stdout) as { runId: string; phase: string }[];
      return runs.some((run) => run.runId === runId) ? runs : undefined;
    });
    assert.ok(waitingRuns.every((run) => run.phase === "waiting_approval" || run.phase === "waiting_input"), JSON.stringify(waitingRuns));
    const badArguments = await cli(["approve", runId, "--arguments", "[1]", "--engine", "temporal"]);
    assert.equal(badArguments.code, ExitCode.usage);
    const unfit = await cli(["approve", runId, "--arguments", '{"path": 12}', "--engine", "temporal"]);
    assert.equal(unfit.code, ExitCode.usage);
    assert.match(unfit.stderr, /The arguments for fs\/read_text_file do not fit its input schema: .*path/s);
    const approved = await cli(["approve", runId, "--arguments", JSON.stringify({ path: join(dir, "plan.txt") }), "--engine", "temporal"]);
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal(approved.stdout.split("\n")[0], `approved ${runId}`, "named, as answer, pause and resume name the run");
    // The model is told what ran in place of its own arguments.
    assert.equal((await cli(["result", runId, "--engine", "temporal"])).stdout.trim(), `Got: A person changed the arguments before the call ran; it ran with ${JSON.stringify({ path: join(dir, "plan.txt") })}.\nthe plan`);

    const second = (await cli(["start", "planner", "--input", "read the plan", "--engine", "temporal"])).stdout.trim();
    await waitForPhase(second, "waiting_approval");
    assert.equal((await cli(["reject", second, "--reason", "private", "--engine", "temporal"])).code, 0);
    assert.match((await cli(["result", second, "--engine", "temporal"])).stdout, /Got: .*rejected.*private/);
    // The history marks the refused call's result as a failure, as the model read it.
    assert.match((await cli(["history", second, "--engine", "temporal"])).stdout, /\ntool fs_read_text_file \(failed\): .*rejected.*private/);
  });

  test("pause, resume and cancel", async () => {
    const runId = (await cli(["start", "planner", "--input", "think slowly", "--engine", "temporal"])).stdout.trim();
    assert.equal((await cli(["pause", runId, "--engine", "temporal"])).code, 0);
    await waitForPhase(runId, "paused");
    assert.match((await cli(["status", runId, "--engine", "temporal"])).stdout, new RegExp(`resume with \`duragent resume ${runId}\``));
    assert.equal((await cli(["resume", runId, "--engine", "temporal"])).code, 0);
    await waitForPhase(runId, "running");
    assert.equal((await cli(["cancel", runId, "--engine", "temporal"])).code, 0);
    await waitForPhase(runId, "cancelled");
    const result = await cli(["result", runId, "--engine", "temporal"]);
    assert.equal(result.code, ExitCode.runFailed);
    assert.match(result.stderr, /cancel/i);
  });

  test("Ctrl-C during `run` on Temporal leaves the run going, and says how to follow or stop it", async () => {
    const child = spawn(process.execPath, [cliPath, "run", "planner", "--input", "think slowly", "--engine", "temporal"], { cwd: dir, env: environment, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    const runId = await waitFor("the run's first step", async () => (/step 1: /.test(stderr) ? /^run (\S+)$/m.exec(stderr)?.[1] : undefined), 30_000);
    child.kill("SIGINT");
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 130);
    assert.match(stderr, new RegExp(`the run goes on without this command; follow it with \`duragent watch ${runId}\`, or stop it with \`duragent cancel ${runId}\``));
    assert.equal((await statusOf(runId)).phase, "running");
    assert.equal((await cli(["cancel", runId, "--engine", "temporal"])).code, 0);
    await waitForPhase(runId, "cancelled");
  });

  test("`run` on Temporal without a terminal says what the run waits for and how to answer it from elsewhere", async () => {
    const child = spawn(process.execPath, [cliPath, "run", "planner", "--input", "Where to?", "--engine", "temporal"], { cwd: dir, env: environment, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    const exited = once(child, "exit") as Promise<[number | null]>;
    const runId = await waitFor("the question and its hint", async () => (/answer with `duragent answer/.test(stderr) ? /^run (\S+)$/m.exec(stderr)?.[1] : undefined), 30_000);
    assert.match(stderr, new RegExp(`waiting for input-1: Which city\\?\\n  answer with \`duragent answer ${runId} --value …\``));
    assert.equal((await cli(["answer", runId, "--value", "Lisbon", "--engine", "temporal"])).code, 0);
    const [code] = await exited;
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), "Got: Lisbon");
  });

  test("a run terminated while it waits for a person no longer shows the question it asked", async () => {
    const runId = (await cli(["start", "planner", "--input", "Where to?", "--engine", "temporal"])).stdout.trim();
    await waitForPhase(runId, "waiting_input");
    assert.equal((await cli(["terminate", runId, "--reason", "nobody will answer", "--engine", "temporal"])).code, 0);
    const status = await waitForPhase(runId, "terminated");
    assert.deepEqual(status.pending, []);
    assert.equal(status.lastError, "nobody will answer");
    const text = await cli(["status", runId, "--engine", "temporal"]);
    assert.doesNotMatch(text.stdout, /waiting for/);
  });

  test("an answer that no worker polls to take says so, instead of waiting in silence", async () => {
    // A task queue no worker polls: the run never starts its steps, and an update waits for one.
    const alone = { ...environment, DURAGENT_TASK_QUEUE: `steer-nobody-${process.pid}` };
    const run = (args: string[]) => spawn(process.execPath, [cliPath, ...args, "--engine", "temporal"], { cwd: dir, env: alone, stdio: ["ignore", "pipe", "pipe"] });
    const starting = run(["start", "planner", "--input", "Where to?"]);
    let runId = "";
    starting.stdout.on("data", (chunk: Buffer) => (runId += chunk));
    await once(starting, "exit");
    runId = runId.trim();
    const answering = run(["answer", runId, "--value", "Lisbon"]);
    let stderr = "";
    answering.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    try {
      await waitFor("the notice", () => (/no worker/i.test(stderr) ? true : answering.exitCode !== null ? assert.fail(stderr) : undefined), 30_000);
      assert.match(stderr, /No worker is polling task queue 'steer-nobody-\d+' on .*; the answer is delivered when one does, and this command waits until then\. Start one with `duragent worker`/);
    } finally {
      answering.kill("SIGKILL");
      await cli(["terminate", runId, "--engine", "temporal"]);
    }
  });

  test("when the run's worker has stopped, status shows the phase the run last told the server, and an answer says a worker polled but none has taken it", async () => {
    const queue = `steer-gone-${process.pid}`;
    const alone = { ...environment, DURAGENT_TASK_QUEUE: queue };
    const own = spawn(process.execPath, [cliPath, "worker"], { cwd: dir, env: alone, stdio: ["ignore", "ignore", "pipe"] });
    await new Promise<void>((resolve) => own.stderr!.on("data", (chunk: Buffer) => String(chunk).includes("serving") && resolve()));
    const run = (args: string[]) => cli([...args, "--engine", "temporal"], undefined, alone);
    const runId = (await run(["start", "planner", "--input", "Where to?"])).stdout.trim();
    try {
      await waitFor("the question", async () => ((await run(["status", runId, "--json"])).stdout.includes('"waiting_input"') ? true : undefined), 30_000);
      own.kill("SIGTERM");
      await once(own, "exit");
      const status = JSON.parse((await run(["status", runId, "--json"])).stdout) as RunStatus;
      assert.equal(status.phase, "waiting_input");
      assert.match(status.partial ?? "", new RegExp(`a worker polled task queue '${queue}' \\(last seen \\d+ s ago\\), but none answered within 3 s`));
      const answering = spawn(process.execPath, [cliPath, "answer", runId, "--value", "Lisbon", "--engine", "temporal"], { cwd: dir, env: alone, stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      answering.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
      try {
        await waitFor("the notice", () => (/none has taken it/.test(stderr) ? true : answering.exitCode !== null ? assert.fail(stderr) : undefined), 30_000);
        assert.match(stderr, new RegExp(`A worker polled task queue '${queue}' \\(last seen \\d+ s ago\\), but none has taken it yet \\(busy, or stopped since\\); the answer is delivered when one does`));
      } finally {
        answering.kill("SIGKILL");
      }
    } finally {
      if (own.exitCode === null) own.kill("SIGKILL");
      await cli(["terminate", runId, "--engine", "temporal"], undefined, alone);
    }
  });

  test("input reads an answer as its question asks: JSON for a number or a yes or no, text for a string", async () => {
    const runId = (await cli(["start", "counter", "--input", "{}", "--engine", "temporal"])).stdout.trim();
    await waitForPhase(runId, "waiting_input");
    const notANumber = await cli(["input", runId, "--value", "twelve", "--engine", "temporal"]);
    assert.equal(notANumber.code, ExitCode.usage);
    assert.match(notANumber.stderr, /The answer to input-1 is not valid JSON: "twelve"; answer with a whole number\./);
    assert.equal((await cli(["input", runId, "--value", "12", "--engine", "temporal"])).code, 0);
    await waitFor("the second question", async () => ((await statusOf(runId)).pending[0]?.prompt === "Sure?" ? true : undefined), 30_000);
    const sure = await cli(["input", runId, "--request", "input-2", "--value", "true", "--engine", "temporal"]);
    assert.equal(sure.code, 0, sure.stderr);
    assert.equal((await cli(["result", runId, "--engine", "temporal"])).stdout.trim(), JSON.stringify([{ status: "answered", value: 12 }, { status: "answered", value: true }]));

    // A question that wants text gets what was typed, even when it looks like JSON.
    const planner = (await cli(["start", "planner", "--input", "plan a trip", "--engine", "temporal"])).stdout.trim();
    await waitForPhase(planner, "waiting_input");
    assert.equal((await cli(["input", planner, "--value", '{"city": "Lisbon"}', "--engine", "temporal"])).code, 0);
    assert.equal((await cli(["result", planner, "--engine", "temporal"])).stdout.trim(), 'Got: {"city": "Lisbon"}');
  });

  test("signal, update and query reach the run's own workflow code; a refused update and an unknown run say so", async () => {
    const runId = (await cli(["start", "tally", "--input", "{}", "--engine", "temporal"])).stdout.trim();
    const steer = (args: string[]) => cli([...args, "--engine", "temporal"]);
    const sent = await steer(["signal", runId, "add", "--value", "2"]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.match(sent.stdout, new RegExp(`^sent signal 'add' to ${runId}`));
    assert.equal((await steer(["update", runId, "addAndRead", "--value", "3"])).stdout.trim(), "5");
    const refused = await steer(["update", runId, "addAndRead", "--value", "four"]);
    assert.equal(refused.code, ExitCode.usage, refused.stderr);
    assert.match(refused.stderr, /add a number/);
    assert.doesNotMatch(refused.stderr, /\n\s+at /);
    assert.deepEqual(JSON.parse((await steer(["query", runId, "count", "--json"])).stdout), { runId, query: "count", result: { count: 5 } });
    assert.equal((await steer(["signal", runId, "finish"])).code, 0);
    assert.equal((await steer(["result", runId])).stdout.trim(), "5");
    assert.equal((await steer(["signal", "no-such-run", "add"])).code, ExitCode.notFound);
  });

  test("a run whose workflow code keeps failing: status says why; what needs the run says so, without a stack trace", async () => {
    const runId = (await cli(["start", "broken", "--input", "{}", "--engine", "temporal"])).stdout.trim();
    try {
      const stuck = await waitFor("the failure in its status", async () => {
        const status = await statusOf(runId);
        return status.lastError ? status : undefined;
      }, 30_000);
      assert.equal(stuck.phase, "running");
      // What failed, and where in the module.
      assert.match(stuck.lastError!, /^TypeError: Cannot read properties of undefined \(reading 'deep'\) \(at .*workflows\.ts:\d+:\d+\)+$/);
      assert.match(stuck.partial!, /workflow code keeps failing/);
      const human = await cli(["status", runId, "--engine", "temporal"]);
      assert.match(human.stdout, /last error: TypeError/);
      const history = await cli(["history", runId, "--engine", "temporal"]);
      // Not a failed run: one that can go on once its workers get past the failure.
      assert.equal(history.code, ExitCode.unavailable, history.stderr);
      assert.match(history.stderr, /workflow code keeps failing/);
      assert.doesNotMatch(history.stderr, /\n\s+at /);
      assert.match(history.stderr, /duragent terminate/);
      // `list` tells it apart from runs that go on, by the same status read that gives its usage.
      const stuckList = await cli(["list", "--engine", "temporal"]);
      assert.match(stuckList.stdout, new RegExp(`^${runId} +running .*\\n  stuck: its workflow code keeps failing on its workers — \`duragent status ${runId}\` says why$`, "m"));
      const listedJson = JSON.parse((await cli(["list", "--json", "--engine", "temporal"])).stdout) as { runId: string; stuck?: string }[];
      assert.equal(listedJson.find((run) => run.runId === runId)?.stuck, "its workflow code keeps failing on its workers");
      assert.ok(listedJson.filter((run) => run.runId !== runId).every((run) => run.stuck === undefined));
      // The worker's own account of it: the SDK core's warning, forwarded to its JSON log, none on stdout.
      const forwarded = await waitFor("the core's warning in the worker's log", async () =>
        workerErr.split("\n").find((line) => line.startsWith("{") && line.includes("Failing workflow task")), 30_000);
      assert.equal((JSON.parse(forwarded) as { level: number }).level, 40);
      assert.equal(workerOut, "");

      // Cancelling waits for code that gets past the failure; terminate ends it at once.
      const terminated = await cli(["terminate", runId, "--reason", "stuck on a bug", "--engine", "temporal"]);
      assert.equal(terminated.code, 0, terminated.stderr);
      assert.equal((await env.client.workflow.getHandle(runId).describe()).status.name, "TERMINATED");
      const ended = await statusOf(runId);
      assert.equal(ended.phase, "terminated");
      assert.equal(ended.lastError, "stuck on a bug");
      const result = await cli(["result", runId, "--engine", "temporal"]);
      assert.equal(result.code, ExitCode.runFailed);
      assert.match(result.stderr, new RegExp(`Run ${runId} was terminated: stuck on a bug`));
      const listed = JSON.parse((await cli(["list", "--json", "--engine", "temporal"])).stdout) as { runId: string; phase: string }[];
      assert.equal(listed.find((run) => run.runId === runId)?.phase, "terminated");
      const again = await cli(["terminate", runId, "--engine", "temporal"]);
      assert.equal(again.code, ExitCode.alreadyEnded);
      assert.match(again.stderr, /has already ended \(terminated\); there is nothing to terminate/);
    } finally {
      await env.client.workflow.getHandle(runId).terminate("the test is over").catch(() => undefined);
    }
  });

  test("a library's console warning is one of the worker's JSON log lines, said once, not bare text with every call", async () => {
    for (const input of ["hi", "hello"]) {
      const run = await cli(["run", "elder", "--input", input, "--engine", "temporal"]);
      assert.equal(run.code, 0, run.stderr);
    }
    const lines = workerErr.split("\n").filter((line) => line.trim() !== "");
    assert.deepEqual(lines.filter((line) => !line.startsWith("{")), [], "every line of the worker's log is JSON");
    const deprecated = lines.filter((line) => line.includes("is deprecated"));
    assert.equal(deprecated.length, 1, deprecated.join("\n"));
    assert.match((JSON.parse(deprecated[0]!) as { msg: string }).msg, /^The model 'claude-sonnet-4-5' is deprecated/);
  });

  test("mTLS in front of the server: the right settings connect; a CA that did not sign the server's certificate, no client certificate or a wrong server name is named", async () => {
    // test/fixtures/tls: a CA, a server certificate it signed for temporal.test and 127.0.0.1, a
    // client certificate it signed, and another CA (openssl, EC P-256, valid for 100 years).
    const pem = (name: string) => readFileSync(join(tlsFixtures, name));
    const proxy = createTlsServer({ key: pem("server.key"), cert: pem("server.pem"), ca: pem("ca.pem"), requestCert: true, rejectUnauthorized: true, ALPNProtocols: ["h2"] }, (socket) => {
      const [host, port] = env.address.split(":");
      const upstream = connectTcp(Number(port), host!);
      socket.pipe(upstream).pipe(socket);
      const close = () => (socket.destroy(), upstream.destroy());
      socket.on("error", close);
      upstream.on("error", close);
    });
    proxy.on("tlsClientError", () => {}); // the refused handshakes below
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const address = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const tlsEnv = (settings: Record<string, string>) => ({ ...environment, DURAGENT_TEMPORAL_ADDRESS: address, ...settings });
    const client = { TEMPORAL_TLS_CLIENT_CERT_PATH: join(tlsFixtures, "client.pem"), TEMPORAL_TLS_CLIENT_KEY_PATH: join(tlsFixtures, "client.key") };
    try {
      const listed = await cli(["list", "--engine", "temporal"], undefined, tlsEnv({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(tlsFixtures, "ca.pem"), ...client }));
      assert.equal(listed.code, 0, listed.stderr);
      const wrongCa = await cli(["list", "--engine", "temporal"], undefined, tlsEnv({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(tlsFixtures, "other-ca.pem"), ...client }));
      assert.equal(wrongCa.code, ExitCode.unavailable, wrongCa.stderr);
      assert.match(wrongCa.stderr, new RegExp(`Cannot reach Temporal at ${address}: the server's certificate is not trusted \\(.*\\): give the CA that signed it as the server root CA`));
      const noClient = await cli(["list", "--engine", "temporal"], undefined, tlsEnv({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(tlsFixtures, "ca.pem") }));
      assert.equal(noClient.code, ExitCode.unavailable, noClient.stderr);
      assert.match(noClient.stderr, /the server requires a client certificate \(mTLS\) and none was sent/);
      const wrongName = await cli(["list", "--engine", "temporal"], undefined, tlsEnv({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(tlsFixtures, "ca.pem"), TEMPORAL_TLS_SERVER_NAME: "temporal.example", ...client }));
      assert.equal(wrongName.code, ExitCode.unavailable, wrongName.stderr);
      assert.match(wrongName.stderr, /the server's certificate is not for temporal\.example \(.*\): set the name it was issued for as the server name/);
    } finally {
      proxy.close();
    }
  });

  test("--address, --namespace and --task-queue win over the config and the environment", async () => {
    const elsewhere = { ...environment, DURAGENT_TEMPORAL_ADDRESS: "127.0.0.1:1" };
    const listed = await cli(["list", "--json", "--engine", "temporal", "--address", env.address], undefined, elsewhere);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(Array.isArray(JSON.parse(listed.stdout)));
    const missing = await cli(["list", "--engine", "temporal", "-n", "no-such-namespace"]);
    assert.equal(missing.code, ExitCode.notFound, missing.stderr);
    assert.match(missing.stderr, /Temporal namespace 'no-such-namespace' does not exist/);
    // A run started on a queue no worker polls says so, naming the flag's queue.
    const started = await cli(["start", "planner", "--input", "plan a trip", "--engine", "temporal", "--task-queue", "flag-queue"]);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stderr, /No worker is polling task queue 'flag-queue'/);
    const runId = started.stdout.trim();
    assert.equal((await cli(["terminate", runId, "--engine", "temporal", "--task-queue", "flag-queue"])).code, 0);
  });

  test("an unknown run is not found", async () => {
    const missing = await cli(["status", "planner-00000000", "--engine", "temporal"]);
    assert.equal(missing.code, ExitCode.notFound);
    assert.doesNotMatch(missing.stderr, /\n\s+at /);
  });
});

describe("in memory, the terminal answers", () => {
  test("run asks the run's question on the terminal", async () => {
    const run = await cli(["run", "planner", "--input", "plan a trip"], "Porto\n");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), "Got: Porto");
    assert.match(run.stderr, /input-1: Which city\?/);
  });

  test("run takes piped answers a line per question, as the questions ask", async () => {
    // Both lines arrive before the first question is asked; neither may be lost.
    const run = await cli(["run", "counter", "--input", "{}"], "12\ntrue\n");
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), JSON.stringify([{ status: "answered", value: 12 }, { status: "answered", value: true }]));
  });

  test("run refuses an answer and asks again; at the end of its input, a question only it can answer fails the command", async () => {
    // Refused here when it is not JSON at all, by the run when it is JSON of the wrong kind.
    const retried = await cli(["run", "counter", "--input", "{}"], "twelve\n12.5\n12\ntrue\n");
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stderr, /not accepted: The answer to input-1 is not valid JSON: "twelve"; answer with a whole number\./);
    assert.match(retried.stderr, /not accepted: The answer to input-1 is invalid: .*expected int/);
    const ended = await cli(["run", "counter", "--input", "{}"], "12\n");
    assert.equal(ended.code, ExitCode.usage, ended.stderr);
    assert.match(ended.stderr, /input-2: Sure\?[\s\S]*Standard input ended before input-2 was answered/);
    assert.doesNotMatch(ended.stderr, /\n\s+at /);
  });

  test("chat asks a turn's question on the terminal, on both engines, and a gated tool call's approval", async () => {
    for (const engine of ["memory", "temporal"]) {
      const chat = await cli(["chat", "planner", "--engine", engine], "plan a trip\nPorto\n/end\n");
      assert.equal(chat.code, 0, `${engine}: ${chat.stderr}`);
      assert.match(chat.stderr, /input-1: Which city\?/, engine);
      assert.equal(chat.stdout.split("\n")[0], "Got: Porto", engine);
      assert.match(chat.stdout, /ended after 1 turns/, engine);
    }
    const approving = await cli(["chat", "planner"], "please read the plan\ny\n/end\n");
    assert.equal(approving.code, 0, approving.stderr);
    assert.match(approving.stderr, /approval-1: approve fs\/read_text_file/);
    assert.match(approving.stdout.split("\n")[0]!, /^Got: .*nope\.txt/);
  });

  test("a chat's question answered from elsewhere gives way at the prompt; input that ends at a question leaves a Temporal chat to rejoin", async () => {
    const child = spawn(process.execPath, [cliPath, "chat", "planner", "--engine", "temporal"], { cwd: dir, env: environment, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    const exited = once(child, "exit") as Promise<[number | null]>;
    try {
      child.stdin.write("plan a trip\n");
      const chatId = await waitFor("the question at the prompt", () => (/answer> /.test(stderr) ? /^chat (\S+)$/m.exec(stderr)?.[1] : undefined), 30_000);
      assert.equal((await cli(["answer", chatId, "--value", "Lisbon", "--engine", "temporal"])).code, 0);
      await waitFor("the reply", () => (stdout.includes("Got: Lisbon") ? true : undefined), 30_000);
      assert.match(stderr, /input-1 no longer waits: answered elsewhere/);
      child.stdin.end("/end\n");
      const [code] = await exited;
      assert.equal(code, 0, stderr);
      assert.match(stdout, /ended after 1 turns/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    const left = await cli(["chat", "planner", "--engine", "temporal"], "plan a trip\n");
    assert.equal(left.code, 0, left.stderr);
    const chatId = /^chat (\S+)$/m.exec(left.stderr)?.[1] ?? "";
    assert.match(left.stderr, new RegExp(`answer with \`duragent answer ${chatId} --value …\``));
    assert.match(left.stderr, new RegExp(`left chat ${chatId}; rejoin with: duragent chat --resume ${chatId}`));
    assert.doesNotMatch(left.stdout, /left chat/);
    await cli(["terminate", chatId, "--engine", "temporal"]);
  });

  test("on a terminal, chat asks a turn's question at a prompt and takes the line typed after it", { skip: !existsSync("/usr/bin/script") && "needs util-linux's script for a terminal" }, async () => {
    // `script` gives the command a pseudo-terminal, as a person's shell does.
    const command = [process.execPath, cliPath, "chat", "planner"].map((part) => `'${part}'`).join(" ");
    const child = spawn("script", ["-qfec", command, "/dev/null"], { cwd: dir, env: { ...environment, TERM: "dumb" }, stdio: ["pipe", "pipe", "pipe"] });
    let screen = "";
    child.stdout.on("data", (chunk: Buffer) => (screen += chunk));
    const exited = once(child, "exit") as Promise<[number | null]>;
    try {
      await waitFor("the chat's banner", () => (screen.includes("/end closes the chat") ? true : undefined), 30_000);
      child.stdin.write("plan a trip\r");
      await waitFor("the question at its prompt", () => (/input-1: Which city\?[\s\S]*answer> /.test(screen) ? true : undefined), 30_000);
      child.stdin.write("Porto\r");
      await waitFor("the reply", () => (screen.includes("Got: Porto") ? true : undefined), 30_000);
      child.stdin.write("/end\r");
      const [code] = await exited;
      assert.equal(code, 0, screen);
      assert.match(screen, /ended after 1 turns/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  test("on a terminal, Ctrl-C at a memory run's question stops the command (130) and says the run ends with it", { skip: !existsSync("/usr/bin/script") && "needs util-linux's script for a terminal" }, async () => {
    const command = [process.execPath, cliPath, "run", "planner", "--input", "plan a trip", "--engine", "memory"].map((part) => `'${part}'`).join(" ");
    const child = spawn("script", ["-qfec", command, "/dev/null"], { cwd: dir, env: { ...environment, TERM: "dumb" }, stdio: ["pipe", "pipe", "pipe"] });
    let screen = "";
    child.stdout.on("data", (chunk: Buffer) => (screen += chunk));
    const exited = once(child, "exit") as Promise<[number | null]>;
    try {
      await waitFor("the question at its prompt", () => (/input-1: Which city\?[\s\S]*answer> /.test(screen) ? true : undefined), 30_000);
      child.stdin.write("\x03");
      const [code] = await exited;
      assert.equal(code, 130, screen);
      assert.match(screen, /duragent: interrupted; run planner-[0-9a-f]{8} ends with this command, as a memory run does/);
      assert.doesNotMatch(screen, /Standard input ended|this is a bug/);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  test("on a terminal, Ctrl-C while a reply streams says what it does; a second one leaves at once, never as a bug", { skip: !existsSync("/usr/bin/script") && "needs util-linux's script for a terminal" }, async () => {
    for (const engine of ["memory", "temporal"] as const) {
      const command = [process.execPath, cliPath, "chat", "chatty", "--engine", engine].map((part) => `'${part}'`).join(" ");
      const child = spawn("script", ["-qfec", command, "/dev/null"], { cwd: dir, env: { ...environment, TERM: "dumb" }, stdio: ["pipe", "pipe", "pipe"] });
      let screen = "";
      child.stdout.on("data", (chunk: Buffer) => (screen += chunk));
      const exited = once(child, "exit") as Promise<[number | null]>;
      try {
        await waitFor("the chat's banner and its prompt", () => (/\/end closes the chat[^]*> $/.test(screen) ? true : undefined), 30_000);
        child.stdin.write("tell me a long story\r");
        await waitFor("the reply to stream", () => (screen.includes("The ferry crossed") ? true : undefined), 30_000);
        child.stdin.write("\x03");
        const leaving = engine === "memory" ? "Ctrl-C again stops it now" : "Ctrl-C again leaves now, the turn going on: rejoin with duragent chat --resume";
        await waitFor("the first Ctrl-C to be said", () => (screen.includes(`(leaving after this reply; ${leaving}`) ? true : undefined), 30_000);
        child.stdin.write("\x03");
        const [code] = await exited;
        assert.equal(code, 130, screen);
        assert.doesNotMatch(screen, /this is a bug/);
        if (engine === "temporal") {
          const chatId = /chat (chat-chatty-[0-9a-f]{8})/.exec(screen)?.[1];
          assert.match(screen, new RegExp(`left chat ${chatId}, its turn going on; rejoin with: duragent chat --resume ${chatId}`));
          // Rejoined while that reply is still written: it streams on, from its start, before the
          // next message is sent; the next reply is its own, no tail of the story in it.
          const rejoined = await cli(["chat", "--resume", chatId!, "--engine", "temporal", "--stream"], "hi\n");
          assert.equal(rejoined.code, 0, rejoined.stderr);
          assert.match(rejoined.stderr, /\(1 turn so far; the last\)\nyou: tell me a long story\n\(its reply is being written:\)\n/);
          assert.equal(rejoined.stdout, `${Array.from({ length: 10 }, () => story).join(" ")}\nYou said hi\n`);
          // Once whole, a rejoin shows the last exchange.
          const again = await cli(["chat", "--resume", chatId!, "--engine", "temporal"], "");
          assert.match(again.stderr, /\(2 turns so far; the last\)\nyou: hi\nreply: You said hi\n/);
          await cli(["terminate", chatId!, "--engine", "temporal"]);
        }
      } finally {
        if (child.exitCode === null) child.kill("SIGKILL");
      }
    }
  });

  test("chat takes turns until /end", async () => {
    const chat = await cli(["chat", "chatty"], "hello\n/end\n");
    assert.equal(chat.code, 0, chat.stderr);
    const lines = chat.stdout.trim().split("\n");
    assert.equal(lines.length, 2, chat.stdout);
    assert.equal(lines[0], "You said hello");
    assert.match(lines[1]!, /ended after 1 turns/);
    // Piped input that has ended under a turn is its sender's end, not a Ctrl-C to remark on.
    assert.doesNotMatch(chat.stderr, /leaving after this reply/);

    // Leaving a memory chat without /end ends it with the command: no rejoin to offer.
    const left = await cli(["chat", "chatty"], "hello\n");
    assert.equal(left.code, 0, left.stderr);
    assert.equal(left.stdout, "You said hello\n");
    assert.match(left.stderr, /left chat chat-chatty-[0-9a-f]{8}\n/);
    // /exit leaves as the end of input does; a word after a slash is not sent to the model.
    const exited = await cli(["chat", "chatty"], "/help\nhello\n/exit\nnever sent\n");
    assert.equal(exited.code, 0, exited.stderr);
    assert.equal(exited.stdout, "You said hello\n");
    assert.match(exited.stderr, /not sent: \/help is not a command here; \/end closes the chat, \/exit \(or Ctrl-D\) leaves it/);
    assert.match(left.stderr, /a memory chat lives only as long as this command/);
  });

  test("chat --stream prints the reply as it is written, then the same text as without", async () => {
    const seen: string[] = [];
    const chat = await cli(["chat", "chatty", "--stream"], "tell me a story\n/end\n", environment, (soFar) => seen.push(soFar));
    assert.equal(chat.code, 0, chat.stderr);
    const lines = chat.stdout.trim().split("\n");
    assert.deepEqual(lines.slice(0, 1), [story]);
    assert.match(lines[1]!, /ended after 1 turns/);
    const partial = seen.filter((soFar) => soFar.length > 0 && !soFar.includes(story));
    assert.ok(partial.length >= 2, `the reply came in pieces: ${JSON.stringify(seen)}`);
    for (const soFar of partial) assert.ok(story.startsWith(soFar), `'${soFar}' is the reply so far`);

    const whole = await cli(["chat", "chatty", "--no-stream"], "tell me a story\n/end\n");
    assert.equal(whole.stdout.split("\n")[0], story);
  });

  test("run --events prints JSON lines: the step, the answer's text in pieces, the end; --agent keeps only that agent's text", async () => {
    const run = await cli(["run", "chatty", "--input", "tell me a story", "--events"]);
    assert.equal(run.code, 0, run.stderr);
    const events = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as { type: string; delta?: string; agent?: string; result?: { text: string } });
    assert.equal(events[0]!.type, "step");
    const texts = events.filter((event) => event.type === "text");
    assert.ok(texts.length > 1, run.stdout);
    assert.equal(texts.map((event) => event.delta).join(""), story);
    assert.ok(texts.every((event) => event.agent === "chatty"));
    assert.equal(events.at(-1)!.type, "end");
    assert.equal(events.at(-1)!.result!.text, story);

    const other = await cli(["run", "chatty", "--input", "tell me a story", "--events", "--agent", "someone-else"]);
    assert.equal(other.code, 0, other.stderr);
    const kinds = other.stdout.trim().split("\n").map((line) => (JSON.parse(line) as { type: string }).type);
    assert.deepEqual([kinds.includes("text"), kinds.at(-1)], [false, "end"]);
  });

  test("rejoining a chat that does not exist is not found, not a bug", async () => {
    const missing = await cli(["chat", "--resume", "chat-chatty-00000000"]);
    assert.equal(missing.code, ExitCode.notFound);
    assert.match(missing.stderr, /No run 'chat-chatty-00000000'/);
  });
});
