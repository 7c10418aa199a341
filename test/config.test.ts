import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, test } from "node:test";
import { z } from "zod";
import { ConfigError, ExitCode, UserError, isUserError } from "../src/errors/user-error.js";
import { formatZodError } from "../src/errors/zod-issues.js";
import { defaultRunSettings } from "../src/common/run-settings.js";
import { interpolate } from "../src/config/interpolate.js";
import { deepMerge, loadConfig, runSettingsFromConfig } from "../src/config/load-config.js";
import { temporalConnectionOptions, webUiBase, webUiLink } from "../src/client/temporal-connection.js";

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh temp directory holding `files` (name → content). */
async function project(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "duragent-config-"));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
  return dir;
}

/** Runs `fn`, expects a ConfigError, and returns it. */
async function configError(fn: () => Promise<unknown>): Promise<ConfigError> {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected loadConfig to throw");
}

const fullExample = `
engine: temporal
temporal:
  address: temporal.internal:7233
  namespace: agents
  taskQueue: research
  tls:
    serverRootCaCertPath: certs/ca.pem
mcp:
  servers:
    fs:
      command: npx
      args: ["-y", "@modelcontextprotocol/server-filesystem", "."]
      cwd: ./workspace
      roots: [./data, "file:///srv/shared"]
      allowedTools: ["read_*", list_directory]
      timeoutMs: 30000
    search:
      url: http://localhost:3001/mcp
      headers:
        Authorization: Bearer abc
    legacy:
      transport: sse
      url: http://localhost:3002/sse
llm:
  defaultModel: anthropic:claude-sonnet-4-5
  providers:
    openai:
      apiKey: sk-test
    local:
      kind: openai
      baseURL: http://localhost:11434/v1
execution:
  maxIterations: 8
  llm:
    maximumAttempts: 7
    startToCloseTimeoutMs: 90000
  tools:
    initialIntervalMs: 20000
agents:
  researcher:
    instruction: Find things out.
    servers: [fs, search]
    model: local:llama3.2:3b
    maxIterations: 4
modules: [./agents/index.ts]
`;

describe("loadConfig", () => {
  test("no file: defaults apply, dir is cwd", async () => {
    const dir = await project();
    const loaded = await loadConfig({ cwd: dir, env: {} });
    assert.equal(loaded.path, undefined);
    assert.equal(loaded.dir, dir);
    assert.equal(loaded.config.engine, "memory");
    assert.equal(loaded.config.temporal.address, "localhost:7233");
    assert.equal(loaded.config.llm.defaultModel, "openai:gpt-4.1-mini");
    assert.equal(loaded.config.execution.maxIterations, 10);
    assert.deepEqual(loaded.config.mcp.servers, {});
    assert.deepEqual(loaded.config.agents, {});
  });

  test("an empty file is the defaults", async () => {
    const dir = await project({ "duragent.config.yaml": "# nothing yet\n" });
    const loaded = await loadConfig({ cwd: dir, env: {} });
    assert.equal(loaded.path, path.join(dir, "duragent.config.yaml"));
    assert.equal(loaded.config.engine, "memory");
  });

  test("full example parses; server kinds are told apart by url", async () => {
    const dir = await project({ "duragent.config.yml": fullExample });
    const { config, path: file } = await loadConfig({ cwd: dir, env: {} });
    assert.equal(file, path.join(dir, "duragent.config.yml"));
    assert.equal(config.engine, "temporal");
    assert.equal(config.temporal.namespace, "agents");
    assert.equal(webUiBase(config.temporal), "http://temporal.internal:8080");
    const { fs, search, legacy } = config.mcp.servers;
    assert.ok(fs && "command" in fs);
    assert.equal(fs.transport, "stdio");
    assert.deepEqual(fs.args, ["-y", "@modelcontextprotocol/server-filesystem", "."]);
    assert.ok(search && "url" in search);
    assert.equal(search.transport, "http");
    assert.equal(search.headers?.Authorization, "Bearer abc");
    assert.ok(legacy && "url" in legacy);
    assert.equal(legacy.transport, "sse");
    assert.equal(config.llm.providers.local?.kind, "openai");
    assert.deepEqual(config.agents.researcher?.servers, ["fs", "search"]);
    assert.equal(config.agents.researcher?.model, "local:llama3.2:3b");
  });

  test("explicit path relative to cwd, or a directory holding the file", async () => {
    const dir = await project({ "conf/duragent.config.yaml": "engine: temporal\n" });
    assert.equal((await loadConfig({ cwd: dir, path: "conf/duragent.config.yaml", env: {} })).config.engine, "temporal");
    const viaDir = await loadConfig({ cwd: dir, path: "conf", env: {} });
    assert.equal(viaDir.path, path.join(dir, "conf", "duragent.config.yaml"));
    assert.equal(viaDir.dir, path.join(dir, "conf"));
  });

  test("a missing explicit path is a not-found error", async () => {
    const dir = await project();
    await assert.rejects(loadConfig({ cwd: dir, path: "nope.yaml", env: {} }), (error: unknown) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.exitCode, ExitCode.notFound);
      assert.match(error.message, /config file not found: .*nope\.yaml/);
      return true;
    });
  });

  test("both .yaml and .yml is ambiguous", async () => {
    const dir = await project({ "duragent.config.yaml": "{}\n", "duragent.config.yml": "{}\n" });
    await assert.rejects(loadConfig({ cwd: dir, env: {} }), /both .*duragent\.config\.yaml and .*duragent\.config\.yml exist/);
  });

  test("relative cwd, roots, modules and TLS paths resolve against the config file's directory", async () => {
    const dir = await project({ "project/duragent.config.yaml": fullExample });
    const other = await project();
    const { config, dir: configDir } = await loadConfig({ cwd: other, path: path.join(dir, "project"), env: {} });
    const base = path.join(dir, "project");
    assert.equal(configDir, base);
    const fs = config.mcp.servers.fs;
    assert.ok(fs && "command" in fs);
    assert.equal(fs.cwd, path.join(base, "workspace"));
    assert.deepEqual(fs.roots, [path.join(base, "data"), "file:///srv/shared"]);
    assert.deepEqual(config.modules, [path.join(base, "agents/index.ts")]);
    const tls = config.temporal.tls;
    assert.ok(typeof tls === "object");
    assert.equal(tls.serverRootCaCertPath, path.join(base, "certs/ca.pem"));
  });

  test("overrides merge over file and secrets", async () => {
    const dir = await project({ "duragent.config.yaml": "engine: temporal\ntemporal:\n  namespace: a\n" });
    const { config } = await loadConfig({ cwd: dir, env: {}, overrides: { temporal: { taskQueue: "q2" }, engine: undefined } });
    assert.equal(config.engine, "temporal");
    assert.equal(config.temporal.namespace, "a");
    assert.equal(config.temporal.taskQueue, "q2");
  });
});

describe("Temporal's environment configuration", () => {
  test("TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and TEMPORAL_API_KEY fill a config without a temporal: section", async () => {
    const dir = await project({ "duragent.config.yaml": "engine: temporal\n" });
    const env = { TEMPORAL_ADDRESS: "ns.acct.tmprl.cloud:7233", TEMPORAL_NAMESPACE: "ns.acct", TEMPORAL_API_KEY: "cloud-key", TEMPORAL_GRPC_META_X_TEAM: "agents" };
    const { config } = await loadConfig({ cwd: dir, env });
    assert.equal(config.temporal.address, "ns.acct.tmprl.cloud:7233");
    assert.equal(config.temporal.namespace, "ns.acct");
    assert.equal(config.temporal.apiKey, "cloud-key");
    assert.deepEqual(config.temporal.metadata, { "x-team": "agents" });
    // An API key means TLS, as Temporal's own clients do it; a Cloud address links to Cloud's Web UI.
    assert.deepEqual(temporalConnectionOptions(config.temporal), {
      address: "ns.acct.tmprl.cloud:7233",
      apiKey: "cloud-key",
      metadata: { "x-team": "agents" },
      tls: true,
    });
    assert.equal(webUiLink(config.temporal, "finder-1"), "https://cloud.temporal.io/namespaces/ns.acct/workflows/finder-1");
  });

  test("the config file wins key by key; temporal.toml profiles fill the rest", async () => {
    const toml = ['[profile.default]', 'address = "default-host:7233"', "", "[profile.prod]", 'address = "prod-host:7233"', 'namespace = "prod"', "", "[profile.prod.tls]", 'server_name = "prod.example"'].join("\n");
    const dir = await project({ "temporal.toml": toml, "duragent.config.yaml": "temporal:\n  namespace: mine\n" });
    const tomlPath = path.join(dir, "temporal.toml");
    const byDefault = (await loadConfig({ cwd: dir, env: { TEMPORAL_CONFIG_FILE: tomlPath } })).config.temporal;
    assert.equal(byDefault.address, "default-host:7233");
    assert.equal(byDefault.namespace, "mine");
    const prod = (await loadConfig({ cwd: dir, env: { TEMPORAL_CONFIG_FILE: tomlPath, TEMPORAL_PROFILE: "prod" } })).config.temporal;
    assert.equal(prod.address, "prod-host:7233");
    assert.equal(prod.namespace, "mine", "the file's own namespace wins over the profile's");
    assert.deepEqual(prod.tls, { serverName: "prod.example" });
    // Environment variables override the profile, as in the Temporal CLI.
    const overridden = (await loadConfig({ cwd: dir, env: { TEMPORAL_CONFIG_FILE: tomlPath, TEMPORAL_ADDRESS: "env-host:1" } })).config.temporal;
    assert.equal(overridden.address, "env-host:1");
    // A profile chosen in the config file.
    const chosen = await project({ "duragent.config.yaml": "temporal:\n  profile: prod\n" });
    assert.equal((await loadConfig({ cwd: chosen, env: { TEMPORAL_CONFIG_FILE: tomlPath } })).config.temporal.address, "prod-host:7233");
  });

  test("nothing set: the local defaults, and DURAGENT_TEMPORAL_UI for the Web UI links", async () => {
    const dir = await project();
    const plain = (await loadConfig({ cwd: dir, env: {} })).config.temporal;
    assert.equal(plain.address, "localhost:7233");
    assert.equal(plain.namespace, "default");
    assert.equal(webUiLink(plain, "a/b"), "http://localhost:8233/namespaces/default/workflows/a%2Fb");
    // A dev server elsewhere on this machine has its UI where start-dev puts it: its port + 1000.
    assert.equal(webUiBase({ ...plain, address: "127.0.0.1:7299" }), "http://localhost:8299");
    // A server elsewhere: its host, at the port Temporal's UI image listens on.
    assert.equal(webUiBase({ ...plain, address: "temporal.internal:7233" }), "http://temporal.internal:8080");
    assert.equal(webUiBase({ ...plain, address: "[fd00::5]:7233" }), "http://[fd00::5]:8080");
    const composed = (await loadConfig({ cwd: dir, env: { DURAGENT_TEMPORAL_UI: "http://localhost:8080/" } })).config.temporal;
    assert.equal(webUiBase(composed), "http://localhost:8080");
  });

  test("a broken temporal.toml, or a missing profile, is one user error naming the fix", async () => {
    const dir = await project({ "temporal.toml": "address = [[[" });
    await assert.rejects(loadConfig({ cwd: dir, env: { TEMPORAL_CONFIG_FILE: path.join(dir, "temporal.toml") } }), (error: unknown) => {
      assert.ok(isUserError(error));
      assert.match(error.message, /Temporal's environment configuration cannot be read: Invalid TOML/);
      assert.match(error.message, /TEMPORAL_CONFIG_FILE/);
      return true;
    });
    await assert.rejects(loadConfig({ cwd: dir, env: { TEMPORAL_PROFILE: "nope" } }), /Profile 'nope' not found/);
  });

  test("a broken temporal.toml's error gives the line, not the line's text: it may hold the API key", async () => {
    const dir = await project({ "temporal.toml": '[profile.default]\napi_key = "tok-toml-SECRET-123\n' });
    await assert.rejects(loadConfig({ cwd: dir, env: { TEMPORAL_CONFIG_FILE: path.join(dir, "temporal.toml") } }), (error: unknown) => {
      assert.ok(isUserError(error));
      assert.match(error.message, /cannot be read: Invalid TOML document: .* \(line 2\)$/m);
      assert.doesNotMatch(`${error.message} ${error.stack} ${String(error.cause)}`, /SECRET/);
      return true;
    });
  });
});

describe("interpolation", () => {
  const yaml = `
llm:
  providers:
    openai:
      apiKey: \${OPENAI_API_KEY}
      baseURL: \${OPENAI_BASE:-https://api.openai.com/v1}
      headers:
        X-Org: "\${ORG:-}"
        X-Literal: "$\${NOT_A_VAR} and $\${ORG}"
        X-Mixed: "org-\${ORG:-none}-\${REGION}"
mcp:
  servers:
    fs:
      command: npx
      env:
        \${KEY_NAME}: kept
`;

  test("set variable, default, empty default, escape; keys untouched", async () => {
    const dir = await project({ "duragent.config.yaml": yaml });
    const { config } = await loadConfig({ cwd: dir, env: { OPENAI_API_KEY: "sk-1", REGION: "eu", ORG: "" } });
    const openai = config.llm.providers.openai;
    assert.equal(openai?.apiKey, "sk-1");
    assert.equal(openai?.baseURL, "https://api.openai.com/v1");
    assert.equal(openai?.headers?.["X-Org"], "");
    assert.equal(openai?.headers?.["X-Literal"], "${NOT_A_VAR} and ${ORG}");
    assert.equal(openai?.headers?.["X-Mixed"], "org-none-eu");
    const fs = config.mcp.servers.fs;
    assert.ok(fs && "command" in fs);
    assert.deepEqual(fs.env, { "${KEY_NAME}": "kept" });
  });

  test("a set variable beats its default", () => {
    assert.deepEqual(interpolate({ a: ["${X:-d}"] }, { X: "v" }, "f.yaml"), { a: ["v"] });
  });

  test("an unset variable names the file, the key path and the fix", async () => {
    const dir = await project({ "duragent.config.yaml": yaml });
    const error = await configError(() => loadConfig({ cwd: dir, env: { OPENAI_API_KEY: "sk-1" } }));
    assert.equal(error.file, path.join(dir, "duragent.config.yaml"));
    assert.equal(error.exitCode, ExitCode.usage);
    assert.match(error.message, /duragent\.config\.yaml: llm\.providers\.openai\.headers\.X-Mixed: environment variable REGION is not set \(write \$\{REGION:-\} to allow empty\)/);
    assert.deepEqual(error.issues, [{ path: "llm.providers.openai.headers.X-Mixed", message: "environment variable REGION is not set (write ${REGION:-} to allow empty)" }]);
  });

  test("a provider's apiKey whose variable is unset is left out, as if not written: a machine that calls no model needs no model key", async () => {
    const dir = await project({ "duragent.config.yaml": yaml });
    const { config } = await loadConfig({ cwd: dir, env: { REGION: "eu" } });
    assert.equal(config.llm.providers?.openai?.apiKey, undefined);
    assert.equal(config.llm.providers?.openai?.headers?.["X-Mixed"], "org-none-eu");
    // Only the whole value as one reference: text around it is still an error.
    assert.throws(() => interpolate({ llm: { providers: { openai: { apiKey: "sk-${PART}" } } } }, {}, "f.yaml"), /llm\.providers\.openai\.apiKey: environment variable PART is not set/);
  });

  test("a command that only steers runs leaves out model and MCP server settings whose variables are unset; others still fail on them", async () => {
    const dir = await project({
      "duragent.config.yaml": [
        "llm:",
        "  providers:",
        "    local: { kind: openai, baseURL: \"${MODEL_URL}\", headers: { X-Team: \"${TEAM}\", X-Fixed: fixed } }",
        "mcp:",
        "  servers:",
        "    remote: { url: https://example.com/mcp, headers: { Authorization: \"Bearer ${REMOTE_TOKEN}\" } }",
        "    files: { command: npx, args: [server], env: { TOKEN: \"${FILES_TOKEN}\", MODE: \"${MODE:-ro}\" } }",
        "agents:",
        "  helper: { instruction: Help., servers: [remote, files] }",
        "",
      ].join("\n"),
    });
    const { config } = await loadConfig({ cwd: dir, env: {}, steering: true });
    assert.deepEqual(config.llm.providers?.local, { kind: "openai", headers: { "X-Fixed": "fixed" } });
    assert.deepEqual(config.mcp.servers.remote, { transport: "http", url: "https://example.com/mcp", headers: {} });
    assert.deepEqual((config.mcp.servers.files as { env?: unknown }).env, { MODE: "ro" });
    const error = await configError(() => loadConfig({ cwd: dir, env: {} }));
    assert.deepEqual(
      error.issues.map((issue) => issue.path),
      ["llm.providers.local.baseURL", "llm.providers.local.headers.X-Team", "mcp.servers.remote.headers.Authorization", "mcp.servers.files.env.TOKEN"],
    );
  });

  test("a config is found in the folders above the working directory, the nearest first; its stdio servers start in its folder", async () => {
    const dir = await project({ "duragent.config.yaml": "mcp:\n  servers:\n    files: { command: npx, args: [server-filesystem, .] }\nagents:\n  outer: { instruction: Outer. }\n" });
    await mkdir(path.join(dir, "docs", "deep"), { recursive: true });
    const found = await loadConfig({ cwd: path.join(dir, "docs", "deep"), env: {} });
    assert.equal(found.path, path.join(dir, "duragent.config.yaml"));
    assert.deepEqual(Object.keys(found.config.agents), ["outer"]);
    // Its stdio server starts in the config's folder, so `.` there is the project, not docs/deep.
    assert.equal((found.config.mcp.servers.files as { cwd?: string }).cwd, dir);
    await writeFile(path.join(dir, "docs", "duragent.config.yaml"), "agents:\n  inner: { instruction: Inner. }\n");
    assert.deepEqual(Object.keys((await loadConfig({ cwd: path.join(dir, "docs", "deep"), env: {} })).config.agents), ["inner"]);
  });

  test("every unset variable is reported at once, with array indexes", () => {
    assert.throws(
      () => interpolate({ a: { list: ["ok", "${A}"] }, b: "${B}" }, {}, "/x/f.yaml"),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.issues.map((issue) => issue.path), ["a.list.1", "b"]);
        assert.match(error.message, /has 2 problems/);
        return true;
      },
    );
  });

  test("a YAML alias inside its own anchor, and nesting past any config's depth, are config errors naming the key, not a stack overflow", async () => {
    const dir = await project({ "duragent.config.yaml": "agents: &a\n  a:\n    instruction: *a\n" });
    const cyclic = await configError(() => loadConfig({ cwd: dir, env: {} }));
    assert.deepEqual(cyclic.issues, [{ path: "agents.a.instruction", message: "contains itself, through a YAML alias inside its own anchor (&name … *name)" }]);
    let deep: unknown = "bottom";
    for (let depth = 0; depth < 100_000; depth++) deep = [deep];
    assert.throws(
      () => interpolate({ agents: deep }, {}, "f.yaml"),
      (error: unknown) => error instanceof ConfigError && error.issues.length === 1 && /agents\.0\.0: is nested more than 64 levels deep/.test(error.message),
    );
    // An alias used twice, each apart from its anchor, is no cycle.
    const shared = { command: "npx" };
    assert.deepEqual(interpolate({ one: shared, two: shared }, {}, "f.yaml"), { one: shared, two: shared });
  });

  test("a malformed reference is an error", () => {
    assert.throws(() => interpolate({ a: "${not valid}" }, {}, "f.yaml"), /a: "\$\{not valid\}" is not a valid reference/);
    assert.throws(() => interpolate({ a: "${OPEN" }, {}, "f.yaml"), /is not a valid reference/);
  });
});

describe("secrets file", () => {
  test("is deep-merged over the config: apiKey only in secrets", async () => {
    const dir = await project({
      "duragent.config.yaml": "llm:\n  providers:\n    openai:\n      baseURL: http://localhost:8080/v1\nmodules: [a.ts, b.ts]\n",
      "duragent.secrets.yaml": "llm:\n  providers:\n    openai:\n      apiKey: ${SECRET_KEY:-sk-from-secrets}\nmodules: [c.ts]\n",
    });
    const { config } = await loadConfig({ cwd: dir, env: {} });
    assert.deepEqual(config.llm.providers.openai, { baseURL: "http://localhost:8080/v1", apiKey: "sk-from-secrets" });
    // Arrays are replaced, not concatenated.
    assert.deepEqual(config.modules, [path.join(dir, "c.ts")]);
  });

  test("applies with no config file", async () => {
    const dir = await project({ "duragent.secrets.yaml": "temporal:\n  apiKey: k\n" });
    const loaded = await loadConfig({ cwd: dir, env: {} });
    assert.equal(loaded.path, undefined);
    assert.equal(loaded.config.temporal.apiKey, "k");
  });

  test("errors after merging name both files", async () => {
    const dir = await project({ "duragent.config.yaml": "engine: memory\n", "duragent.secrets.yaml": "llm:\n  providers:\n    openai:\n      apiKey: 42\n" });
    const error = await configError(() => loadConfig({ cwd: dir, env: {} }));
    assert.match(error.message, /duragent\.config\.yaml \(with .*duragent\.secrets\.yaml merged over it\): llm\.providers\.openai\.apiKey: expected a string, got a number/);
  });

  test("deepMerge keeps __proto__ as data", () => {
    const merged = deepMerge({ a: 1 }, JSON.parse('{"__proto__": {"polluted": true}}'));
    assert.equal(Object.getPrototypeOf(merged), Object.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe("invalid config", () => {
  async function invalid(yaml: string): Promise<ConfigError> {
    const dir = await project({ "duragent.config.yaml": yaml });
    return configError(() => loadConfig({ cwd: dir, env: {} }));
  }

  test("wrong type names file, key path and expectation", async () => {
    const error = await invalid("mcp:\n  servers:\n    fs:\n      command: 42\n");
    assert.match(error.message, /duragent\.config\.yaml/);
    assert.match(error.message, /mcp\.servers\.fs\.command: expected a string, got a number/);
    assert.deepEqual(error.issues, [{ path: "mcp.servers.fs.command", message: "expected a string, got a number" }]);
    assert.equal(error.exitCode, ExitCode.usage);
    assert.ok(isUserError(error));
  });

  test("an HTTP entry is checked as HTTP", async () => {
    const error = await invalid("mcp:\n  servers:\n    web:\n      url: not a url\n");
    assert.deepEqual(error.issues.map((issue) => issue.path), ["mcp.servers.web.url"]);
    assert.match(error.message, /expected a URL/);
  });

  test("a missing field and an unknown transport", async () => {
    const missing = await invalid("mcp:\n  servers:\n    fs:\n      args: [x]\n");
    assert.deepEqual(missing.issues, [{ path: "mcp.servers.fs.command", message: "missing: expected a string" }]);
    const transport = await invalid("mcp:\n  servers:\n    fs:\n      transport: websocket\n      command: x\n");
    assert.deepEqual(transport.issues, [{ path: "mcp.servers.fs.transport", message: 'expected one of "stdio", "http", "sse", "module"' }]);
  });

  test("unknown key is named at its own path, with the key it most likely meant", async () => {
    const error = await invalid("mcp:\n  servers:\n    fs:\n      command: npx\n      comand: npx\nagent: {}\nbogus: 1\n");
    assert.deepEqual(error.issues, [
      { path: "mcp.servers.fs.comand", message: "unknown key; did you mean 'command'?" },
      { path: "agent", message: "unknown key; did you mean 'agents'?" },
      { path: "bogus", message: "unknown key (check the spelling, or remove it)" },
    ]);
    assert.match(error.message, /has 3 problems:\n {2}- mcp\.servers\.fs\.comand: unknown key; did you mean 'command'\?/);
  });

  test("mcp-agent's names and snake_case keys are told duragent's own, where those belong (the twenty-third user test's port)", async () => {
    const yaml = [
      "execution_engine: temporal",
      "logger: { level: debug }",
      "mcp:",
      "  servers:",
      "    filesystem: { command: npx, read_timeout_seconds: 30 }",
      "llm:",
      "  default_model: openai:gpt-4.1-mini",
      "agents:",
      "  finder:",
      "    instruction: Find files.",
      "    server_names: [filesystem]",
      "    max_iterations: 4",
      "    request_params: { maxTokens: 100 }",
      "",
    ].join("\n");
    const error = await invalid(yaml);
    assert.deepEqual(error.issues, [
      { path: "mcp.servers.filesystem.read_timeout_seconds", message: "unknown key; mcp-agent's 'read_timeout_seconds' is 'timeoutMs' here, in milliseconds" },
      { path: "llm.default_model", message: "unknown key; did you mean 'defaultModel'?" },
      { path: "agents.finder.server_names", message: "unknown key; mcp-agent's 'server_names' is 'servers' here" },
      { path: "agents.finder.max_iterations", message: "unknown key; did you mean 'maxIterations'?" },
      { path: "agents.finder.request_params", message: "unknown key; mcp-agent's 'request_params' are the agent's own keys here (model, maxTokens, maxIterations, temperature)" },
      { path: "execution_engine", message: "unknown key; mcp-agent's 'execution_engine' is 'engine' here (memory or temporal)" },
      { path: "logger", message: "unknown key; duragent's logging is set by DURAGENT_LOG_LEVEL and DURAGENT_LOG_FORMAT (json or text), not in the config" },
    ]);
  });

  test("a key of another kind of entry (a stdio server's beside a url) is said to be so, not offered as its own suggestion", async () => {
    const mixed = await invalid("mcp:\n  servers:\n    fs:\n      url: http://localhost:3000/mcp\n      args: [a]\n");
    assert.deepEqual(mixed.issues, [{ path: "mcp.servers.fs.args", message: "belongs to another kind of entry than the one the other keys here make it; keep the keys of one kind" }]);
  });

  test("a misspelt key deep in a union, a record or another case is matched against the keys allowed there", async () => {
    const yaml = [
      "temporal:",
      "  tls:",
      "    serverRootCACertPath: ca.pem",
      "mcp:",
      "  servers:",
      "    web:",
      "      url: http://localhost:1/mcp",
      "      auth: { type: oauth, clientid: a }",
      "execution:",
      "  llm: { maximumAttempt: 2 }",
      "",
    ].join("\n");
    const error = await invalid(yaml);
    assert.deepEqual(error.issues, [
      { path: "temporal.tls.serverRootCACertPath", message: "unknown key; did you mean 'serverRootCaCertPath'?" },
      { path: "mcp.servers.web.auth.clientid", message: "unknown key; did you mean 'clientId'?" },
      { path: "execution.llm.maximumAttempt", message: "unknown key; did you mean 'maximumAttempts'?" },
    ]);
  });

  test("agent naming an unknown server", async () => {
    const error = await invalid("mcp:\n  servers:\n    fs: { command: npx }\nagents:\n  a:\n    instruction: hi\n    servers: [fs, github]\n");
    assert.deepEqual(error.issues, [{ path: "agents.a.servers.1", message: 'no server named "github" in mcp.servers (configured: fs)' }]);
  });

  test("a server's timeoutMs over the tool step's limit is refused at load, not cut silently at the step's 60 s (the twentieth user test's)", async () => {
    const error = await invalid("mcp:\n  servers:\n    slow: { command: npx, timeoutMs: 120000 }\n    quick: { command: npx, timeoutMs: 30000 }\n");
    assert.deepEqual(error.issues, [{ path: "mcp.servers.slow.timeoutMs", message: "120000 ms is over execution.tools.startToCloseTimeoutMs (60000, the default), which cuts each tool call's attempt first: raise that to at least 120000 (or set mcp.servers.slow.execution.startToCloseTimeoutMs for this server alone)" }]);
    const raised = await invalid("execution:\n  tools: { startToCloseTimeoutMs: 90000 }\nmcp:\n  servers:\n    slow: { command: npx, timeoutMs: 120000 }\n");
    assert.equal(raised.issues[0]?.message, "120000 ms is over execution.tools.startToCloseTimeoutMs (90000), which cuts each tool call's attempt first: raise that to at least 120000 (or set mcp.servers.slow.execution.startToCloseTimeoutMs for this server alone)");
    const ownTooShort = await invalid("mcp:\n  servers:\n    slow: { command: npx, timeoutMs: 120000, execution: { startToCloseTimeoutMs: 90000 } }\n");
    assert.equal(ownTooShort.issues[0]?.message, "120000 ms is over mcp.servers.slow.execution.startToCloseTimeoutMs (90000), which cuts each tool call's attempt first: raise that to at least 120000");
    const ownFits = await project({ "duragent.config.yaml": "mcp:\n  servers:\n    slow: { command: npx, timeoutMs: 120000, execution: { startToCloseTimeoutMs: 120000 } }\n" });
    assert.equal((await loadConfig({ cwd: ownFits, env: {} })).config.mcp.servers.slow?.timeoutMs, 120000);
    const fits = await project({ "duragent.config.yaml": "execution:\n  tools: { startToCloseTimeoutMs: 120000 }\nmcp:\n  servers:\n    slow: { command: npx, timeoutMs: 120000 }\n" });
    assert.equal((await loadConfig({ cwd: fits, env: {} })).config.mcp.servers.slow?.timeoutMs, 120000);
  });

  test("models must be provider:model", async () => {
    const error = await invalid("llm:\n  defaultModel: gpt-4o\nagents:\n  a:\n    instruction: hi\n    model: claude\n");
    assert.deepEqual(error.issues.map((issue) => issue.path), ["llm.defaultModel", "agents.a.model"]);
    assert.match(error.message, /llm\.defaultModel: expected "provider:model", e\.g\. "openai:gpt-4\.1-mini"/);
  });

  test("a model names a provider that exists, at load rather than mid-run", async () => {
    const error = await invalid("llm:\n  defaultModel: foo:bar\n  providers:\n    ollama: { kind: openai, baseURL: http://localhost:11434/v1 }\nagents:\n  a:\n    instruction: hi\n    model: olama:llama3\n  b:\n    instruction: hi\n    model: ollama:llama3\n");
    assert.deepEqual(error.issues, [
      { path: "llm.defaultModel", message: 'no LLM provider "foo": use "openai", "anthropic", "ollama", or add llm.providers.foo (with kind and baseURL)' },
      { path: "agents.a.model", message: 'no LLM provider "olama": use "openai", "anthropic", "ollama", or add llm.providers.olama (with kind and baseURL)' },
    ]);
  });

  test("a custom provider name needs a kind", async () => {
    const error = await invalid("llm:\n  providers:\n    ollama:\n      baseURL: http://localhost:11434/v1\n");
    assert.equal(error.issues[0]?.path, "llm.providers.ollama.kind");
  });

  test("union of types reads as alternatives", async () => {
    const error = await invalid("temporal:\n  tls: yes please\n");
    assert.deepEqual(error.issues, [{ path: "temporal.tls", message: "expected a boolean (true or false) or a mapping (key: value), got a string" }]);
  });

  test("numbers: bounds and integers", async () => {
    const error = await invalid("execution:\n  maxIterations: 0\n  llm:\n    maximumAttempts: 1.5\n");
    assert.deepEqual(error.issues, [
      { path: "execution.maxIterations", message: "expected a positive number, got 0" },
      { path: "execution.llm.maximumAttempts", message: "expected an integer, got 1.5" },
    ]);
  });

  test("top level must be a mapping", async () => {
    const error = await invalid("- a\n- b\n");
    assert.match(error.message, /expected a mapping of settings .* got a list/);
  });

  test("YAML syntax error names file, line and column", async () => {
    const error = await invalid("engine: memory\nmcp:\n  servers: [a, b\nagents: {}\n");
    assert.match(error.message, /duragent\.config\.yaml:4:1: YAML syntax error: /);
    assert.equal(error.issues[0]?.line, 4);
    const duplicate = await invalid("engine: memory\nengine: temporal\n");
    assert.match(duplicate.message, /duragent\.config\.yaml:2:1: YAML syntax error: Map keys must be unique\n {4}engine: temporal\n {4}\^/);
    const nested = await invalid("agents:\n  a: { instruction: x }\n  b: { instruction: y }\n  a: { instruction: z }\n");
    assert.match(nested.message, /duragent\.config\.yaml:4:3: YAML syntax error: Map keys must be unique\n {4} {2}a: \{ instruction: z \}/);
  });

  test("a YAML syntax error in the secrets file gives its position, not its line", async () => {
    // A colon too many: the error points into the key's line.
    const dir = await project({ "duragent.secrets.yaml": "llm:\n  providers:\n    openai:\n      apiKey: sk-yaml-SECRET-1234: x\n" });
    const error = await loadConfig({ cwd: dir }).then(
      () => assert.fail("a broken secrets file loaded"),
      (thrown: unknown) => thrown as Error,
    );
    assert.match(error.message, /duragent\.secrets\.yaml:4:15: YAML syntax error: Nested mappings are not allowed/);
    assert.doesNotMatch(error.message, /SECRET/);
  });
});

describe("formatZodError", () => {
  const schema = z.strictObject({ name: z.string(), tags: z.array(z.string()), mode: z.enum(["a", "b"]).optional() });

  test("dotted paths, array indexes, with or without reportInput", () => {
    const input = { name: 1, tags: ["x", 2], mode: "c", extra: true };
    const withInput = schema.safeParse(input, { reportInput: true });
    const withoutInput = schema.safeParse(input);
    assert.ok(!withInput.success && !withoutInput.success);
    const expected = [
      "--input has 4 problems:",
      "  - name: expected a string, got a number",
      "  - tags.1: expected a string, got a number",
      '  - mode: expected one of "a", "b"',
      "  - extra: unknown key (check the spelling, or remove it)",
    ].join("\n");
    assert.equal(formatZodError(withInput.error, "--input"), expected);
    assert.equal(formatZodError(withoutInput.error, "--input"), expected);
  });

  test("given the schema, a misspelt key is told the key it most likely meant; a key like none is not", () => {
    const parsed = schema.safeParse({ name: "n", tags: [], Mode: "a", tag: [], colour: "red" });
    assert.ok(!parsed.success);
    assert.equal(
      formatZodError(parsed.error, "--input", schema),
      [
        "--input has 3 problems:",
        "  - Mode: unknown key; did you mean 'mode'?",
        "  - tag: unknown key; did you mean 'tags'?",
        "  - colour: unknown key (check the spelling, or remove it)",
      ].join("\n"),
    );
  });

  test("a single issue is one line", () => {
    const result = schema.safeParse({ tags: [] });
    assert.ok(!result.success);
    assert.equal(formatZodError(result.error, "the answer"), "the answer: name: missing: expected a string");
  });
});

describe("runSettingsFromConfig", () => {
  test("defaults when the config sets nothing", async () => {
    const { config } = await loadConfig({ cwd: await project(), env: {} });
    assert.deepEqual(runSettingsFromConfig(config), defaultRunSettings);
  });

  test("model, iterations and policy overrides", async () => {
    const { config } = await loadConfig({ cwd: await project({ "duragent.config.yaml": fullExample }), env: {} });
    const settings = runSettingsFromConfig(config);
    assert.equal(settings.defaultModel, "anthropic:claude-sonnet-4-5");
    assert.equal(settings.maxIterations, 8);
    assert.deepEqual(settings.llm, {
      retry: { ...defaultRunSettings.llm.retry, maximumAttempts: 7 },
      startToCloseTimeoutMs: 90_000,
      heartbeatTimeoutMs: defaultRunSettings.llm.heartbeatTimeoutMs,
      idleTimeoutMs: 90_000,
    });
    // Silence can last no longer than the whole attempt: a shorter attempt bounds it.
    const { config: short } = await loadConfig({ cwd: await project({ "duragent.config.yaml": "execution:\n  llm: { startToCloseTimeoutMs: 20000 }\n" }), env: {} });
    assert.equal(runSettingsFromConfig(short).llm.idleTimeoutMs, 20_000);
    // A config that raised the attempt's limit alone, for a slow model, keeps it as the bound on a plain call's wait.
    const { config: slow } = await loadConfig({ cwd: await project({ "duragent.config.yaml": "execution:\n  llm: { startToCloseTimeoutMs: 300000 }\n" }), env: {} });
    assert.equal(runSettingsFromConfig(slow).llm.idleTimeoutMs, 300_000);
    const { config: quiet } = await loadConfig({ cwd: await project({ "duragent.config.yaml": "execution:\n  llm: { idleTimeoutMs: 180000 }\n" }), env: {} });
    assert.deepEqual([runSettingsFromConfig(quiet).llm.idleTimeoutMs, runSettingsFromConfig(quiet).llm.startToCloseTimeoutMs], [180_000, 600_000]);
    // A raised initial interval lifts the default maximum with it, which Temporal requires.
    assert.deepEqual(settings.tools.retry, { ...defaultRunSettings.tools.retry, initialIntervalMs: 20_000, maximumIntervalMs: 20_000 });
    assert.equal(settings.tools.startToCloseTimeoutMs, defaultRunSettings.tools.startToCloseTimeoutMs);
  });

  test("a server's own policy is execution.tools with its fields over it; servers without one are left out", async () => {
    const yaml = "execution:\n  tools: { maximumAttempts: 4, startToCloseTimeoutMs: 30000 }\nmcp:\n  servers:\n    mailer: { command: npx, execution: { maximumAttempts: 1 } }\n    slow: { command: npx, execution: { startToCloseTimeoutMs: 300000, heartbeatTimeoutMs: 10000 } }\n    fs: { command: npx }\n";
    const settings = runSettingsFromConfig((await loadConfig({ cwd: await project({ "duragent.config.yaml": yaml }), env: {} })).config);
    assert.deepEqual(Object.keys(settings.servers ?? {}).sort(), ["mailer", "slow"]);
    assert.deepEqual(settings.servers!.mailer, { ...settings.tools, retry: { ...settings.tools.retry, maximumAttempts: 1 } });
    assert.deepEqual(settings.servers!.slow, { ...settings.tools, startToCloseTimeoutMs: 300_000, heartbeatTimeoutMs: 10_000 });
    assert.equal(settings.tools.retry.maximumAttempts, 4);
    const error = await configError(async () => loadConfig({ cwd: await project({ "duragent.config.yaml": "mcp:\n  servers:\n    mailer: { command: npx, execution: { maximumAttempt: 1 } }\n" }), env: {} }));
    assert.equal(error.issues[0]?.path, "mcp.servers.mailer.execution.maximumAttempt");
    assert.match(error.issues[0]?.message ?? "", /did you mean 'maximumAttempts'/);
  });

  test("maximumIntervalMs below initialIntervalMs is rejected", async () => {
    const error = await configError(async () =>
      loadConfig({ cwd: await project({ "duragent.config.yaml": "execution:\n  tools:\n    initialIntervalMs: 5000\n    maximumIntervalMs: 1000\n" }), env: {} }),
    );
    assert.deepEqual(error.issues, [{ path: "execution.tools.maximumIntervalMs", message: "must be at least initialIntervalMs (5000)" }]);
  });
});

describe("pricing", () => {
  test("prices by model name or provider:model, in USD per million tokens, cachedInput optional", async () => {
    const yaml = [
      "pricing:",
      "  gpt-4.1-mini: { input: 0.3, output: 1.2, cachedInput: 0.075 }",
      '  "ollama:llama3.2:3b": { input: 0, output: 0 }',
      "  house-model:",
      "    input: 2",
      "    output: 8",
      "",
    ].join("\n");
    const { config } = await loadConfig({ cwd: await project({ "duragent.config.yaml": yaml }), env: {} });
    assert.deepEqual(config.pricing, {
      "gpt-4.1-mini": { input: 0.3, output: 1.2, cachedInput: 0.075 },
      "ollama:llama3.2:3b": { input: 0, output: 0 },
      "house-model": { input: 2, output: 8 },
    });
    const { config: none } = await loadConfig({ cwd: await project(), env: {} });
    assert.equal(none.pricing, undefined);
  });

  test("a wrong price, a missing one, an unknown key and a name with spaces are each named", async () => {
    const yaml = [
      "pricing:",
      "  gpt-4.1: { input: -1, output: 8 }",
      "  o3: { input: 2 }",
      '  o4-mini: { input: 1.1, output: "4.4", cached: 0.275 }',
      '  "my model": { input: 1, output: 1 }',
      "",
    ].join("\n");
    const error = await configError(async () => loadConfig({ cwd: await project({ "duragent.config.yaml": yaml }), env: {} }));
    assert.deepEqual(error.issues, [
      { path: 'pricing."gpt-4.1".input', message: "expected a number >= 0, got -1" },
      { path: "pricing.o3.output", message: "missing: expected a number" },
      { path: "pricing.o4-mini.output", message: "expected a number, got a string" },
      { path: "pricing.o4-mini.cached", message: "unknown key (check the spelling, or remove it)" },
      { path: 'pricing."my model"', message: 'key must be a model name such as "gpt-4.1-mini", or "provider:model", without spaces' },
    ]);
    assert.match(error.message, /duragent\.config\.yaml has 5 problems/);
  });
});
