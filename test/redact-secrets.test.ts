/**
 * What redaction masks and what it leaves readable: configured secrets in every form a config
 * gives them, and not the settings next to them (`--no-auth`, model names, `api-version`). The
 * histories of failing runs are checked end to end in `secrets.test.ts`; this checks the rules,
 * and the log lines a failing server leaves.
 */
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { pino } from "pino";
import type { McpServerConfig } from "../src/config/schema.js";
import { providerSecrets, redact, redactSecrets } from "../src/activities/redact-secrets.js";
import { McpConnectionPool, type McpPoolLogger } from "../src/activities/mcp/connection-pool.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../src/config/load-config.js";
import { rememberSecretValue } from "../src/config/secret-values.js";

describe("redaction", () => {
  test("an MCP server's args: credential flags, NAME=value, headers, URLs; not flags without a value", () => {
    const config: McpServerConfig = {
      command: "docker",
      args: [
        "run", "--no-auth", "/srv/data-directory", "--api-key", "sk-args-1234567",
        "-e", "GITHUB_TOKEN=ghp_abcdefgh12", "Authorization: Bearer tok-hdr-7654321",
        "postgresql://app:pw-db-123456@db.internal:5432/prod?sslmode=require&password=pw-query-98765",
      ],
    };
    const line = `started with ${config.args!.join(" ")}`;
    assert.equal(
      redactSecrets(config, line),
      "started with run --no-auth /srv/data-directory --api-key *** -e GITHUB_TOKEN=*** Authorization: *** " +
        "postgresql://app:***@db.internal:5432/prod?sslmode=require&password=***",
    );
  });

  test("an MCP server's URL: query values and key-like path segments; not its plain path", () => {
    const config: McpServerConfig = { url: "https://actions.example.com/mcp/sk-ak-3f9a8b7c6d5e4f/sse?session=plain-session-value" };
    assert.equal(
      redactSecrets(config, "at https://actions.example.com/mcp/sk-ak-3f9a8b7c6d5e4f/sse?session=plain-session-value failed"),
      "at https://actions.example.com/mcp/***/sse?session=*** failed",
    );
  });

  test("a provider: its key, secret-named headers and URL credentials; not model names, versions or dates", () => {
    const secrets = providerSecrets({
      apiKey: "sk-provider-1234567",
      headers: { "anthropic-version": "2023-06-01", "x-org-token": "org-token-7654321" },
      baseURL: "https://user:proxy-pass-123@example.openai.azure.com/openai/deployments/gpt-4o-mini-2024-07-18?api-version=2024-10-21&api-key=azure-key-123456",
    });
    assert.equal(
      redact("model gpt-4o-mini-2024-07-18, api-version 2024-10-21, anthropic-version 2023-06-01", secrets),
      "model gpt-4o-mini-2024-07-18, api-version 2024-10-21, anthropic-version 2023-06-01",
    );
    assert.equal(
      redact("Bearer sk-provider-1234567 org-token-7654321 user:proxy-pass-123 api-key=azure-key-123456", secrets),
      "Bearer *** *** user:*** api-key=***",
    );
  });

  test("values from secret-named variables and the secrets file are masked anywhere, longest first; others are not", async () => {
    rememberSecretValue("BRAVE_API_KEY", "brave-remembered-123");
    rememberSecretValue("DATA_HOME", "/home/someone/data");
    const dir = mkdtempSync(join(tmpdir(), "duragent-redact-"));
    writeFileSync(join(dir, "duragent.secrets.yaml"), "llm:\n  providers:\n    claude: { kind: anthropic, apiKey: literal-from-secrets-file }\n");
    await loadConfig({ cwd: dir, env: {} });
    rmSync(dir, { recursive: true });
    assert.equal(redact("anthropic said no", []), "anthropic said no", "the secrets file's kind is no secret");
    const config: McpServerConfig = { command: "search", args: ["brave-remembered-123"], env: { PREFIX: "literal-from" } };
    assert.equal(
      redactSecrets(config, "search brave-remembered-123 in /home/someone/data with literal-from-secrets-file"),
      "search *** in /home/someone/data with ***",
    );
  });

  test("a failing server's log lines are masked as its failure is", async (t: TestContext) => {
    // A pino logger, as workers use: its methods need their logger as `this`.
    const lines: string[] = [];
    const logger: McpPoolLogger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
    const pool = new McpConnectionPool(
      {
        crashing: {
          command: process.execPath,
          args: ["-e", "console.error(`token ${process.env.TOKEN}`); process.exit(3)"],
          env: { TOKEN: "env-log-SECRET-12345" },
        },
      },
      { logger },
    );
    t.after(() => pool.closeAll());
    await assert.rejects(pool.listTools("crashing"), /exited \(code 3\) during initialize: token \*\*\*/);
    assert.ok(lines.some((line) => line.includes("token ***")), lines.join("\n"));
    assert.ok(!lines.some((line) => line.includes("env-log-SECRET")), lines.join("\n"));
  });
});
