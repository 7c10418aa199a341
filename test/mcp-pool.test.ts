/**
 * The worker-side MCP layer against real MCP servers (server-filesystem, server-everything over
 * stdio, Streamable HTTP and SSE), plus a tiny scripted stdio server for crashes and edge cases.
 * Run: node --import tsx --test test/mcp-pool.test.ts
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { tellingStderrLine } from "../src/activities/mcp/connection-errors.js";
import { ApplicationFailure } from "@temporalio/common";
import { pino } from "pino";
import { FailureType } from "../src/common/failures.js";
import { textOf } from "../src/common/messages.js";
import type { ToolResult } from "../src/common/tools.js";
import type { McpServerConfig } from "../src/config/schema.js";
import { McpConnectionPool, toToolResult, type McpPoolLogger } from "../src/activities/mcp/index.js";
import { toResourceResult } from "../src/activities/mcp/context-items.js";
import { waitFor } from "./support/wait.js";
import { startLateToolHttpServer } from "./fixtures/late-tool-mcp-server.js";

const require = createRequire(import.meta.url);

/** The entry script a package's `bin` points at, so we can run it with this very node. */
async function binOf(pkg: string): Promise<string> {
  const manifestPath = require.resolve(`${pkg}/package.json`);
  const manifest = JSON.parse(await readFile(manifestPath, "utf8")) as { bin: string | Record<string, string> };
  const bin = typeof manifest.bin === "string" ? manifest.bin : Object.values(manifest.bin)[0];
  assert.ok(bin, `${pkg} has no bin`);
  return path.join(path.dirname(manifestPath), bin);
}

const FS_BIN = await binOf("@modelcontextprotocol/server-filesystem");
const EVERYTHING_BIN = await binOf("@modelcontextprotocol/server-everything");

/** A scripted stdio MCP server for what the real ones will not do on demand (crash, hang, page). */
const FAKE_SERVER = String.raw`
const readline = require("node:readline");
const mode = process.env.FAKE_MODE || "";
const pages = [["crash", "reject", "hang", "stats"], ["grow"]];
let listCalls = 0;
const send = (m) => process.stdout.write(JSON.stringify(m) + "\n");
const reply = (id, result) => send({ jsonrpc: "2.0", id, result });
const text = (t) => ({ content: [{ type: "text", text: t }] });
if (mode === "stubborn") {
  process.on("SIGTERM", () => {});
  setInterval(() => {}, 1000);
}
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const msg = JSON.parse(line);
  if (msg.id === undefined || msg.method === undefined) return;
  switch (msg.method) {
    case "initialize":
      return reply(msg.id, {
        protocolVersion: msg.params.protocolVersion,
        capabilities: { tools: { listChanged: true } },
        serverInfo: { name: "fake", version: "1.0.0" },
      });
    case "tools/list": {
      listCalls++;
      const page = msg.params && msg.params.cursor === "p2" ? 1 : 0;
      const tools = pages[page].map((name) => ({ name, inputSchema: { type: "object" } }));
      return reply(msg.id, page === 0 ? { tools, nextCursor: "p2" } : { tools });
    }
    case "tools/call":
      switch (msg.params.name) {
        case "crash":
          process.stderr.write("boom: disk on fire\n");
          process.exit(1);
        case "reject":
          return send({ jsonrpc: "2.0", id: msg.id, error: { code: -32602, message: "Invalid params: bad path" } });
        case "hang":
          return;
        case "stats":
          return reply(msg.id, text(String(listCalls)));
        case "grow":
          pages[1].push("added");
          send({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
          return reply(msg.id, text("grown"));
      }
    default:
      return send({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: "Method not found" } });
  }
});
`;

function fakeServer(mode = "", extra: Partial<McpServerConfig> = {}): McpServerConfig {
  return { command: process.execPath, args: ["-e", FAKE_SERVER], env: { FAKE_MODE: mode }, ...extra } as McpServerConfig;
}

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function captureLogger(): McpPoolLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: Record<string, unknown>, msg?: string) => {
    lines.push({ level, obj, msg });
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

// Compile-time check that a pino logger fits the pool's logger type.
const _pinoFits: McpPoolLogger = pino({ level: "silent" });
void _pinoFits;

/** A pool that is closed when the test ends, pass or fail. */
function poolFor(t: TestContext, servers: Record<string, McpServerConfig>, logger?: McpPoolLogger): McpConnectionPool {
  const pool = new McpConnectionPool(servers, logger ? { logger } : {});
  t.after(() => pool.closeAll());
  return pool;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, "ESRCH");
    return false;
  }
}

/** For a process that is not our child: an orphan that died waits as a zombie until init reaps it, which a container's init may never do. */
function isRunning(pid: number): boolean {
  const stat = process.platform === "linux" ? readFileSyncOrEmpty(`/proc/${pid}/stat`) : "";
  return isAlive(pid) && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

function readFileSyncOrEmpty(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function waitUntilGone(pid: number, ms = 3000): Promise<true> {
  return waitFor(`process ${pid} to exit`, () => (isAlive(pid) ? undefined : true), ms);
}

async function pidOf(pool: McpConnectionPool, server: string): Promise<number> {
  const connection = await pool.getConnection(server);
  assert.ok(connection, `no open connection to ${server}`);
  assert.ok(connection.pid, `no pid for ${server}`);
  return connection.pid;
}

function text(result: ToolResult): string {
  return textOf(result.content);
}

function assertUnavailable(pattern: RegExp): (error: unknown) => true {
  return (error) => {
    assert.ok(error instanceof ApplicationFailure, `expected ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, FailureType.mcpServerUnavailable);
    assert.equal(error.nonRetryable, false);
    assert.match(error.message, pattern);
    return true;
  };
}

// Safety net: any server process a test started itself dies with the test run.
const started = new Set<ChildProcess>();
after(() => {
  for (const child of started) child.kill("SIGKILL");
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  assert.ok(address && typeof address === "object");
  await new Promise((resolve) => server.close(resolve));
  return address.port;
}

async function waitForPort(port: number, child: ChildProcess, ms = 10_000): Promise<void> {
  await waitFor(
    `something listening on port ${port}`,
    async () => {
      assert.equal(child.exitCode, null, "HTTP server exited before listening");
      const connected = await new Promise<boolean>((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.once("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(false));
      });
      return connected ? true : undefined;
    },
    ms,
  );
}

/** Starts server-everything on a free port with `PORT`, and stops it when the test ends. */
async function startEverythingHttp(t: TestContext, mode: "streamableHttp" | "sse"): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING_BIN, mode], {
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  started.add(child);
  child.stderr?.resume();
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    started.delete(child);
  });
  await waitForPort(port, child);
  return { port, child };
}

let dir: string;
let notePath: string;

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "duragent-mcp-"));
  notePath = path.join(dir, "note.txt");
  await writeFile(notePath, "hello from the temp dir\n");
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const filesystem = (extra: Partial<McpServerConfig> = {}): McpServerConfig =>
  ({ command: process.execPath, args: [FS_BIN, dir], ...extra }) as McpServerConfig;

describe("server-filesystem over stdio", () => {
  test("lists tools and reads a file", async (t) => {
    const logger = captureLogger();
    const pool = poolFor(t, { fs: filesystem() }, logger);
    const tools = await pool.listTools("fs");
    const read = tools.find((tool) => tool.name === "read_text_file");
    assert.ok(read, "read_text_file is listed");
    assert.equal(read.server, "fs");
    assert.equal(typeof read.inputSchema, "object");

    const result = await pool.callTool({ server: "fs", tool: "read_text_file", arguments: { path: notePath } });
    assert.equal(result.isError, false);
    assert.equal(text(result), "hello from the temp dir\n");

    // The server's stderr reaches our logger, not our stderr.
    assert.ok(logger.lines.some((line) => line.obj.mcpServer === "fs" && /running on stdio/.test(line.msg ?? "")));
  });

  test("allowedTools filters with globs", async (t) => {
    const pool = poolFor(t, { fs: filesystem({ allowedTools: ["read_*", "list_directory"] }) });
    const names = (await pool.listTools("fs")).map((tool) => tool.name);
    assert.ok(names.includes("read_text_file"));
    assert.ok(names.includes("list_directory"));
    assert.ok(!names.includes("write_file"));
    assert.ok(names.every((name) => name.startsWith("read_") || name === "list_directory"), names.join(","));

    const hidden = await pool.callTool({ server: "fs", tool: "write_file", arguments: { path: notePath, content: "x" } });
    assert.equal(hidden.isError, true);
    assert.match(text(hidden), /^Unknown tool 'write_file' on server 'fs'\. Available: .*read_text_file/);
    assert.equal(await readFile(notePath, "utf8"), "hello from the temp dir\n");
  });

  test("unknown tools and invalid arguments come back as isError results", async (t) => {
    const pool = poolFor(t, { fs: filesystem() });
    const unknown = await pool.callTool({ server: "fs", tool: "read_minds", arguments: {} });
    assert.equal(unknown.isError, true);
    assert.match(text(unknown), /^Unknown tool 'read_minds' on server 'fs'\. Available: .*read_text_file.*/);

    const wrongType = await pool.callTool({ server: "fs", tool: "read_text_file", arguments: { path: 42 } });
    assert.equal(wrongType.isError, true);
    assert.equal(text(wrongType), "Invalid arguments for read_text_file: /path must be string");

    const missing = await pool.callTool({ server: "fs", tool: "read_text_file", arguments: {} });
    assert.equal(missing.isError, true);
    assert.match(text(missing), /^Invalid arguments for read_text_file: .*\/path is required/);

    // A model's null for an optional argument means "not given"; for a required one it stays wrong.
    const nullOptional = await pool.callTool({ server: "fs", tool: "read_text_file", arguments: { path: notePath, head: null } });
    assert.equal(text(nullOptional), "hello from the temp dir\n");
    const nullRequired = await pool.callTool({ server: "fs", tool: "read_text_file", arguments: { path: null } });
    assert.equal(nullRequired.isError, true);
    assert.match(text(nullRequired), /^Invalid arguments for read_text_file: \/path must be string/);

    // The server's own refusal is a tool error too.
    const outside = await pool.callTool({ server: "fs", tool: "read_text_file", arguments: { path: "/etc/hostname" } });
    assert.equal(outside.isError, true);
    assert.match(text(outside), /denied|outside|not allowed/i);
  });

  test("reuses one connection across calls", async (t) => {
    const pool = poolFor(t, { fs: filesystem() });
    // Concurrent first uses share one connecting promise.
    await Promise.all([pool.listTools("fs"), pool.listTools("fs"), pool.listTools("fs")]);
    const first = await pool.getConnection("fs");
    await pool.callTool({ server: "fs", tool: "read_text_file", arguments: { path: notePath } });
    await pool.callTool({ server: "fs", tool: "read_text_file", arguments: { path: notePath } });
    const second = await pool.getConnection("fs");
    assert.ok(first && second);
    assert.equal(second.client, first.client);
    assert.equal(second.pid, first.pid);
  });

  test("closed, the pool warns of nothing and opens nothing: a server killed by Ctrl-C or a step started after close is expected", async (t) => {
    const logger = captureLogger();
    const pool = poolFor(t, { fs: filesystem() }, logger);
    await pool.listTools("fs");
    // Ctrl-C in a terminal sends SIGINT to the whole process group, the server included.
    const pid = await pidOf(pool, "fs");
    process.kill(pid, "SIGINT");
    // Gone once the pool has seen it go (a process that died is a zombie until then).
    await waitFor("the pool to see the server go", () => (logger.lines.some((line) => line.msg === "MCP server 'fs' was killed (SIGINT)") ? true : undefined));
    assert.equal(isAlive(pid), false);
    await pool.listTools("fs");
    await pool.closeAll();
    await assert.rejects(pool.listTools("fs"), assertUnavailable(/^MCP server 'fs' was not started: duragent's MCP connections are closed/));
    assert.deepEqual(logger.lines.filter((line) => line.level === "warn").map((line) => line.msg), []);
    assert.ok(logger.lines.some((line) => line.level === "debug" && line.msg === "MCP server 'fs' was killed (SIGINT)"), JSON.stringify(logger.lines.map((line) => line.msg)));
  });

  test("reconnects after the server process is killed", async (t) => {
    const pool = poolFor(t, { fs: filesystem() });
    await pool.listTools("fs");
    const firstPid = await pidOf(pool, "fs");
    process.kill(firstPid, "SIGKILL");
    assert.ok(await waitUntilGone(firstPid));

    const result = await pool.callTool({ server: "fs", tool: "read_text_file", arguments: { path: notePath } });
    assert.equal(result.isError, false);
    assert.equal(text(result), "hello from the temp dir\n");
    const secondPid = await pidOf(pool, "fs");
    assert.notEqual(secondPid, firstPid);

    // Killed right before the call, before the pool has heard about it: that attempt fails
    // (retryably; Temporal counts it), and the next one starts a new process.
    process.kill(secondPid, "SIGKILL");
    await pool.callTool({ server: "fs", tool: "read_text_file", arguments: { path: notePath } }).then(
      (again) => assert.equal(text(again), "hello from the temp dir\n"),
      assertUnavailable(/^MCP server 'fs' .*during tools\/call read_text_file/),
    );
    const third = await pool.callTool({ server: "fs", tool: "read_text_file", arguments: { path: notePath } });
    assert.equal(text(third), "hello from the temp dir\n");
    assert.notEqual(await pidOf(pool, "fs"), secondPid);
  });

  test("offers configured roots, resolved against the working directory", async (t) => {
    // No directory argument: the server can only use the roots we give it.
    const relative = path.relative(process.cwd(), dir);
    const pool = poolFor(t, { fs: { command: process.execPath, args: [FS_BIN], roots: [relative] } });
    // The server asks for roots after initialize and applies them asynchronously, so wait for that.
    await waitFor("the server to take the roots", async () => {
      const allowed = await pool.callTool({ server: "fs", tool: "list_allowed_directories", arguments: {} });
      return text(allowed).includes(path.basename(dir)) ? true : undefined;
    }, 5000);
    const result = await pool.callTool({ server: "fs", tool: "read_text_file", arguments: { path: notePath } });
    assert.equal(result.isError, false, text(result));
    assert.equal(text(result), "hello from the temp dir\n");

    // Only the roots: a sibling directory and a system file stay out of reach.
    const outsideDir = await mkdtemp(path.join(os.tmpdir(), "duragent-outside-"));
    t.after(() => rm(outsideDir, { recursive: true, force: true }));
    const outsideFile = path.join(outsideDir, "secret.txt");
    await writeFile(outsideFile, "not yours\n");
    for (const denied of [outsideFile, "/etc/hostname"]) {
      const refused = await pool.callTool({ server: "fs", tool: "read_text_file", arguments: { path: denied } });
      assert.equal(refused.isError, true, `${denied} should be refused: ${text(refused)}`);
      assert.match(text(refused), /access denied|outside allowed/i);
      assert.doesNotMatch(text(refused), /not yours/);
    }
    const allowed = text(await pool.callTool({ server: "fs", tool: "list_allowed_directories", arguments: {} }));
    assert.ok(!allowed.includes(outsideDir), allowed);
  });
});

describe("server-everything", () => {
  test("over stdio: echo, roots and content mapping", async (t) => {
    const pool = poolFor(t, {
      everything: { command: process.execPath, args: [EVERYTHING_BIN, "stdio"], roots: [dir, "file:///srv/data"] },
    });
    const names = (await pool.listTools("everything")).map((tool) => tool.name);
    assert.ok(names.includes("echo"));

    const echo = await pool.callTool({ server: "everything", tool: "echo", arguments: { message: "hi" } });
    assert.deepEqual(echo, { content: [{ type: "text", text: "Echo: hi" }], isError: false });

    const roots = text(await pool.callTool({ server: "everything", tool: "get-roots-list", arguments: {} }));
    assert.ok(roots.includes(pathToFileURL(dir).href), roots);
    assert.ok(roots.includes("file:///srv/data"), roots);

    const image = await pool.callTool({ server: "everything", tool: "get-tiny-image", arguments: {} });
    const imagePart = image.content.find((part) => part.type === "image");
    assert.ok(imagePart && imagePart.type === "image" && imagePart.mimeType === "image/png" && imagePart.data.length > 0);

    const links = await pool.callTool({ server: "everything", tool: "get-resource-links", arguments: { count: 2 } });
    assert.ok(links.content.some((part) => part.type === "text" && /^Resource link: .+ \S+:\/\/\S+$/.test(part.text)), text(links));

    const embedded = await pool.callTool({
      server: "everything",
      tool: "get-resource-reference",
      arguments: { resourceType: "Text", resourceId: 1 },
    });
    assert.equal(embedded.isError, false);
    assert.ok(embedded.content.length >= 2, text(embedded));

    const structured = await pool.callTool({
      server: "everything",
      tool: "get-structured-content",
      arguments: { location: "Chicago" },
    });
    assert.equal(structured.isError, false);
    assert.equal(typeof structured.structuredContent, "object");

    const badEnum = await pool.callTool({
      server: "everything",
      tool: "get-structured-content",
      arguments: { location: "Paris" },
    });
    assert.equal(badEnum.isError, true);
    assert.match(text(badEnum), /^Invalid arguments for get-structured-content: \/location must be one of "New York"/);
  });

  test("over Streamable HTTP", async (t) => {
    const { port } = await startEverythingHttp(t, "streamableHttp");
    const pool = poolFor(t, { everything: { url: `http://127.0.0.1:${port}/mcp`, headers: { "x-duragent-test": "1" } } });
    const names = (await pool.listTools("everything")).map((tool) => tool.name);
    assert.ok(names.includes("echo"));
    const echo = await pool.callTool({ server: "everything", tool: "echo", arguments: { message: "over http" } });
    assert.equal(text(echo), "Echo: over http");
  });

  test("over SSE", async (t) => {
    const { port } = await startEverythingHttp(t, "sse");
    const pool = poolFor(t, { everything: { url: `http://127.0.0.1:${port}/sse`, transport: "sse" } });
    const names = (await pool.listTools("everything")).map((tool) => tool.name);
    assert.ok(names.includes("echo"));
    const echo = await pool.callTool({ server: "everything", tool: "echo", arguments: { message: "over sse" } });
    assert.equal(text(echo), "Echo: over sse");
  });

  test("an HTTP server that went away is a retryable McpServerUnavailable", async (t) => {
    const { port, child } = await startEverythingHttp(t, "streamableHttp");
    const pool = poolFor(t, { everything: { url: `http://127.0.0.1:${port}/mcp` } });
    await pool.listTools("everything");
    child.kill("SIGKILL");
    await once(child, "exit");
    await assert.rejects(
      pool.callTool({ server: "everything", tool: "echo", arguments: { message: "anyone?" } }),
      // The call's one try fails; Temporal's next attempt reconnects (and would fail in initialize).
      assertUnavailable(new RegExp(`^MCP server 'everything' at http://127\\.0\\.0\\.1:${port}/mcp failed during tools/call echo: .*ECONNREFUSED`)),
    );
    await assert.rejects(
      pool.callTool({ server: "everything", tool: "echo", arguments: { message: "still nobody?" } }),
      assertUnavailable(new RegExp(`^MCP server 'everything' at http://127\\.0\\.0\\.1:${port}/mcp failed during initialize: .*ECONNREFUSED`)),
    );
  });

  test("a server that dies mid-call fails that attempt without calling again; the next call gets a new process", async (t) => {
    const logger = captureLogger();
    const pool = poolFor(t, { everything: { command: process.execPath, args: [EVERYTHING_BIN, "stdio"] } }, logger);
    await pool.listTools("everything");
    const firstPid = await pidOf(pool, "everything");
    // Killed once the call is surely in flight: at its first progress report.
    let inFlight: () => void = () => undefined;
    const reported = new Promise<void>((resolve) => (inFlight = resolve));
    const call = pool.callTool(
      { server: "everything", tool: "trigger-long-running-operation", arguments: { duration: 2, steps: 2 } },
      { onProgress: () => inFlight() },
    );
    await reported;
    process.kill(firstPid, "SIGKILL");
    await assert.rejects(call, assertUnavailable(/^MCP server 'everything' was killed \(SIGKILL\) during tools\/call trigger-long-running-operation/));
    assert.ok(!logger.lines.some((line) => /retrying once/.test(line.msg ?? "")), "a tool call is never repeated inside an attempt");
    const next = await pool.callTool({ server: "everything", tool: "echo", arguments: { message: "again" } });
    assert.match(text(next), /again/);
    assert.notEqual(await pidOf(pool, "everything"), firstPid);
  });
});

describe("failures", () => {
  test("a command that does not exist fails at once, naming it: no retry can install it", async (t) => {
    const pool = poolFor(t, { ghost: { command: "duragent-no-such-mcp-server", args: ["--stdio"] } });
    const notInstalled = (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, FailureType.configuration);
      assert.equal(error.nonRetryable, true);
      assert.equal(
        error.message,
        "MCP server 'ghost' could not be started (command 'duragent-no-such-mcp-server --stdio'): 'duragent-no-such-mcp-server' is not installed (not found on PATH). Install it, or fix mcp.servers.ghost.command.",
      );
      return true;
    };
    await assert.rejects(pool.listTools("ghost"), notInstalled);
    await assert.rejects(pool.callTool({ server: "ghost", tool: "x", arguments: {} }), notInstalled);
  });

  test("a working directory or a command path that does not exist is named as what it is, not as a command missing from PATH", async (t) => {
    const pool = poolFor(t, {
      lost: { command: process.execPath, args: ["server.js"], cwd: path.join(os.tmpdir(), "duragent-no-such-dir") },
      pathless: { command: path.join(os.tmpdir(), "duragent-no-such-dir", "server") },
    });
    const refused = (expected: string) => (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.nonRetryable, true);
      assert.equal(error.message, expected);
      return true;
    };
    await assert.rejects(pool.listTools("lost"), refused(`MCP server 'lost' could not be started: its working directory '${path.join(os.tmpdir(), "duragent-no-such-dir")}' does not exist. Create it, or fix mcp.servers.lost.cwd.`));
    const command = path.join(os.tmpdir(), "duragent-no-such-dir", "server");
    await assert.rejects(pool.listTools("pathless"), refused(`MCP server 'pathless' could not be started (command '${command}'): '${command}' does not exist. Fix mcp.servers.pathless.command.`));
  });

  test("`npx --no-install` of a package that is not installed says which one, and how to install it", async (t) => {
    const empty = await mkdtemp(path.join(os.tmpdir(), "duragent-npx-"));
    t.after(() => rm(empty, { recursive: true, force: true }));
    const pool = poolFor(t, { fs: { command: "npx", args: ["--no-install", "@modelcontextprotocol/server-filesystem", "."], cwd: empty } });
    await assert.rejects(pool.listTools("fs"), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.nonRetryable, true);
      assert.equal(
        error.message,
        "MCP server 'fs' cannot be started: @modelcontextprotocol/server-filesystem is not installed; run `npm i @modelcontextprotocol/server-filesystem` in the project.",
      );
      assert.doesNotMatch(error.message, /A complete log/);
      return true;
    });
  });

  test("an unknown server is a non-retryable configuration error", async (t) => {
    const pool = poolFor(t, { fs: filesystem(), everything: fakeServer() });
    await assert.rejects(pool.callTool({ server: "nope", tool: "x", arguments: {} }), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, FailureType.configuration);
      assert.equal(error.nonRetryable, true);
      assert.equal(error.message, "Unknown MCP server 'nope'. Configured servers: fs, everything");
      return true;
    });
  });

  test("a server that exits during the call says so with its last stderr line", async (t) => {
    const pool = poolFor(t, { crashy: fakeServer() });
    await assert.rejects(
      pool.callTool({ server: "crashy", tool: "crash", arguments: {} }),
      assertUnavailable(/^MCP server 'crashy' exited \(code 1\) during tools\/call crash: boom: disk on fire$/),
    );
    // Still usable afterwards, on a fresh process (one listing of two pages so far).
    assert.equal(text(await pool.callTool({ server: "crashy", tool: "stats", arguments: {} })), "2");
  });

  test("a server that never finishes starting fails by name at its startup timeout, and may be tried again", async (t) => {
    const silent = `process.stderr.write("warming up\\n"); setInterval(() => {}, 1000);`;
    const pool = poolFor(t, { sleeper: { command: process.execPath, args: ["-e", silent], startupTimeoutMs: 1_000 } });
    await assert.rejects(
      pool.callTool({ server: "sleeper", tool: "x", arguments: {} }),
      assertUnavailable(/^MCP server 'sleeper' did not finish starting \(initialize\) within 1000 ms \(mcp\.servers\.sleeper\.startupTimeoutMs\); its last stderr line: warming up$/),
    );
  });

  test("the stderr line quoted is the error's, past Node's stack, properties and version", () => {
    const crash = ["node:internal/modules/esm/resolve:873", "  throw new ERR_MODULE_NOT_FOUND(packageName, fileURLToPath(base), null);", "        ^", "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'left-pad'", "    at packageResolve (node:internal/modules/esm/resolve:873:9) {", "  code: 'ERR_MODULE_NOT_FOUND'", "}", "Node.js v20.20.2"];
    assert.equal(tellingStderrLine(crash), "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'left-pad'");
    assert.equal(tellingStderrLine(["Traceback (most recent call last):", '  File "server.py", line 3', "ValueError: bad port"]), "ValueError: bad port");
    assert.equal(tellingStderrLine(["starting", "boom: disk on fire"]), "boom: disk on fire");
    assert.equal(tellingStderrLine([]), undefined);
  });

  test("a Node server that crashes as it starts is quoted by its error, not by Node's closing lines", async (t) => {
    const pool = poolFor(t, { crashing: { command: process.execPath, args: ["-e", "throw new Error('kaboom in MCP server')"] } });
    await assert.rejects(
      pool.callTool({ server: "crashing", tool: "x", arguments: {} }),
      assertUnavailable(/^MCP server 'crashing' exited \(code 1\) during initialize: Error: kaboom in MCP server$/),
    );
  });

  test("a JSON-RPC error from the server is an isError result", async (t) => {
    const pool = poolFor(t, { fake: fakeServer() });
    const result = await pool.callTool({ server: "fake", tool: "reject", arguments: {} });
    assert.equal(result.isError, true);
    assert.match(text(result), /Invalid params: bad path/);
  });

  test("tool lists are paginated, cached, and refreshed on list_changed", async (t) => {
    const pool = poolFor(t, { fake: fakeServer() });
    const first = (await pool.listTools("fake")).map((tool) => tool.name);
    assert.deepEqual(first, ["crash", "reject", "hang", "stats", "grow"]);
    await pool.listTools("fake");
    // Two pages, fetched once.
    assert.equal(text(await pool.callTool({ server: "fake", tool: "stats", arguments: {} })), "2");

    await pool.callTool({ server: "fake", tool: "grow", arguments: {} });
    const grown = (await pool.listTools("fake")).map((tool) => tool.name);
    assert.deepEqual(grown, ["crash", "reject", "hang", "stats", "grow", "added"]);
    assert.equal(text(await pool.callTool({ server: "fake", tool: "stats", arguments: {} })), "4");
  });

  test("over HTTP, a tool the server added during the previous call is called though its list_changed has not come yet", async (t) => {
    const server = await startLateToolHttpServer({ notifyDelayMs: 2_000 });
    t.after(() => server.close());
    const pool = poolFor(t, { late: { url: server.url } });
    assert.deepEqual((await pool.listTools("late")).map((tool) => tool.name), ["add-tool"]);
    assert.equal(text(await pool.callTool({ server: "late", tool: "add-tool", arguments: {} })), "added late-tool");
    // The cached list lacks it: the pool looks again before refusing.
    const late = await pool.callTool({ server: "late", tool: "late-tool", arguments: {} });
    assert.notEqual(late.isError, true, text(late));
    assert.equal(text(late), "late tool ran");
    assert.deepEqual((await pool.listTools("late")).map((tool) => tool.name), ["add-tool", "late-tool"]);
    // A tool that is not there after the fresh look is still refused, naming what is.
    const unknown = await pool.callTool({ server: "late", tool: "never-tool", arguments: {} });
    assert.equal(unknown.isError, true);
    assert.equal(text(unknown), "Unknown tool 'never-tool' on server 'late'. Available: add-tool, late-tool");
  });

  test("a request that outlives timeoutMs is a retryable failure; an abort rejects with its reason", async (t) => {
    const pool = poolFor(t, { slow: fakeServer("", { timeoutMs: 300 }) });
    await assert.rejects(
      pool.callTool({ server: "slow", tool: "hang", arguments: {} }),
      assertUnavailable(/^MCP server 'slow' did not answer tools\/call hang within 300ms$/),
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("activity cancelled")), 50);
    await assert.rejects(pool.callTool({ server: "slow", tool: "hang", arguments: {} }, { signal: controller.signal }), {
      message: "activity cancelled",
    });
  });

  test("closing leaves no grandchild either: a server that a launcher (as npx does) started, ignoring stdin and SIGTERM", async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "duragent-launcher-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const pidFile = path.join(dir, "server.pid");
    // Like `npm exec`: runs the server as its child, passing its stdio on, and forwards no signal.
    const launcher = String.raw`
      const { spawn } = require("node:child_process");
      const server = spawn(process.execPath, ["-e", process.env.SERVER_SOURCE], { stdio: "inherit" });
      require("node:fs").writeFileSync(process.env.SERVER_PID_FILE, String(server.pid));
      server.on("exit", (code) => process.exit(code ?? 1));
    `;
    const pool = poolFor(t, {
      launched: { command: process.execPath, args: ["-e", launcher], env: { FAKE_MODE: "stubborn", SERVER_SOURCE: FAKE_SERVER, SERVER_PID_FILE: pidFile } } as McpServerConfig,
    });
    await pool.listTools("launched");
    const launcherPid = await pidOf(pool, "launched");
    const serverPid = Number(await readFile(pidFile, "utf8"));
    assert.ok(isAlive(launcherPid) && isRunning(serverPid));
    await pool.closeAll();
    assert.ok(await waitUntilGone(launcherPid, 500), `the launcher ${launcherPid} is still alive`);
    assert.ok(await waitFor(`the server ${serverPid} to exit`, () => (isRunning(serverPid) ? undefined : true), 500), `the server ${serverPid} it started is still alive`);
  });

  test("closeAll leaves no child process, even one that ignores stdin and SIGTERM", async (t) => {
    const pool = poolFor(t, {
      fs: filesystem(),
      everything: { command: process.execPath, args: [EVERYTHING_BIN, "stdio"] },
      stubborn: fakeServer("stubborn"),
    });
    await Promise.all([pool.listTools("fs"), pool.listTools("everything"), pool.listTools("stubborn")]);
    const pids = await Promise.all(["fs", "everything", "stubborn"].map((name) => pidOf(pool, name)));
    assert.ok(pids.every(isAlive));
    await pool.closeAll();
    for (const pid of pids) assert.ok(await waitUntilGone(pid, 500), `process ${pid} is still alive`);
    assert.equal(await pool.getConnection("fs"), undefined);

    // Closed for good: nothing is opened after (a step that outlived its engine spawns no server).
    await assert.rejects(pool.listTools("fs"), /duragent's MCP connections are closed/);

    // close(name) closes just one, and the next use reopens it.
    const again = poolFor(t, { fs: filesystem() });
    await again.listTools("fs");
    const fsPid = await pidOf(again, "fs");
    await again.close("fs");
    assert.ok(await waitUntilGone(fsPid, 500));
    await again.listTools("fs");
    assert.notEqual(await pidOf(again, "fs"), fsPid);
  });
});

describe("tool result mapping", () => {
  test("maps every MCP content kind", () => {
    const result = toToolResult({
      content: [
        { type: "text", text: "plain" },
        { type: "image", data: "iVBORw0KGgo=", mimeType: "image/png" },
        { type: "audio", data: "AAAA", mimeType: "audio/wav" },
        { type: "resource_link", name: "readme", uri: "file:///r/README.md" },
        { type: "resource", resource: { uri: "file:///a.txt", text: "embedded text" } },
        { type: "resource", resource: { uri: "file:///b.bin", blob: "AAAA", mimeType: "application/octet-stream" } },
        { type: "resource", resource: { uri: "file:///c.json", blob: Buffer.from('{"a": 1}').toString("base64"), mimeType: "application/json" } },
        { type: "text", text: "for your eyes only", annotations: { audience: ["user"] } },
        { type: "text", text: "for both", annotations: { audience: ["user", "assistant"] } },
      ],
      isError: true,
    });
    assert.equal(result.isError, true);
    assert.deepEqual(result.content[0], { type: "text", text: "plain" });
    assert.deepEqual(result.content[1], { type: "image", data: "iVBORw0KGgo=", mimeType: "image/png" });
    assert.match(textOf([result.content[2]!]), /Audio content \(audio\/wav/);
    assert.deepEqual(result.content[3], { type: "text", text: "Resource link: readme file:///r/README.md" });
    // An embedded resource says what it is; a blob that is text is read as text.
    assert.deepEqual(result.content[4], { type: "text", text: "[Resource file:///a.txt]\nembedded text" });
    assert.match(textOf([result.content[5]!]), /binary resource file:\/\/\/b\.bin/);
    assert.deepEqual(result.content[6], { type: "text", text: '[Resource file:///c.json (application/json)]\n{"a": 1}' });
    // What MCP annotates as for the user alone does not reach the model.
    assert.deepEqual(result.content.slice(7), [{ type: "text", text: "for both" }]);
    assert.deepEqual(toToolResult({ content: [{ type: "text", text: "hi", annotations: { audience: ["user"] } }] }).content, [{ type: "text", text: "[The tool's result is addressed to the user only]" }]);
  });

  test("a read resource's text, or a blob that is text, comes without a label line; an image blob stays an image", () => {
    const base64 = (text: string) => Buffer.from(text).toString("base64");
    const read = toResourceResult("demo", "demo://r", {
      contents: [
        { uri: "demo://r/1", mimeType: "text/plain", text: "plain" },
        { uri: "demo://r/2", mimeType: "text/plain", blob: base64("decoded") },
        { uri: "demo://r/3", mimeType: "image/png", blob: "iVBORw0KGgo=" },
      ],
    });
    assert.deepEqual(read.contents.map((item) => item.part), [
      { type: "text", text: "plain" },
      { type: "text", text: "decoded" },
      { type: "image", data: "iVBORw0KGgo=", mimeType: "image/png" },
    ]);
  });

  test("structured content passes through, and stands in for empty content", () => {
    const result = toToolResult({ content: [], structuredContent: { temperature: 21 } });
    assert.deepEqual(result, {
      content: [{ type: "text", text: '{"temperature":21}' }],
      isError: false,
      structuredContent: { temperature: 21 },
    });
  });
});
