/**
 * Secrets stay on the worker: runs that use provider keys from the secrets file, from `${VAR}`
 * interpolation and from the environment, and MCP servers with a secret env and a secret header,
 * leave no secret anywhere in their workflow histories, payloads decoded, failures included.
 */
import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import pino from "pino";
import { createCallLlm } from "../src/activities/llm/call-llm.js";
import { createProviderRegistry } from "../src/activities/llm/provider-registry.js";
import { loadConfig } from "../src/config/load-config.js";
import { ConfigSchema } from "../src/config/schema.js";
import type { DuragentConfig } from "../src/config/schema.js";
import type { RunTarget } from "../src/client/run-targets.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedModelServer, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { createCountingServer } from "./fixtures/counting-mcp-server.js";
import { historyText } from "./support/histories.js";
import { withTemporalWorker } from "./support/runtime.js";
import { startTestTemporal } from "./support/temporal.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const countingServer = fileURLToPath(new URL("./fixtures/counting-mcp-server.ts", import.meta.url));
const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-secrets-")));

/** Distinctive values, one per way a secret reaches the worker. */
const secrets = {
  openaiKeyFromSecretsFile: "sk-test-SECRET-abc123",
  anthropicKeyFromInterpolation: "sk-ant-SECRET-def456",
  anthropicHeaderFromInterpolation: "org-SECRET-ghi789",
  localKeyFromEnvironment: "sk-local-SECRET-jkl012",
  stdioServerEnv: "tok-stdio-SECRET-mno345",
  httpServerHeader: "tok-http-SECRET-pqr678",
};

/** Secrets that failure messages used to quote: a URL's query, a credential flag, an env echoed to stderr. */
const failureSecrets = {
  urlQueryToken: "tok-url-SECRET-stu901",
  argumentApiKey: "sk-args-SECRET-vwx234",
  argumentHeader: "tok-hdr-SECRET-yza567",
  envEchoedToStderr: "env-SECRET-bcd890",
  // Where hosted servers and `docker run -e` put keys, and a bare argument from a secret variable.
  urlPathKey: "sk-ak-SECRET-efg1234567",
  databasePassword: "pw-db-SECRET-hij456",
  dockerEnvToken: "ghp-SECRET-klm789012",
  bareInterpolated: "brave-SECRET-nop345",
  // A key the HTTP client refuses quotes itself in its error; so does a base URL with credentials.
  refusedApiKey: "sk-bad\nkey-SECRET-qrs678",
  baseUrlPassword: "proxy-SECRET-tuv901",
};

const configYaml = `
engine: temporal
llm:
  defaultModel: openai:scripted
  providers:
    openai:
      baseURL: \${MODEL_URL}/v1
    anthropic:
      apiKey: \${ANTHROPIC_KEY}
      baseURL: \${MODEL_URL}
      headers: { x-org-token: "\${ORG_TOKEN}" }
    # No apiKey here: the worker reads LOCAL_API_KEY from its environment.
    local:
      kind: openai
      baseURL: \${MODEL_URL}/v1
mcp:
  servers:
    counter:
      command: ${JSON.stringify(process.execPath)}
      cwd: ${JSON.stringify(repo)}
      args: ["--import", "tsx", ${JSON.stringify(countingServer)}, ${JSON.stringify(join(dir, "stdio.log"))}]
      env: { COUNTER_TOKEN: "\${COUNTER_TOKEN}" }
    remote:
      url: \${REMOTE_MCP_URL}
      headers: { Authorization: "Bearer \${REMOTE_MCP_TOKEN}" }
execution:
  llm: { maximumAttempts: 2, initialIntervalMs: 100 }
`;

const secretsYaml = `
llm:
  providers:
    openai:
      apiKey: ${secrets.openaiKeyFromSecretsFile}
`;

/** Both servers' tools in one turn, then an answer; a model named `rejected` gets a 401. */
function script(call: ScriptedCall): ScriptedTurn {
  if (call.model === "rejected") return { error: { status: 401, message: "Incorrect API key provided." } };
  // As a gateway may: the refused key quoted whole.
  if (call.model === "quoting") return { error: { status: 401, message: `Incorrect API key provided: ${secrets.openaiKeyFromSecretsFile}.` } };
  if (!call.messages.some((message) => message.role === "tool")) {
    return {
      toolCalls: [
        { name: "counter_record_step", arguments: { label: "stdio step" } },
        { name: "remote_record_step", arguments: { label: "http step" } },
      ],
    };
  }
  return { text: `answered by ${call.model}` };
}

/** A Streamable HTTP MCP server that insists on the bearer token, stateless: one server per request. */
async function startRemoteMcpServer(token: string): Promise<{ url: string; authorizations: string[]; server: Server }> {
  const authorizations: string[] = [];
  const server = createServer((req, res) => {
    authorizations.push(req.headers.authorization ?? "");
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401).end();
      return;
    }
    // Stateless: no standalone SSE stream and no sessions to end.
    if (req.method !== "POST") {
      res.writeHead(405).end();
      return;
    }
    const mcp = createCountingServer(join(dir, "http.log"));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on("close", () => void mcp.close());
    mcp
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500).end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/mcp`, authorizations, server };
}

describe("secrets never enter workflow history", () => {
  let env: TestWorkflowEnvironment;
  let model: ScriptedModelServer;
  let remote: Awaited<ReturnType<typeof startRemoteMcpServer>>;
  let config: DuragentConfig;
  const savedLocalKey = process.env.LOCAL_API_KEY;

  before(async () => {
    [env, model, remote] = await Promise.all([
      startTestTemporal(),
      startScriptedModelServer(script, { quiet: true }),
      startRemoteMcpServer(secrets.httpServerHeader),
    ]);
    writeFileSync(join(dir, "duragent.config.yaml"), configYaml);
    writeFileSync(join(dir, "duragent.secrets.yaml"), secretsYaml);
    ({ config } = await loadConfig({
      path: dir,
      env: {
        MODEL_URL: model.url,
        ANTHROPIC_KEY: secrets.anthropicKeyFromInterpolation,
        ORG_TOKEN: secrets.anthropicHeaderFromInterpolation,
        COUNTER_TOKEN: secrets.stdioServerEnv,
        REMOTE_MCP_URL: remote.url,
        REMOTE_MCP_TOKEN: secrets.httpServerHeader,
      },
    }));
    // The in-process worker's provider registry reads the environment, as a worker process would.
    process.env.LOCAL_API_KEY = secrets.localKeyFromEnvironment;
  });

  after(async () => {
    if (savedLocalKey === undefined) delete process.env.LOCAL_API_KEY;
    else process.env.LOCAL_API_KEY = savedLocalKey;
    await model?.close();
    remote?.server.closeAllConnections();
    await new Promise((resolve) => remote?.server.close(resolve) ?? resolve(undefined));
    await env?.teardown();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a provider's error that quotes the key is masked everywhere a worker's log line reads it, the SDK error's own fields included", async () => {
    const callLlm = createCallLlm(createProviderRegistry(config.llm));
    const error = await callLlm({ model: "openai:quoting", messages: [{ role: "user", content: "hi" }] }).then(
      () => assert.fail("the call should fail"),
      (caught: unknown) => caught as Error,
    );
    // What the worker's log line holds of it: Temporal's SDK logs the failure under `error`.
    const line = JSON.stringify(pino.stdSerializers.errWithCause(error));
    assert.match(line, /Incorrect API key provided: \*\*\*/);
    assert.ok(!line.includes(secrets.openaiKeyFromSecretsFile), line);
  });

  test("histories of successful and failed runs hold no API key, header or server secret", { timeout: 90_000 }, async () => {
    const agent = (modelRef: string): RunTarget => ({
      kind: "agent",
      name: "keeper",
      agent: { name: "keeper", instruction: "Record both steps.", servers: ["counter", "remote"], model: modelRef },
    });
    const histories = await withTemporalWorker(env, config, async (engine) => {
      const runIds: string[] = [];
      for (const modelRef of ["openai:scripted", "anthropic:scripted", "local:scripted"]) {
        const handle = await engine.start(agent(modelRef), "record both");
        assert.equal(((await handle.result()) as { text: string }).text, "answered by scripted");
        runIds.push(handle.runId);
      }
      // A rejected model call puts the provider's error into history as the run's failure.
      const rejected = await engine.start(agent("openai:rejected"), "record both");
      await assert.rejects(rejected.result(), (error: unknown) => {
        const messages: string[] = [];
        for (let cause = error; cause instanceof Error; cause = cause.cause) messages.push(cause.message);
        assert.match(messages.join(" <- "), /rejected the request \(401\)/);
        return true;
      });
      runIds.push(rejected.runId);
      return Promise.all(runIds.map(async (runId) => historyText(await env.client.workflow.getHandle(runId).fetchHistory())));
    });

    // Every secret was really used, so its absence from history means something.
    const headers = model.requests.map((request) => request.headers);
    assert.ok(headers.some((h) => h.authorization === `Bearer ${secrets.openaiKeyFromSecretsFile}`));
    // This Anthropic SDK sends the key as a bearer token; older ones used x-api-key.
    const anthropicKey = secrets.anthropicKeyFromInterpolation;
    assert.ok(headers.some((h) => h.authorization === `Bearer ${anthropicKey}` || h["x-api-key"] === anthropicKey));
    assert.ok(headers.some((h) => h["x-org-token"] === secrets.anthropicHeaderFromInterpolation));
    assert.ok(headers.some((h) => h.authorization === `Bearer ${secrets.localKeyFromEnvironment}`));
    assert.ok(remote.authorizations.length > 0 && remote.authorizations.every((value) => value === `Bearer ${secrets.httpServerHeader}`));

    for (const [index, text] of histories.entries()) {
      // Payloads were decoded: the user's message, tool results and the failure are readable.
      assert.match(text, /record both/);
      if (index < 3) assert.match(text, /recorded stdio step.*recorded http step|recorded http step.*recorded stdio step/s);
      else assert.match(text, /Incorrect API key provided/);
      for (const [name, value] of Object.entries(secrets)) {
        assert.ok(!text.includes(value), `history ${index + 1} contains ${name}`);
        // A fragment would still help an attacker; the distinctive middle part must be absent too.
        assert.ok(!text.includes(value.slice(-10)), `history ${index + 1} contains part of ${name}`);
      }
    }
  });

  test("failing MCP servers leave no secret in history: URL query, credential flags and echoed env are masked", { timeout: 60_000 }, async () => {
    // Loaded as a user's file is, so the bare argument's value comes from a `${VAR}`.
    const failingDir = mkdtempSync(join(dir, "failing-"));
    writeFileSync(
      join(failingDir, "duragent.config.yaml"),
      `
mcp:
  servers:
    # Port 1 refuses connections at once.
    unreachable: { url: "http://127.0.0.1:1/mcp/${failureSecrets.urlPathKey}/sse?token=${failureSecrets.urlQueryToken}" }
    missing:
      command: ${JSON.stringify(join(dir, "no-such-mcp-server"))}
      args:
        - --api-key
        - ${failureSecrets.argumentApiKey}
        - "--header=Authorization: Bearer ${failureSecrets.argumentHeader}"
        - postgresql://app:${failureSecrets.databasePassword}@db.internal:5432/prod
        - -e
        - GITHUB_PERSONAL_ACCESS_TOKEN=${failureSecrets.dockerEnvToken}
        - \${BRAVE_API_KEY}
    crashing:
      command: ${JSON.stringify(process.execPath)}
      args: ["-e", "console.error(\`bad token $\${process.env.TOKEN}\`); process.exit(3)"]
      env: { TOKEN: "\${CRASHING_TOKEN}" }
llm:
  providers:
    refusing: { kind: openai, baseURL: "${model.url}/v1", apiKey: ${JSON.stringify(failureSecrets.refusedApiKey)} }
    proxied: { kind: openai, baseURL: "http://user:${failureSecrets.baseUrlPassword}@127.0.0.1:1/v1", apiKey: not-a-secret }
`,
    );
    const loaded = await loadConfig({ path: failingDir, env: { BRAVE_API_KEY: failureSecrets.bareInterpolated, CRASHING_TOKEN: failureSecrets.envEchoedToStderr } });
    const failing = ConfigSchema.parse({
      ...config,
      mcp: loaded.config.mcp,
      llm: { ...config.llm, providers: { ...config.llm.providers, ...loaded.config.llm.providers } },
      execution: { tools: { maximumAttempts: 1 }, llm: { maximumAttempts: 1 } },
    });
    const runs = [
      ["unreachable", undefined],
      ["missing", undefined],
      ["crashing", undefined],
      ["refusing", "refusing:scripted"],
      ["proxied", "proxied:scripted"],
    ] as const;
    // A worker will not start with a server whose command is not there, and says so masked.
    const missingCommand = join(dir, "no-such-mcp-server");
    await assert.rejects(withTemporalWorker(env, failing, async () => undefined), (error: unknown) => {
      const message = String((error as Error).message);
      assert.match(message, /MCP server 'missing' could not be started \(command '[^']*no-such-mcp-server --api-key \*\*\* --header=\*\*\* postgresql:\/\/app:\*\*\*@db\.internal:5432\/prod -e GITHUB_PERSONAL_ACCESS_TOKEN=\*\*\* \*\*\*'\)/);
      for (const [name, value] of Object.entries(failureSecrets)) assert.ok(!message.includes(value), `the worker's refusal contains ${name}`);
      return true;
    });
    // One that goes missing after the worker started fails the step it is needed for.
    writeFileSync(missingCommand, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    const texts = await withTemporalWorker(env, failing, async (engine) => {
      rmSync(missingCommand);
      return Promise.all(
        runs.map(async ([name, modelRef]) => {
          const agent = modelRef ? { name, instruction: "Answer.", model: modelRef } : { name, instruction: "Use it.", servers: [name] };
          const handle = await engine.start({ kind: "agent", name, agent }, "go");
          await assert.rejects(handle.result());
          return historyText(await env.client.workflow.getHandle(handle.runId).fetchHistory());
        }),
      );
    });
    // The failures still say what went wrong and where.
    assert.match(texts[0]!, /MCP server 'unreachable' at http:\/\/127\.0\.0\.1:1\/mcp\/\*\*\*\/sse\?token=\*\*\* failed during initialize/);
    assert.match(
      texts[1]!,
      /MCP server 'missing' could not be started \(command '[^']*no-such-mcp-server --api-key \*\*\* --header=\*\*\* postgresql:\/\/app:\*\*\*@db\.internal:5432\/prod -e GITHUB_PERSONAL_ACCESS_TOKEN=\*\*\* \*\*\*'\)/,
    );
    assert.match(texts[2]!, /MCP server 'crashing' exited \(code 3\) during initialize: bad token \*\*\*/);
    assert.match(texts[3]!, /refusing call failed: .*\*\*\*/);
    assert.match(texts[4]!, /Could not reach proxied: .*http:\/\/user:\*\*\*@127\.0\.0\.1:1/);
    for (const text of texts) {
      for (const [name, value] of Object.entries(failureSecrets)) assert.ok(!text.includes(value), `a history contains ${name}`);
    }
  });
});
