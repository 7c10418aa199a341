/**
 * Function tools: TypeScript an agent calls as tools, doing real I/O (a file, an HTTP API), served
 * from a module as an MCP server of its own (`mcp.servers.<name>.module`). The same module, the same
 * answers, on both engines; its calls are steps like any MCP tool's, under approvals.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { textOf } from "../src/common/messages.js";
import { checkStartOptions, type Engine } from "../src/client/engine.js";
import { findRunTarget } from "../src/client/run-targets.js";
import { loadConfig } from "../src/config/load-config.js";
import type { DuragentConfig } from "../src/config/schema.js";
import { startScriptedModelServer, type ModelScript, type ScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { memoryEngine, testConfig, withTemporalWorker } from "./support/runtime.js";
import { DuragentClient } from "../src/client.js";
import { createLogger } from "../src/logger.js";
import { startTestTemporal } from "./support/temporal.js";
import { waitFor } from "./support/wait.js";

const toolsEntry = new URL("../src/tools/index.ts", import.meta.url).href;
const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-function-tools-")));
const ledger = join(dir, "refunds.log");
const attempts = join(dir, "whoami-attempts.log");
const crashOnce = join(dir, "crash-once");

let model: ScriptedModelServer;
let api: Server;
let env: TestWorkflowEnvironment;

// The model looks an invoice up, refunds it, then says what the tools said.
const script: ModelScript = (call) => {
  const results = call.messages.filter((message) => message.role === "tool").map((message) => textOf(message.content));
  const question = textOf(call.messages.find((message) => message.role === "user")?.content ?? "");
  if (question.startsWith("BAD")) return results.length === 0 ? { toolCalls: [{ name: "shop_lookup_invoice", arguments: { orderId: 42 } }] } : { text: `tool said: ${results.join(" | ")}` };
  if (question.startsWith("GATED")) return results.length === 0 ? { toolCalls: [{ name: "shop_issue_refund", arguments: { orderId: "A-1", amount: "lots" } }] } : { text: `tool said: ${results.join(" | ")}` };
  // A chain's second step is told the first's answer, and asks again.
  const who = question.startsWith("WHO") ? question.split(" ")[1] : question.startsWith("tool said: user=") ? "account" : undefined;
  if (who) return results.length === 0 ? { toolCalls: [{ name: `${who}_whoami`, arguments: {} }] } : { text: `tool said: ${results.join(" | ")}` };
  if (question.startsWith("BROKEN")) return results.length === 0 ? { toolCalls: [{ name: "shop_lookup_invoice", arguments: { orderId: "missing" } }] } : { text: `tool said: ${results.join(" | ")}` };
  if (results.length === 0) return { toolCalls: [{ name: "shop_lookup_invoice", arguments: { orderId: "A-1" } }] };
  if (results.length === 1) return { toolCalls: [{ name: "shop_issue_refund", arguments: { orderId: "A-1", amount: 12.5 } }] };
  return { text: `done: ${results.join(" | ")}` };
};

before(async () => {
  // An HTTP API of the shop's, as a function tool would call one.
  api = createServer((request, response) => {
    const orderId = decodeURIComponent(request.url!.slice("/invoices/".length));
    if (orderId === "missing") {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ orderId, total: 12.5 }));
  });
  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  writeFileSync(
    join(dir, "shop-tools.ts"),
    [
      `import { appendFileSync } from "node:fs";`,
      `import { z } from ${JSON.stringify(import.meta.resolve("zod"))};`,
      `import { defineTool } from ${JSON.stringify(toolsEntry)};`,
      `export const lookupInvoice = defineTool({`,
      `  name: "lookup_invoice",`,
      `  description: "An invoice by its order id.",`,
      `  input: z.object({ orderId: z.string() }),`,
      `  async run({ orderId }, { signal }) {`,
      `    const response = await fetch(\`${apiUrl}/invoices/\${encodeURIComponent(orderId)}\`, { signal });`,
      `    if (!response.ok) throw new Error(\`no invoice for order \${orderId} (HTTP \${response.status})\`);`,
      `    return (await response.json()) as Record<string, unknown>;`,
      `  },`,
      `});`,
      `export const issueRefund = defineTool({`,
      `  name: "issue_refund",`,
      `  description: "Refunds an order.",`,
      `  input: z.object({ orderId: z.string(), amount: z.number().positive() }),`,
      `  annotations: { destructiveHint: true },`,
      `  run({ orderId, amount }) {`,
      `    appendFileSync(${JSON.stringify(ledger)}, \`\${orderId} \${amount}\\n\`);`,
      `    return \`refunded \${amount} for \${orderId}\`;`,
      `  },`,
      `});`,
      `export const notATool = 42;`,
      "",
    ].join("\n"),
  );
  // A tool that reads who the run acts for, and writes what it is told of each attempt; with the
  // marker there, its first attempt's process dies mid-call, as a crash would end it.
  writeFileSync(
    join(dir, "account-tools.ts"),
    [
      `import { appendFileSync, existsSync, rmSync } from "node:fs";`,
      `import { z } from ${JSON.stringify(import.meta.resolve("zod"))};`,
      `import { defineTool } from ${JSON.stringify(toolsEntry)};`,
      `export const whoami = defineTool({`,
      `  name: "whoami",`,
      `  description: "Who the run acts for.",`,
      `  input: z.object({}),`,
      `  toolContext: z.object({ userId: z.string() }),`,
      `  run(_args, { toolContext, runId, idempotencyKey, attempt }) {`,
      `    appendFileSync(${JSON.stringify(attempts)}, JSON.stringify({ userId: toolContext.userId, runId, idempotencyKey, attempt }) + "\\n");`,
      `    if (existsSync(${JSON.stringify(crashOnce)})) {`,
      `      rmSync(${JSON.stringify(crashOnce)});`,
      `      process.exit(1);`,
      `    }`,
      `    return \`user=\${toolContext.userId}\`;`,
      `  },`,
      `});`,
      "",
    ].join("\n"),
  );
  writeFileSync(join(dir, "no-tools.ts"), "export const nothing = 1;\n");
  writeFileSync(join(dir, "broken-tools.ts"), "export const tool = {\n  name: 'x',\n);\n");
  writeFileSync(
    join(dir, "duragent.config.yaml"),
    [
      "llm: { defaultModel: openai:scripted }",
      "mcp:",
      "  servers:",
      "    shop: { module: ./shop-tools.ts }",
    "    account: { module: ./account-tools.ts, execution: { initialIntervalMs: 10 } }",
    "    blind: { module: ./account-tools.ts, toolContext: false }",
      "    empty: { module: ./no-tools.ts }",
      "    broken: { module: ./broken-tools.ts }",
      "agents:",
      "  clerk: { instruction: You handle refunds., servers: [shop] }",
      "  teller: { instruction: You say who the user is., servers: [account, blind] }",
      "  idle: { instruction: You idle., servers: [empty] }",
      "  fragile: { instruction: You break., servers: [broken] }",
      "workflows:",
      "  desk: { pattern: chain, steps: [{ pattern: chain, name: inner, steps: [teller], asChildWorkflow: true }, teller] }",
      "",
    ].join("\n"),
  );
  [model, env] = await Promise.all([startScriptedModelServer(script, { quiet: true }), startTestTemporal()]);
});

after(async () => {
  await model?.close();
  await new Promise((resolve) => api?.close(resolve));
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

/** The project's config, as a worker loads it, with the scripted model's address. */
async function config(): Promise<DuragentConfig> {
  const { config: loaded } = await loadConfig({ path: join(dir, "duragent.config.yaml") });
  return testConfig(model, { ...loaded, llm: { defaultModel: "openai:scripted" } });
}

async function refundRun(engine: Engine, loaded: DuragentConfig): Promise<string> {
  const handle = await engine.start(await findRunTarget(loaded, "clerk"), "Refund order A-1.");
  return ((await handle.result()) as { text: string }).text;
}

describe("function tools", () => {
  test("a module's tools do real I/O, with the same answer on both engines; each call is a step of the run", async () => {
    const loaded = await config();
    rmSync(ledger, { force: true });
    const engine = memoryEngine(loaded);
    try {
      assert.equal(await refundRun(engine, loaded), 'done: {"orderId":"A-1","total":12.5} | refunded 12.5 for A-1');
    } finally {
      await engine.close();
    }
    await withTemporalWorker(env, loaded, async (temporal) => {
      const handle = await temporal.start(await findRunTarget(loaded, "clerk"), "Refund order A-1.");
      assert.equal(((await handle.result()) as { text: string }).text, 'done: {"orderId":"A-1","total":12.5} | refunded 12.5 for A-1');
      const steps = (await handle.status()).recentSteps ?? [];
      assert.ok(steps.includes("tool shop/lookup_invoice") && steps.includes("tool shop/issue_refund"), steps.join(", "));
    });
    assert.equal(readFileSync(ledger, "utf8"), "A-1 12.5\nA-1 12.5\n");
  });

  test("arguments that do not fit, and a tool that throws, reach the model as the tool's error; the run goes on", async () => {
    const loaded = await config();
    const engine = memoryEngine(loaded);
    try {
      const clerk = await findRunTarget(loaded, "clerk");
      const bad = ((await (await engine.start(clerk, "BAD arguments")).result()) as { text: string }).text;
      assert.match(bad, /^tool said: .*orderId.*string/);
      const broken = ((await (await engine.start(clerk, "BROKEN lookup")).result()) as { text: string }).text;
      assert.match(broken, /^tool said: .*no invoice for order missing \(HTTP 404\)/);
    } finally {
      await engine.close();
    }
  });

  test("a tool named under approvals.tools is put to a person before it runs", async () => {
    const loaded = testConfig(model, { ...(await config()), approvals: { tools: ["shop_issue_refund"] } });
    rmSync(ledger, { force: true });
    const engine = memoryEngine(loaded);
    try {
      const handle = await engine.start(await findRunTarget(loaded, "clerk"), "Refund order A-1.");
      const approval = await waitFor("the refund's approval", async () => (await handle.status()).pending.find((request) => request.kind === "approval"));
      assert.deepEqual(approval.kind === "approval" && { server: approval.server, tool: approval.tool, arguments: approval.arguments }, { server: "shop", tool: "issue_refund", arguments: { orderId: "A-1", amount: 12.5 } });
      assert.throws(() => readFileSync(ledger, "utf8"), /ENOENT/);
      await handle.decide({ approved: true });
      assert.match(((await handle.result()) as { text: string }).text, /refunded 12\.5 for A-1$/);
      // A call its server would refuse is not put to anyone: the model hears why at once.
      const gated = await engine.start(await findRunTarget(loaded, "clerk"), "GATED refund");
      assert.equal(
        ((await gated.result()) as { text: string }).text,
        "tool said: Error: The arguments for 'shop_issue_refund' do not fit its input schema, so the call was not made and no one was asked to approve it:\namount: expected number, got string",
      );
      assert.deepEqual((await gated.status()).settled ?? [], []);
    } finally {
      await engine.close();
    }
  });

  test("a tool reads the run's tool context, which no model sees, and an idempotency key that a retried attempt shares", async () => {
    const loaded = await config();
    const told = () => readFileSync(attempts, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { userId: string; runId: string; idempotencyKey: string; attempt: number });
    const check = async (engine: Engine) => {
      rmSync(attempts, { force: true });
      writeFileSync(crashOnce, "");
      const seen = model.requests.length;
      const handle = await engine.start(await findRunTarget(loaded, "teller"), "WHO account", { toolContext: { userId: "u-42", tenant: "tenant-unseen" } });
      assert.equal(((await handle.result()) as { text: string }).text, "tool said: user=u-42");
      // The first attempt's process died mid-call; the second, in a new one, was told the same key.
      const [first, second, ...more] = told();
      assert.deepEqual(more, []);
      assert.deepEqual([first!.attempt, second!.attempt, first!.runId, second!.runId], [1, 2, handle.runId, handle.runId]);
      assert.equal(first!.idempotencyKey, second!.idempotencyKey);
      assert.ok(first!.idempotencyKey.startsWith(`${handle.runId}/`), first!.idempotencyKey);
      assert.ok(!existsSync(crashOnce));
      assert.ok(!JSON.stringify(model.requests.slice(seen)).includes("tenant-unseen"), "a model saw the tool context");
      // A run without it: the tool says what it lacks, and is not run.
      rmSync(attempts, { force: true });
      const bare = await engine.start(await findRunTarget(loaded, "teller"), "WHO account");
      assert.match(((await bare.result()) as { text: string }).text, /^tool said: .*The run's tool context does not have what 'whoami' needs \(userId: .*\): start the run with it/);
      assert.ok(!existsSync(attempts));
      return first!.idempotencyKey;
    };
    const engine = memoryEngine(loaded);
    try {
      await check(engine);
      // A child run's tools get its parent's context too; a second call is another key. A server
      // not set to take the context is told nothing of the run.
      rmSync(attempts, { force: true });
      const chain = await engine.start(await findRunTarget(loaded, "desk"), "WHO account", { toolContext: { userId: "u-7" } });
      assert.equal(((await chain.result()) as { text: string }).text, "tool said: user=u-7");
      const [a, b] = told();
      assert.deepEqual([a!.userId, b!.userId], ["u-7", "u-7"]);
      assert.notEqual(a!.idempotencyKey, b!.idempotencyKey);
      const blind = await engine.start(await findRunTarget(loaded, "teller"), "WHO blind", { toolContext: { userId: "u-42" } });
      assert.match(((await blind.result()) as { text: string }).text, /does not have what 'whoami' needs/);
      // The client's check of what a program passes.
      assert.throws(() => checkStartOptions({ toolContext: { big: "x".repeat(17_000) } }), /toolContext: at most 16 KiB of JSON/);
      assert.throws(() => checkStartOptions({ toolContext: { when: new Date() } }), /toolContext\.when/);
    } finally {
      await engine.close();
    }
    await withTemporalWorker(env, loaded, async (temporal, withQueue) => {
      const key = await check(temporal);
      assert.match(key, /^[^/]+\/[0-9a-f-]{36}\/\d+$/);
      // A scheduled run is started by name, as Temporal's own tools start one: its context goes beside the name.
      const client = new DuragentClient(withQueue, createLogger("test", "silent"));
      try {
        const schedule = await client.schedule("teller", "WHO account", { id: `teller-${randomUUID().slice(0, 8)}`, every: "365d", paused: true, toolContext: { userId: "u-9" } });
        assert.deepEqual((await schedule.describe()).toolContext, { userId: "u-9" });
        await schedule.trigger();
        const runId = await waitFor("the triggered run", async () => (await schedule.describe()).recentRuns[0]?.runId);
        assert.equal((await (await client.getHandle<{ text: string }>(runId)).result()).text, "tool said: user=u-9");
        await schedule.delete();
      } finally {
        await client.close();
      }
    });
  });

  test("a module that exports no tools fails the run, naming the module and saying what to export", async () => {
    const loaded = await config();
    const engine = memoryEngine(loaded);
    try {
      const handle = await engine.start(await findRunTarget(loaded, "idle"), "hello");
      await assert.rejects(handle.result(), /^.*MCP server 'empty' \(function tools\) cannot start: .*no-tools\.ts exports no tools: export each one made with defineTool from "duragent\/tools"\.$/);
      // A module that does not load: its name and the loader's words, at once (no retry mends it).
      const broken = await engine.start(await findRunTarget(loaded, "fragile"), "hello");
      await assert.rejects(broken.result(), (error: Error) => {
        assert.match(error.message, /MCP server 'broken' \(function tools\) cannot start: Cannot load .*broken-tools\.ts \(listed under an MCP server's `module:`\): .*Expected/);
        assert.doesNotMatch(error.message, /Gave up after/);
        return true;
      });
    } finally {
      await engine.close();
    }
  });
});
