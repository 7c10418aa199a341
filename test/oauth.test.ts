/**
 * OAuth 2.1 for HTTP MCP servers, end to end on loopback: an authorization server and a protected
 * MCP server built from the SDK's server-side auth helpers (test/fixtures/oauth-mcp-server.mjs),
 * `duragent auth login` driven by following the authorization URL with fetch, tokens on disk with
 * mode 0600, an authenticated tool call through the worker's pool, and a refresh after expiry.
 * Run: node --import tsx --test test/oauth.test.ts
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { McpConnectionPool } from "../src/activities/mcp/connection-pool.js";
import { loginToServer, oauthServerConfig } from "../src/auth/login.js";
import { authLoginCommand } from "../src/cli/commands/auth.js";
import { FailureType } from "../src/common/failures.js";
import { textOf } from "../src/common/messages.js";
import { ConfigSchema, type DuragentConfig } from "../src/config/schema.js";

const fixture = fileURLToPath(new URL("./fixtures/oauth-mcp-server.mjs", import.meta.url));
const TOKEN_TTL_S = 2;

let server: ChildProcess;
let serverLog = "";
let config: DuragentConfig;
const oauthDir = join(mkdtempSync(join(tmpdir(), "duragent-oauth-")), "oauth");

/** Plays the person: opens the authorization URL and follows its redirect back to our loopback callback. */
async function signInAsPerson(url: URL): Promise<void> {
  const authorization = await fetch(url, { redirect: "manual" });
  assert.equal(authorization.status, 302, await authorization.text());
  const callback = authorization.headers.get("location");
  assert.ok(callback?.startsWith("http://127.0.0.1:"), `redirected to ${callback}`);
  const landed = await fetch(callback!);
  assert.equal(landed.status, 200, await landed.text());
}

before(async () => {
  process.env.DURAGENT_OAUTH_DIR = oauthDir;
  server = spawn(process.execPath, [fixture], { env: { ...process.env, OAUTH_TOKEN_TTL_S: String(TOKEN_TTL_S) }, stdio: ["ignore", "pipe", "pipe"] });
  server.stderr?.on("data", (chunk: Buffer) => (serverLog += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    server.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const newline = buffered.indexOf("\n");
      if (newline >= 0) resolve((JSON.parse(buffered.slice(0, newline)) as { url: string }).url);
    });
    server.once("exit", (code) => reject(new Error(`the OAuth fixture exited (${code}): ${serverLog}`)));
  });
  config = ConfigSchema.parse({ mcp: { servers: { protected: { url, auth: { type: "oauth", scope: "mcp:tools" } } } } });
});

after(() => {
  server?.kill("SIGKILL");
  rmSync(join(oauthDir, ".."), { recursive: true, force: true });
  delete process.env.DURAGENT_OAUTH_DIR;
});

describe("OAuth for HTTP MCP servers", () => {
  test("before sign-in, a worker's call fails without retry and says which command to run", async () => {
    const pool = new McpConnectionPool(config.mcp.servers);
    try {
      await assert.rejects(pool.callTool({ server: "protected", tool: "whoami", arguments: {} }), (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure, String(error));
        assert.equal(error.type, FailureType.mcpAuthorizationRequired);
        assert.equal(error.nonRetryable, true);
        assert.match(error.message, /needs you to sign in: run `duragent auth login protected`/);
        return true;
      });
    } finally {
      await pool.closeAll();
    }
  });

  test("login (discovery, registration, PKCE), 0600 token file, authenticated call, refresh after expiry", async () => {
    const output = await authLoginCommand(config, "protected", { openUrl: signInAsPerson });
    const result = output.data as { outcome: string; tokenFile: string; scope?: string };
    assert.equal(result.outcome, "signed-in");
    assert.equal(result.tokenFile, join(oauthDir, "protected.json"));
    assert.match(output.text, /Signed in to 'protected'/);
    assert.equal(statSync(result.tokenFile).mode & 0o777, 0o600);
    assert.equal(statSync(oauthDir).mode & 0o777, 0o700);
    const stored = JSON.parse(readFileSync(result.tokenFile, "utf8")) as {
      tokens: { access_token: string; refresh_token: string };
      clients: Record<string, { client_id: string }>;
      authorizationServer: string;
      codeVerifier?: string;
    };
    assert.ok(stored.tokens.access_token && stored.tokens.refresh_token);
    // The client is kept under the authorization server it was registered with.
    assert.deepEqual(Object.keys(stored.clients), [stored.authorizationServer]);
    const clientId = stored.clients[stored.authorizationServer]!.client_id;
    assert.ok(clientId, "registered dynamically");
    assert.equal(stored.codeVerifier, undefined, "the PKCE verifier is not kept after sign-in");
    assert.match(serverLog, /"event":"authorization_code"/);

    const pool = new McpConnectionPool(config.mcp.servers);
    try {
      const first = await pool.callTool({ server: "protected", tool: "whoami", arguments: {} });
      assert.equal(textOf(first.content), `client ${clientId}`, serverLog);

      // The access token expires; the next call gets a 401, refreshes, and goes through.
      await new Promise((resolve) => setTimeout(resolve, TOKEN_TTL_S * 1000 + 300));
      const second = await pool.callTool({ server: "protected", tool: "whoami", arguments: {} });
      assert.equal(second.isError, false, textOf(second.content));
      assert.match(serverLog, /"event":"refresh_token"/);
      const refreshed = JSON.parse(readFileSync(result.tokenFile, "utf8")) as { tokens: { access_token: string } };
      assert.notEqual(refreshed.tokens.access_token, stored.tokens.access_token);
      assert.equal(statSync(result.tokenFile).mode & 0o777, 0o600);
    } finally {
      await pool.closeAll();
    }

    // Signing in again with working (or refreshable) tokens asks nobody.
    const again = await loginToServer("protected", oauthServerConfig("protected", config.mcp.servers.protected, ["protected"]), {
      openUrl: () => assert.fail("nobody should be asked to sign in again"),
    });
    assert.equal(again.outcome, "already-signed-in");
  });

  test("login names what is wrong with a server that does not use OAuth", async () => {
    const plain = ConfigSchema.parse({ mcp: { servers: { local: { command: "x" } } } });
    await assert.rejects(authLoginCommand(plain, "local", { openUrl: () => undefined }), /does not use OAuth: give it a url and `auth: \{ type: oauth \}`/);
    await assert.rejects(authLoginCommand(plain, "nope", { openUrl: () => undefined }), /No MCP server 'nope' in mcp.servers \(configured: local\)/);
  });
});
