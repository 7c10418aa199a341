/**
 * MCP servers and authorization servers that misbehave: a malformed message (not JSON, or not the
 * message MCP says), one over the size limit (HTTP and stdio), a protocol version duragent does
 * not speak, an authorization server whose token responses are not tokens. Each must end the
 * worker's call at once with a non-retryable failure that names the server and what was wrong:
 * never a retry loop, a wait for a timeout, or a stack trace.
 * Run: node --import tsx --test test/mcp-bad-input.test.ts
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, describe, test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { McpConnectionPool } from "../src/activities/mcp/connection-pool.js";
import { authLoginCommand } from "../src/cli/commands/auth.js";
import { FailureType } from "../src/common/failures.js";
import { textOf } from "../src/common/messages.js";
import { ConfigSchema, type McpServerConfig } from "../src/config/schema.js";
import { AuthorizationServer, ResourceServer, signInAsPerson, TokenRegistry } from "./support/oauth-lab.js";

const LIMIT = 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), "duragent-bad-input-"));
let servers: Server[] = [];
let closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  servers = [];
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

after(() => rmSync(root, { recursive: true, force: true }));

type Message = { id?: number; method?: string };

/** A hand-written MCP server: a correct `initialize` (unless told otherwise) and whatever `answer` writes for the rest. */
async function rawServer(answer: (message: Message, res: ServerResponse) => void, protocolVersion = "2025-11-25"): Promise<string> {
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== "POST") return void res.writeHead(405).end();
    const message = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Message;
    if (message.method === "initialize") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { protocolVersion, capabilities: { tools: {} }, serverInfo: { name: "raw", version: "1" } } }));
      return;
    }
    if (message.id === undefined) return void res.writeHead(202).end();
    // A 2025 server knows no `server/discover`: duragent's probe for 2026-07-28 hears so, and falls back to initialize.
    if (message.method === "server/discover") {
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "Method not found" } }));
    }
    answer(message, res);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
}

/** The failure listing the server's tools ends with, checked to be immediate and final. */
async function listFailure(config: Record<string, unknown>, name = "bad"): Promise<ApplicationFailure> {
  const servers = { [name]: ConfigSchema.parse({ mcp: { servers: { [name]: config } } }).mcp.servers[name] as McpServerConfig };
  const pool = new McpConnectionPool(servers, { maxMessageBytes: LIMIT });
  const started = Date.now();
  try {
    await pool.listTools(name);
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, String(error));
    assert.equal(error.nonRetryable, true, error.message);
    assert.equal(error.type, FailureType.mcpServerMisbehaved, error.message);
    assert.match(error.message, new RegExp(`MCP server '${name}'`));
    assert.doesNotMatch(error.message, /\n\s+at /, "no stack trace");
    assert.ok(Date.now() - started < 5_000, "failed at once, not at a timeout");
    return error;
  } finally {
    await pool.closeAll();
  }
  assert.fail("listing the tools should have failed");
}

describe("a misbehaving MCP server gets a clear, final failure", () => {
  test("a protocol version duragent does not speak", async () => {
    const url = await rawServer(() => undefined, "1999-01-01");
    const failure = await listFailure({ url });
    assert.match(failure.message, /MCP server 'bad' at http:\/\/127\.0\.0\.1:\d+\/mcp answered initialize with protocol version '1999-01-01', which duragent does not speak \(it speaks 2025-11-25, /);
  });

  test("an HTTP server that refuses duragent's credentials (401, 403), or has no MCP endpoint at the URL (404): final at once, naming the setting to fix; a 500 is retried", async () => {
    const answering = async (status: number) => {
      const server = createServer((req, res) => {
        req.resume();
        req.on("end", () => res.writeHead(status, { "content-type": "text/plain" }).end("no"));
      });
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      servers.push(server);
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    };
    const failure = async (config: Record<string, unknown>) => {
      const pool = new McpConnectionPool({ web: ConfigSchema.parse({ mcp: { servers: { web: config } } }).mcp.servers.web as McpServerConfig });
      try {
        return await pool.listTools("web").then(() => assert.fail("listed the tools"), (error: unknown) => error as ApplicationFailure);
      } finally {
        await pool.closeAll();
      }
    };
    const unauthorized = await answering(401);
    const withHeader = await failure({ url: unauthorized, headers: { Authorization: "Bearer not-this-one" } });
    assert.equal(withHeader.nonRetryable, true);
    assert.equal(withHeader.type, FailureType.configuration);
    assert.equal(withHeader.message, `MCP server 'web' at ${unauthorized} refused duragent (HTTP 401: it requires authorization). It did not accept the Authorization header in mcp.servers.web.headers.`);
    assert.match((await failure({ url: unauthorized })).message, /Give it credentials: mcp\.servers\.web\.auth, or an Authorization header under mcp\.servers\.web\.headers\.$/);
    const forbidden = await answering(403);
    assert.match((await failure({ url: forbidden })).message, /refused duragent \(HTTP 403: access denied\)/);
    const wrongPath = await answering(404);
    const notThere = await failure({ url: wrongPath });
    assert.equal(notThere.nonRetryable, true);
    assert.equal(notThere.message, `MCP server 'web': nothing answers MCP at ${wrongPath} (HTTP 404). Check mcp.servers.web.url, the MCP endpoint's whole path (often /mcp).`);
    // A server's own trouble may pass: retried as before.
    const broken = await failure({ url: await answering(500) });
    assert.equal(broken.nonRetryable, false);
    assert.match(broken.message, /HTTP 500/);
  });

  test("one tool whose definition the SDK refuses is left out, named in a warning; the server's other tools stay (the twentieth user test's whole server lost)", async () => {
    const url = await rawServer((message, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const tools = [
        { name: "good", inputSchema: { type: "object", properties: { a: { type: "string" } } } },
        { name: "stringly", inputSchema: { type: "string" } },
        { name: "also_good", inputSchema: { type: "object" } },
      ];
      res.end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: message.method === "tools/list" ? { tools } : {} }));
    });
    const warnings: { obj: Record<string, unknown>; msg?: string }[] = [];
    const quiet = () => undefined;
    const logger = { debug: quiet, info: quiet, error: quiet, warn: (obj: Record<string, unknown>, msg?: string) => void warnings.push({ obj, ...(msg !== undefined ? { msg } : {}) }), child: () => logger };
    const pool = new McpConnectionPool({ mixed: ConfigSchema.parse({ mcp: { servers: { mixed: { url } } } }).mcp.servers.mixed as McpServerConfig }, { logger: logger as never });
    try {
      assert.deepEqual((await pool.listTools("mixed")).map((tool) => tool.name), ["good", "also_good"]);
      const warned = warnings.find((warning) => warning.obj.tool === "stringly");
      assert.ok(warned, JSON.stringify(warnings));
      assert.equal(warned.msg, `MCP server 'mixed' offered tool 'stringly' with a definition the MCP SDK refuses (inputSchema.type: Invalid input: expected "object"); it is left out, its other tools kept`);
      const called = await pool.callTool({ server: "mixed", tool: "stringly", arguments: {} });
      assert.equal(called.isError, true);
      assert.match(textOf(called.content), /^Unknown tool 'stringly' on server 'mixed'\. Available: good, also_good/);
    } finally {
      await pool.closeAll();
    }
  });

  test("an HTTP answer that breaks off mid-stream fails its call now, as retryable, not at its timeout; the next call gets a new connection (the twentieth user test's)", { timeout: 30_000 }, async () => {
    let calls = 0;
    const url = await rawServer((message, res) => {
      if (message.method === "tools/list") {
        res.writeHead(200, { "content-type": "application/json" });
        return void res.end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { tools: [{ name: "work", inputSchema: { type: "object" } }] } }));
      }
      // The first call's stream starts, then the connection drops; the second is answered.
      if (++calls === 1) {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write(": working\n\n");
        return void setTimeout(() => res.socket?.destroy(), 50);
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { content: [{ type: "text", text: "done" }] } }));
    });
    // A timeout past the test's own: only the dropped stream can end the first call in time.
    const pool = new McpConnectionPool({ web: ConfigSchema.parse({ mcp: { servers: { web: { url, timeoutMs: 60_000 } } } }).mcp.servers.web as McpServerConfig });
    try {
      await assert.rejects(pool.callTool({ server: "web", tool: "work", arguments: {} }), (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure, String(error));
        assert.equal(error.nonRetryable, false);
        assert.match(error.message, /^MCP server 'web' at http:\/\/127\.0\.0\.1:\d+\/mcp failed during tools\/call work: Connection closed/);
        return true;
      });
      assert.equal(textOf((await pool.callTool({ server: "web", tool: "work", arguments: {} })).content), "done");
    } finally {
      await pool.closeAll();
    }
  });

  test("a response that is not JSON", async () => {
    const url = await rawServer((_message, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("<html>this is not json</html>");
    });
    const failure = await listFailure({ url });
    assert.match(failure.message, /MCP server 'bad' at http:\/\/127\.0\.0\.1:\d+\/mcp sent a malformed message during tools\/list: /);
  });

  test("JSON that is not the message MCP says", async () => {
    const url = await rawServer((message, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { tools: "none, really" } }));
    });
    const failure = await listFailure({ url });
    assert.match(failure.message, /sent a malformed message during tools\/list: .*tools/);
  });

  test("a malformed tool result goes to the model as the tool's error, naming the server; never a retry", async () => {
    const url = await rawServer((message, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const result = message.method === "tools/list" ? { tools: [{ name: "echo", inputSchema: { type: "object" } }] } : { content: "not a list" };
      res.end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result }));
    });
    const servers = { bad: ConfigSchema.parse({ mcp: { servers: { bad: { url } } } }).mcp.servers.bad as McpServerConfig };
    const pool = new McpConnectionPool(servers);
    try {
      const result = await pool.callTool({ server: "bad", tool: "echo", arguments: {} });
      assert.equal(result.isError, true);
      assert.match(textOf(result.content), /^echo on MCP server 'bad' returned a malformed result: .*content/);
    } finally {
      await pool.closeAll();
    }
  });

  test("a malformed event on a stream, then nothing: failed with its reason, not as a retryable timeout", async () => {
    const url = await rawServer((_message, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("event: message\ndata: {not json\n\n");
      res.end();
    });
    const servers = { bad: ConfigSchema.parse({ mcp: { servers: { bad: { url, timeoutMs: 1_000 } } } }).mcp.servers.bad as McpServerConfig };
    const pool = new McpConnectionPool(servers);
    try {
      await assert.rejects(pool.listTools("bad"), (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure, String(error));
        assert.equal(error.nonRetryable, true);
        assert.equal(error.type, FailureType.mcpServerMisbehaved);
        assert.match(error.message, /MCP server 'bad' at .* sent a malformed message during tools\/list \(.*\) and no valid answer/);
        return true;
      });
    } finally {
      await pool.closeAll();
    }
  });

  test("a message over the size limit, over HTTP", async () => {
    const url = await rawServer((message, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { tools: [{ name: "big", description: "x".repeat(2 * LIMIT), inputSchema: { type: "object" } }] } }));
    });
    const failure = await listFailure({ url });
    assert.match(failure.message, /MCP server 'bad' sent a message over 1048576 bytes, the most duragent accepts \(during tools\/list\)/);
  });

  test("a message over the size limit, over stdio", async () => {
    const script = `
      const readline = require("node:readline");
      readline.createInterface({ input: process.stdin }).on("line", (line) => {
        const message = JSON.parse(line);
        if (message.method === "initialize") {
          process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { protocolVersion: "2025-11-25", capabilities: { tools: {} }, serverInfo: { name: "big", version: "1" } } }) + "\\n");
        } else if (message.method === "tools/list") {
          process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: message.id, result: { tools: [{ name: "x".repeat(${2 * LIMIT}), inputSchema: { type: "object" } }] } }) + "\\n");
        } else if (message.id !== undefined) {
          // As 2025 servers answer duragent's probe for 2026-07-28 (server/discover).
          process.stdout.write(JSON.stringify({ jsonrpc: "2.0", id: message.id, error: { code: -32601, message: "Method not found" } }) + "\\n");
        }
      });`;
    const failure = await listFailure({ command: process.execPath, args: ["-e", script] }, "bigstdio");
    assert.match(failure.message, /MCP server 'bigstdio' sent a message over 1048576 bytes, the most duragent accepts/);
  });
});

describe("a misbehaving authorization server gets a clear, final failure", () => {
  test("an error page instead of an OAuth error: its status and the start of its text, not the whole page", async () => {
    process.env.DURAGENT_OAUTH_DIR = mkdtempSync(join(root, "oauth-"));
    const as = await new AuthorizationServer(new TokenRegistry(), { registrationErrorPage: 404 }).start();
    const rs = await new ResourceServer(as).start();
    closers.push(() => as.close(), () => rs.close());
    const config = ConfigSchema.parse({ mcp: { servers: { lab: { url: rs.url, auth: { type: "oauth" } } } } });
    await assert.rejects(authLoginCommand(config, "lab", { openUrl: signInAsPerson, timeoutMs: 10_000 }), (error: Error) => {
      assert.equal(error.message, `Sign-in to 'lab' failed: HTTP 404 with a body that is not an OAuth error ("Bad Gateway upstream is asleep")`);
      return true;
    });
    delete process.env.DURAGENT_OAUTH_DIR;
  });

  test("a refused registration: what the authorization server said, in a line", async () => {
    process.env.DURAGENT_OAUTH_DIR = mkdtempSync(join(root, "oauth-"));
    const refusal = { error: "invalid_redirect_uri", error_description: "loopback redirects are not allowed here" };
    const as = await new AuthorizationServer(new TokenRegistry(), { registrationRefusal: refusal }).start();
    const rs = await new ResourceServer(as).start();
    closers.push(() => as.close(), () => rs.close());
    const config = ConfigSchema.parse({ mcp: { servers: { lab: { url: rs.url, auth: { type: "oauth" } } } } });
    await assert.rejects(authLoginCommand(config, "lab", { openUrl: signInAsPerson, timeoutMs: 10_000 }), (error: Error) => {
      assert.equal(error.message, "Sign-in to 'lab' failed: the registration was refused (HTTP 400, invalid_redirect_uri: loopback redirects are not allowed here)");
      return true;
    });
    delete process.env.DURAGENT_OAUTH_DIR;
  });

  test("token responses that are not tokens: at sign-in, and when a worker refreshes", async () => {
    process.env.DURAGENT_OAUTH_DIR = mkdtempSync(join(root, "oauth-"));
    const registry = new TokenRegistry();
    const as = await new AuthorizationServer(registry, { brokenTokenResponse: { oops: true } }).start();
    const rs = await new ResourceServer(as).start();
    closers.push(() => as.close(), () => rs.close());
    const config = ConfigSchema.parse({ mcp: { servers: { lab: { url: rs.url, auth: { type: "oauth" } } } } });
    await assert.rejects(
      authLoginCommand(config, "lab", { openUrl: signInAsPerson, timeoutMs: 10_000 }),
      /The authorization server of MCP server 'lab' answered a token request at http:\/\/127\.0\.0\.1:\d+\/token without an access token and token type \(RFC 6749 §5\.1\)/,
    );

    // Signed in properly; then the refresh gets nonsense.
    delete as.options.brokenTokenResponse;
    Object.assign(as.options, { tokenTtlS: 1, refreshTokens: true });
    await authLoginCommand(config, "lab", { openUrl: signInAsPerson, timeoutMs: 10_000 });
    as.options.brokenTokenResponse = "<html>gateway</html>";
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const pool = new McpConnectionPool(config.mcp.servers);
    try {
      await assert.rejects(pool.callTool({ server: "lab", tool: "whoami", arguments: {} }), (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure, String(error));
        assert.equal(error.nonRetryable, true);
        assert.equal(error.type, FailureType.mcpServerMisbehaved);
        assert.match(error.message, /The authorization server of MCP server 'lab' answered a token request at .* without an access token/);
        return true;
      });
    } finally {
      await pool.closeAll();
      delete process.env.DURAGENT_OAUTH_DIR;
    }
  });
});
