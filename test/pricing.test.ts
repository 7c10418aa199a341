/**
 * Token usage turned into money: the price table and its matching, cached input, overrides,
 * unknown models; cached tokens from the real OpenAI and Anthropic SDKs; and the cost that
 * `duragent status`, `result --json`, `run --json` and `list` report for runs on the memory
 * engine, with the model scripted over HTTP.
 */
import assert from "node:assert/strict";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { AnthropicProvider } from "../src/activities/llm/anthropic-provider.js";
import { OpenAIProvider } from "../src/activities/llm/openai-provider.js";
import { listCommand } from "../src/cli/commands/list.js";
import { historyCommand } from "../src/cli/commands/history.js";
import { resultCommand } from "../src/cli/commands/result.js";
import { runCommand } from "../src/cli/commands/run.js";
import { statusCommand } from "../src/cli/commands/status.js";
import { CommandContext } from "../src/cli/context.js";
import type { RunCost } from "../src/client/run-cost.js";
import type { TokenUsage } from "../src/common/llm.js";
import { createClient } from "../src/client.js";
import { costByModel, costOf, defaultPrices, formatUsd, priceOf, runPrices, type ModelPrice, type PriceTable } from "../src/common/pricing.js";
import { RunStatusSchema } from "../src/common/run-status.js";
import { addUsage, usageKey, type UsageByModel } from "../src/common/usage.js";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import type { RunTarget } from "../src/client/run-targets.js";
import { textOf, type TranscriptMessage } from "../src/common/messages.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedModelServer, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { bundleWorkflows, testConfig, withTemporalWorker } from "./support/runtime.js";
import type { DuragentWorkflow } from "../src/workflows/index.js";
import { startTestTemporal } from "./support/temporal.js";
import { waitForPhase } from "./support/wait.js";

/** The cost by the formula, written out apart from the code under test. */
function expected(price: ModelPrice, usage: TokenUsage): number {
  const cached = usage.cachedInputTokens ?? 0;
  return ((usage.inputTokens - cached) * price.input + cached * (price.cachedInput ?? price.input) + usage.outputTokens * price.output) / 1e6;
}

function near(actual: number | undefined, wanted: number, message?: string): void {
  assert.ok(actual !== undefined, message ?? `expected ${wanted}, got no cost`);
  assert.ok(Math.abs(actual - wanted) < 1e-9, `${message ?? "cost"}: expected ${wanted}, got ${actual}`);
}

describe("the price table", () => {
  test("every default price is a number zero or more, cached input never above input", () => {
    for (const [model, price] of Object.entries(defaultPrices)) {
      for (const value of [price.input, price.output, price.cachedInput ?? 0]) assert.ok(Number.isFinite(value) && value >= 0, model);
      assert.ok((price.cachedInput ?? price.input) <= price.input, model);
    }
  });

  test("the models the issue names are priced, with or without the provider", () => {
    for (const model of [
      "gpt-4.1",
      "gpt-4.1-mini",
      "gpt-4.1-nano",
      "gpt-4o",
      "gpt-4o-mini",
      "o3",
      "o4-mini",
      "gpt-5",
      "gpt-5-mini",
      "gpt-5-nano",
      "claude-opus-4",
      "claude-opus-4-1",
      "claude-sonnet-4",
      "claude-sonnet-4-5",
      "claude-3-7-sonnet",
      "claude-3-5-haiku",
      "claude-haiku-4-5",
    ]) {
      assert.ok(priceOf(model), model);
      assert.deepEqual(priceOf(`openai:${model}`), priceOf(model), model);
    }
  });

  test("dated snapshots and -latest match their model by the longest prefix", () => {
    assert.deepEqual(priceOf("anthropic:claude-sonnet-4-20250514"), defaultPrices["claude-sonnet-4"]);
    assert.deepEqual(priceOf("anthropic:claude-sonnet-4-5-20250929"), defaultPrices["claude-sonnet-4-5"]);
    assert.deepEqual(priceOf("anthropic:claude-opus-4-1-20250805"), defaultPrices["claude-opus-4-1"]);
    assert.deepEqual(priceOf("anthropic:claude-3-7-sonnet-latest"), defaultPrices["claude-3-7-sonnet"]);
    assert.deepEqual(priceOf("openai:gpt-4.1-mini-2025-04-14"), defaultPrices["gpt-4.1-mini"]);
    assert.deepEqual(priceOf("openai:o4-mini-2025-04-16"), defaultPrices["o4-mini"]);
    // The longer key wins over its prefix: the first gpt-4o snapshot has a price of its own.
    assert.deepEqual(priceOf("openai:gpt-4o-2024-05-13"), defaultPrices["gpt-4o-2024-05-13"]);
    assert.notDeepEqual(priceOf("openai:gpt-4o-2024-05-13"), priceOf("openai:gpt-4o-2024-08-06"));
    assert.deepEqual(priceOf("openai:gpt-4o-2024-08-06"), defaultPrices["gpt-4o"]);
    // Vertex writes the date after an @.
    assert.deepEqual(priceOf("vertex:claude-sonnet-4@20250514"), defaultPrices["claude-sonnet-4"]);
  });

  test("a suffix that is not a date names another model, which has no price rather than its neighbour's", () => {
    assert.equal(priceOf("openai:gpt-4o-realtime-preview"), undefined);
    assert.equal(priceOf("openai:gpt-4.1-mini-finetuned"), undefined);
    assert.equal(priceOf("anthropic:claude-opus-4-7"), undefined);
    assert.equal(priceOf("openai:gpt-5.9"), undefined);
    assert.equal(priceOf("ollama:llama3.2:3b"), undefined);
    assert.equal(costOf("ollama:llama3.2:3b", { inputTokens: 100, outputTokens: 10 }), undefined);
    // Each is a model of its own, not a snapshot of the shorter name.
    assert.notDeepEqual(priceOf("gpt-4.1-mini"), priceOf("gpt-4.1"));
    assert.notDeepEqual(priceOf("o3-mini"), priceOf("o3"));
    assert.notDeepEqual(priceOf("claude-opus-4-5"), priceOf("claude-opus-4"));
  });

  test("cost: cached input at the cached price, the rest of the input at the input price, output at the output price", () => {
    const usage = { inputTokens: 10_000, outputTokens: 2_000, cachedInputTokens: 6_000 };
    const price = priceOf("gpt-4.1-mini")!;
    near(costOf("openai:gpt-4.1-mini", usage), expected(price, usage));
    // Caching lowers the cost, and without a cached price cached tokens cost as much as the rest.
    assert.ok(costOf("openai:gpt-4.1-mini", usage)! < costOf("openai:gpt-4.1-mini", { inputTokens: 10_000, outputTokens: 2_000 })!);
    const noCachePrice: PriceTable = { "house-model": { input: 2, output: 8 } };
    assert.equal(costOf("x:house-model", usage, noCachePrice), costOf("x:house-model", { inputTokens: 10_000, outputTokens: 2_000 }, noCachePrice));
    near(costOf("x:house-model", usage, noCachePrice), (10_000 * 2 + 2_000 * 8) / 1e6);
    // A million tokens each way cost the listed prices exactly.
    const sonnet = defaultPrices["claude-sonnet-4-5"]!;
    near(costOf("anthropic:claude-sonnet-4-5", { inputTokens: 1e6, outputTokens: 1e6 }), sonnet.input + sonnet.output);
    assert.equal(costOf("openai:gpt-4.1", { inputTokens: 0, outputTokens: 0 }), 0);
  });

  test("overrides: by model name (snapshots too), by provider:model, and over the defaults", () => {
    const overrides: PriceTable = {
      "gpt-4.1-mini": { input: 1, output: 4, cachedInput: 0.25 },
      "azure:gpt-4.1-mini": { input: 3, output: 5 },
      "llama3.2:3b": { input: 0, output: 0 },
      "my-model": { input: 0.5, output: 1 },
    };
    assert.deepEqual(priceOf("openai:gpt-4.1-mini", overrides), overrides["gpt-4.1-mini"]);
    assert.deepEqual(priceOf("openai:gpt-4.1-mini-2025-04-14", overrides), overrides["gpt-4.1-mini"]);
    assert.deepEqual(priceOf("azure:gpt-4.1-mini", overrides), overrides["azure:gpt-4.1-mini"]);
    assert.deepEqual(priceOf("ollama:llama3.2:3b", overrides), { input: 0, output: 0 });
    assert.deepEqual(priceOf("vllm:my-model", overrides), overrides["my-model"]);
    // Untouched models keep their defaults; the defaults themselves are not changed.
    assert.deepEqual(priceOf("openai:gpt-4.1", overrides), defaultPrices["gpt-4.1"]);
    assert.notDeepEqual(priceOf("openai:gpt-4.1-mini"), overrides["gpt-4.1-mini"]);
    const usage = { inputTokens: 1_000, outputTokens: 100, cachedInputTokens: 400 };
    near(costOf("openai:gpt-4.1-mini", usage, overrides), expected(overrides["gpt-4.1-mini"]!, usage));
  });

  test("a run's own table (a cost budget's) prices every model as the defaults with the overrides would, and nothing else", () => {
    const overrides: PriceTable = { "GPT-4.1-mini": { input: 1, output: 4 }, "azure:gpt-4.1": { input: 3, output: 5 }, "my-model": { input: 0.5, output: 1 } };
    const table = runPrices(overrides);
    for (const model of ["openai:gpt-4.1-mini", "openai:gpt-4.1-mini-2025-04-14", "azure:gpt-4.1", "openai:gpt-4.1", "vllm:my-model", "anthropic:claude-sonnet-4-5", "openai:gpt-unpriced", "scripted:gpt-4.1"]) {
      assert.deepEqual(priceOf(model, table, {}), priceOf(model, overrides), model);
    }
    // The override replaces the default whatever its case, rather than tying with it.
    assert.deepEqual(Object.keys(table).filter((name) => name.toLowerCase() === "gpt-4.1-mini"), ["GPT-4.1-mini"]);
    assert.deepEqual(runPrices(), { ...defaultPrices });
    // The scripted stand-in costs nothing even where an override names the model it stood in for.
    assert.deepEqual(priceOf("scripted:gpt-4.1-mini", overrides), { input: 0, output: 0 });
  });

  test("costByModel: a total only when every model has a price", () => {
    const usage: UsageByModel = {
      "openai:gpt-4.1-mini": { inputTokens: 1_000, outputTokens: 500 },
      "anthropic:claude-haiku-4-5-20251001": { inputTokens: 3_000, outputTokens: 200, cachedInputTokens: 2_000 },
    };
    const priced = costByModel(usage);
    const mini = expected(defaultPrices["gpt-4.1-mini"]!, usage["openai:gpt-4.1-mini"]!);
    const haiku = expected(defaultPrices["claude-haiku-4-5"]!, usage["anthropic:claude-haiku-4-5-20251001"]!);
    near(priced.byModel["openai:gpt-4.1-mini"], mini);
    near(priced.byModel["anthropic:claude-haiku-4-5-20251001"], haiku);
    near(priced.total, mini + haiku);
    assert.deepEqual(priced.unpriced, []);

    const partial = costByModel({ ...usage, "ollama:llama3.2": { inputTokens: 50, outputTokens: 5 } });
    assert.equal(partial.total, undefined);
    assert.deepEqual(partial.unpriced, ["ollama:llama3.2"]);
    assert.equal(partial.byModel["ollama:llama3.2"], undefined);
    near(partial.byModel["openai:gpt-4.1-mini"], mini);
    // An override prices it, and the total comes back.
    near(costByModel({ "ollama:llama3.2": { inputTokens: 50, outputTokens: 5 } }, { "llama3.2": { input: 1, output: 1 } }).total, 55 / 1e6);
    assert.deepEqual(costByModel({}), { total: 0, byModel: {}, unpriced: [], unreported: {} });
    // Calls that reported no usage leave their model's cost a lower bound, and the run no total.
    const unmetered = costByModel({ ...usage, "openai:gpt-4.1": { inputTokens: 100, outputTokens: 10, unreportedCalls: 2 } });
    assert.equal(unmetered.total, undefined);
    assert.deepEqual(unmetered.unreported, { "openai:gpt-4.1": 2 });
    assert.deepEqual(unmetered.unpriced, []);
    near(unmetered.byModel["openai:gpt-4.1"], expected(defaultPrices["gpt-4.1"]!, { inputTokens: 100, outputTokens: 10 }));
  });

  test("duragent's scripted stand-in costs nothing, and its usage is kept apart from the real model's", () => {
    assert.equal(usageKey("openai:gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"), "openai:gpt-4.1-mini");
    assert.equal(usageKey("openai:gpt-4.1-mini", "scripted:gpt-4.1-mini"), "scripted:gpt-4.1-mini");
    // A bare name is OpenAI's, and counted as such: the same model under one key however it was named.
    assert.equal(usageKey("gpt-4o", "gpt-4o-2024-08-06"), "openai:gpt-4o");
    assert.equal(costOf("scripted:gpt-4.1-mini", { inputTokens: 5_000, outputTokens: 500 }), 0);
  });

  test("dollars for people", () => {
    assert.equal(formatUsd(0), "$0.00");
    assert.equal(formatUsd(12.3456), "$12.35");
    assert.equal(formatUsd(0.0123), "$0.0123");
    assert.equal(formatUsd(0.00092), "$0.000920");
    assert.equal(formatUsd(1e-8), "<$0.000001");
  });
});

describe("cached input tokens", () => {
  test("addUsage sums them, and leaves them out while no call reported any", () => {
    const total: UsageByModel = {};
    addUsage(total, "m", { inputTokens: 10, outputTokens: 1 });
    assert.deepEqual(total.m, { inputTokens: 10, outputTokens: 1 });
    addUsage(total, "m", { inputTokens: 20, outputTokens: 2, cachedInputTokens: 15 });
    addUsage(total, "m", { inputTokens: 5, outputTokens: 1 });
    addUsage(total, "m", { inputTokens: 30, outputTokens: 3, cachedInputTokens: 25 });
    assert.deepEqual(total.m, { inputTokens: 65, outputTokens: 7, cachedInputTokens: 40 });
  });

  test("the run status schema keeps them", () => {
    const status = RunStatusSchema.parse({
      runId: "r",
      phase: "completed",
      stepCount: 1,
      pending: [],
      usage: { "openai:gpt-4.1": { inputTokens: 10, outputTokens: 2, cachedInputTokens: 8 } },
    });
    assert.equal(status.usage["openai:gpt-4.1"]!.cachedInputTokens, 8);
  });

  describe("from the providers' SDKs", () => {
    let server: ScriptedModelServer;
    const turns: ScriptedTurn[] = [];
    before(async () => {
      server = await startScriptedModelServer(() => turns.shift() ?? { text: "?" }, { quiet: true });
    });
    after(() => server.close());
    const ask = { model: "x:m", messages: [{ role: "user" as const, content: "hi" }] };

    test("OpenAI: prompt_tokens counts the cached ones, given in prompt_tokens_details.cached_tokens", async () => {
      const provider = new OpenAIProvider({ apiKey: "sk-test", baseURL: server.openaiBaseURL });
      turns.push({ text: "ok", usage: { inputTokens: 1_200, outputTokens: 30, cachedInputTokens: 1_024 } });
      assert.deepEqual((await provider.generate(ask, "gpt-4.1")).usage, { inputTokens: 1_200, outputTokens: 30, cachedInputTokens: 1_024 });
      const wire = (server.requests.at(-1)!.response!.body as { usage: { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } } }).usage;
      assert.deepEqual([wire.prompt_tokens, wire.prompt_tokens_details.cached_tokens], [1_200, 1_024]);
      turns.push({ text: "ok", usage: { inputTokens: 40, outputTokens: 3 } });
      assert.deepEqual((await provider.generate(ask, "gpt-4.1")).usage, { inputTokens: 40, outputTokens: 3 });
    });

    test("Anthropic: input_tokens leaves the cache reads out; inputTokens counts them, cachedInputTokens names them", async () => {
      const provider = new AnthropicProvider({ apiKey: "ak-test", baseURL: server.anthropicBaseURL });
      turns.push({ text: "ok", usage: { inputTokens: 5_000, outputTokens: 80, cachedInputTokens: 4_000 } });
      assert.deepEqual((await provider.generate(ask, "claude-sonnet-4-5")).usage, { inputTokens: 5_000, outputTokens: 80, cachedInputTokens: 4_000 });
      const wire = (server.requests.at(-1)!.response!.body as { usage: { input_tokens: number; cache_read_input_tokens: number } }).usage;
      assert.deepEqual([wire.input_tokens, wire.cache_read_input_tokens], [1_000, 4_000]);
      turns.push({ text: "ok", usage: { inputTokens: 70, outputTokens: 4 } });
      assert.deepEqual((await provider.generate(ask, "claude-sonnet-4-5")).usage, { inputTokens: 70, outputTokens: 4 });
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The CLI's commands on the memory engine

/** Fixed usage per model, so the costs can be worked out here. */
const usageFor: Record<string, TokenUsage> = {
  "gpt-4.1-mini": { inputTokens: 1_000, outputTokens: 200, cachedInputTokens: 400 },
  "claude-sonnet-4-20250514": { inputTokens: 2_000, outputTokens: 100, cachedInputTokens: 1_000 },
  "mystery-model": { inputTokens: 300, outputTokens: 30 },
};

function script(call: ScriptedCall): ScriptedTurn {
  // A gateway that reports no usage, as some compatible servers do.
  return { text: `${call.model} answers`, usage: call.model === "gateway-model" ? null : usageFor[call.model]! };
}

/** `pricing:` overrides gpt-4.1-mini; claude-sonnet-4 keeps its default; nobody prices mystery-model. */
const miniOverride: ModelPrice = { input: 1, output: 4, cachedInput: 0.25 };

describe("cost in code", () => {
  test("client.cost prices a status's usage as the CLI does, with the config's pricing over the table", async () => {
    const client = await createClient({ config: { engine: "memory", pricing: { "custom:house": { input: 1, output: 2 } } } });
    try {
      const usage: UsageByModel = { "custom:house": { inputTokens: 1_000_000, outputTokens: 500_000 }, "openai:gpt-4.1-mini": { inputTokens: 1_000_000, outputTokens: 0 } };
      const cost = await client.cost(usage);
      assert.deepEqual(cost, { currency: "USD", total: 2 + priceOf("openai:gpt-4.1-mini")!.input, byModel: { "custom:house": 2, "openai:gpt-4.1-mini": priceOf("openai:gpt-4.1-mini")!.input }, unpriced: [] });
      assert.deepEqual((await client.cost({ "custom:other": { inputTokens: 1, outputTokens: 1 } }))?.unpriced, ["custom:other"]);
      assert.equal(await client.cost({}), undefined);
    } finally {
      await client.close();
    }
  });
});

describe("cost in duragent status, result --json, run --json and list", () => {
  let server: ScriptedModelServer;
  let dir: string;
  let context: CommandContext;
  const savedEnv = { ...process.env };

  before(async () => {
    server = await startScriptedModelServer(script, { quiet: true });
    dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-pricing-")));
    for (const key of Object.keys(process.env)) if (/^(OPENAI_|ANTHROPIC_|DEMO_)/.test(key)) delete process.env[key];
    writeFileSync(
      join(dir, "duragent.config.yaml"),
      [
        "engine: memory",
        "llm:",
        "  defaultModel: openai:gpt-4.1-mini",
        "  withoutApiKey: scripted",
        "  providers:",
        `    openai: { apiKey: test, baseURL: ${JSON.stringify(server.openaiBaseURL)} }`,
        `    anthropic: { apiKey: test, baseURL: ${JSON.stringify(server.anthropicBaseURL)} }`,
        `    custom: { kind: openai, apiKey: test, baseURL: ${JSON.stringify(server.openaiBaseURL)} }`,
        "    demo: { kind: anthropic }",
        "pricing:",
        `  gpt-4.1-mini: { input: ${miniOverride.input}, output: ${miniOverride.output}, cachedInput: ${miniOverride.cachedInput} }`,
        "  gateway-model: { input: 2, output: 8 }",
        "agents:",
        "  gatewayed: { instruction: Answer., model: custom:gateway-model }",
        "  mini: { instruction: Answer. }",
        "  sonnet: { instruction: Answer., model: anthropic:claude-sonnet-4-20250514 }",
        "  mystery: { instruction: Answer., model: custom:mystery-model }",
        "  standin: { instruction: Answer., model: demo:claude-sonnet-4-5 }",
        "workflows:",
        "  pair:",
        "    pattern: chain",
        "    steps: [mini, { pattern: chain, name: inner, asChildWorkflow: true, steps: [sonnet] }]",
        "  mixed:",
        "    pattern: chain",
        "    steps: [mini, mystery]",
        "  unmetered:",
        "    pattern: chain",
        "    steps: [mini, gatewayed, gatewayed]",
        "  branches:",
        "    pattern: parallel",
        "    branches: [{ pattern: chain, name: north, asChildWorkflow: true, steps: [mini] }]",
        "",
      ].join("\n"),
    );
    context = new CommandContext({ config: join(dir, "duragent.config.yaml"), json: true });
  });

  after(async () => {
    await context.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  });

  async function finishedRun(target: string): Promise<string> {
    const handle = await (await context.client()).start(target, "hello");
    await handle.result();
    return handle.runId;
  }

  const miniCost = () => expected(miniOverride, usageFor["gpt-4.1-mini"]!);
  const sonnetCost = () => expected(defaultPrices["claude-sonnet-4"]!, usageFor["claude-sonnet-4-20250514"]!);

  test("status: cost per model (the config's override, the default for a dated snapshot) and the total over the child run", async () => {
    const runId = await finishedRun("pair");
    const { data, text } = await statusCommand(context, runId);
    const status = data as { usage: UsageByModel; cost: RunCost };
    // The child run's usage is rolled up into the parent's, and so is its cost.
    assert.deepEqual(status.usage, {
      "openai:gpt-4.1-mini": usageFor["gpt-4.1-mini"],
      "anthropic:claude-sonnet-4-20250514": usageFor["claude-sonnet-4-20250514"],
    });
    near(status.cost.byModel["openai:gpt-4.1-mini"], miniCost(), "gpt-4.1-mini at the config's price");
    near(status.cost.byModel["anthropic:claude-sonnet-4-20250514"], sonnetCost(), "claude-sonnet-4 at its list price");
    near(status.cost.total, miniCost() + sonnetCost(), "total");
    assert.deepEqual(status.cost.unpriced, []);
    assert.equal(status.cost.currency, "USD");

    assert.match(text, new RegExp(`tokens openai:gpt-4\\.1-mini: 1000 in \\(400 cached\\), 200 out, \\${formatUsd(miniCost())}`));
    assert.match(text, new RegExp(`tokens anthropic:claude-sonnet-4-20250514: 2000 in \\(1000 cached\\), 100 out, \\${formatUsd(sonnetCost())}`));
    assert.match(text, new RegExp(`\\n  cost \\${formatUsd(miniCost() + sonnetCost())}(\\n|$)`));
  });

  test("result --json carries the same cost as status", async () => {
    const runId = await finishedRun("pair");
    const { data } = await resultCommand(context, runId);
    const { cost, result } = data as { cost: RunCost; result: { text: string } };
    assert.equal(result.text, "claude-sonnet-4-20250514 answers");
    near(cost.total, miniCost() + sonnetCost());
    assert.deepEqual(cost, (((await statusCommand(context, runId)).data) as { cost: RunCost }).cost);
  });

  test("run --json reports the cost of the run it followed", async () => {
    const { data } = (await runCommand(context, "mini", { input: "hello", wait: true }))!;
    const { cost } = data as { cost: RunCost };
    near(cost.total, miniCost());
    assert.deepEqual(Object.keys(cost.byModel), ["openai:gpt-4.1-mini"]);
  });

  test("a model without a price shows its tokens and no cost, and the run no total", async () => {
    const runId = await finishedRun("mixed");
    const { data, text } = await statusCommand(context, runId);
    const { cost, usage } = data as { cost: RunCost; usage: UsageByModel };
    assert.deepEqual(usage["custom:mystery-model"], usageFor["mystery-model"]);
    assert.equal(cost.total, undefined);
    assert.deepEqual(cost.unpriced, ["custom:mystery-model"]);
    assert.equal("custom:mystery-model" in cost.byModel, false);
    near(cost.byModel["openai:gpt-4.1-mini"], miniCost());
    assert.match(text, /tokens custom:mystery-model: 300 in, 30 out, no price\n/);
    assert.match(text, /cost unknown \(no price for custom:mystery-model\)/);
    assert.doesNotMatch(text, /\n  cost \$/);
    const result = (await resultCommand(context, runId)).data as { cost: RunCost };
    assert.equal(result.cost.total, undefined);
    assert.deepEqual(result.cost.unpriced, ["custom:mystery-model"]);
  });

  test("calls whose provider reported no usage are counted, and the cost is a lower bound, not $0", async () => {
    const runId = await finishedRun("unmetered");
    const { data, text } = await statusCommand(context, runId);
    const { cost, usage } = data as { cost: RunCost; usage: UsageByModel };
    assert.deepEqual(usage["custom:gateway-model"], { inputTokens: 0, outputTokens: 0, unreportedCalls: 2 });
    assert.deepEqual(usage["openai:gpt-4.1-mini"], usageFor["gpt-4.1-mini"]);
    assert.equal(cost.total, undefined);
    assert.deepEqual(cost.unreported, { "custom:gateway-model": 2 });
    assert.deepEqual(cost.unpriced, []);
    near(cost.byModel["openai:gpt-4.1-mini"], miniCost());
    assert.match(text, /tokens custom:gateway-model: 0 in, 0 out \(2 calls reported no usage\), at least \$0\.00\n/);
    assert.ok(text.includes(`\n  cost at least ${formatUsd(miniCost())} (2 calls to custom:gateway-model reported no usage)`), text);
    assert.doesNotMatch(text, /\n  cost \$/);
    // The result says the same, and so does list.
    const result = (await resultCommand(context, runId)).data as { cost: RunCost; result: { usage: UsageByModel } };
    assert.deepEqual(result.result.usage["custom:gateway-model"], { inputTokens: 0, outputTokens: 0, unreportedCalls: 2 });
    assert.deepEqual(result.cost, cost);
    const listed = await listCommand(context, { limit: 50 });
    const line = listed.text.split("\n").find((entry) => entry.startsWith(`${runId} `)) ?? "";
    assert.ok(line.endsWith(`at least ${formatUsd(miniCost())} (usage unreported)`), line);
  });

  test("the scripted stand-in for a model without an API key is counted apart, at no cost", async () => {
    const runId = await finishedRun("standin");
    const { data } = await statusCommand(context, runId);
    const { cost, usage } = data as { cost: RunCost; usage: UsageByModel };
    assert.deepEqual(Object.keys(usage), ["scripted:claude-sonnet-4-5"]);
    assert.ok(usage["scripted:claude-sonnet-4-5"]!.inputTokens > 0);
    assert.equal(cost.total, 0);
  });

  test("list, text and --json: each run's cost, or why there is none", async () => {
    const priced = await finishedRun("pair");
    const unpriced = await finishedRun("mixed");
    const { data, text } = await listCommand(context, { limit: 50 });
    const runs = data as { runId: string; usage?: UsageByModel; cost?: RunCost }[];
    const pricedRun = runs.find((run) => run.runId === priced)!;
    near(pricedRun.cost?.total, miniCost() + sonnetCost());
    assert.deepEqual(Object.keys(pricedRun.usage ?? {}).sort(), ["anthropic:claude-sonnet-4-20250514", "openai:gpt-4.1-mini"]);
    const unpricedRun = runs.find((run) => run.runId === unpriced)!;
    assert.equal(unpricedRun.cost?.total, undefined);
    assert.deepEqual(unpricedRun.cost?.unpriced, ["custom:mystery-model"]);
    assert.match(text.split("\n")[0]!, /^RUN +PHASE +TARGET +STARTED +COST$/);
    const line = (runId: string) => text.split("\n").find((entry) => entry.startsWith(`${runId} `)) ?? "";
    assert.ok(line(priced).endsWith(`  ${formatUsd(miniCost() + sonnetCost())}`), line(priced));
    assert.match(line(unpriced), /cost \? \(no price for custom:mystery-model\)$/);
  });

  test("history of a pattern whose agents all run as child runs says where their messages are", async () => {
    const runId = await finishedRun("branches");
    const { text } = await historyCommand(context, runId);
    assert.equal(text, `no messages in ${runId} itself; its child runs keep theirs (\`duragent history ${runId} --child-runs\`)`);
    const tree = await historyCommand(context, runId, { childRuns: true });
    assert.deepEqual(tree.text.split("\n"), [`── ${runId}/north-1`, "user: hello", "assistant: gpt-4.1-mini answers"]);
  });

  test("history --child-runs puts a child run's messages after its parent's, under its id", async () => {
    const runId = await finishedRun("pair");
    const { data, text } = await historyCommand(context, runId, { childRuns: true });
    const lines = text.split("\n");
    assert.equal(lines.indexOf(`── ${runId}/inner-1`), 2, text);
    assert.equal(lines.length, 5, text);
    const transcript = (data as { transcript: TranscriptMessage[] }).transcript;
    assert.deepEqual(transcript.map((message) => message.runId), [undefined, undefined, `${runId}/inner-1`, `${runId}/inner-1`]);
    assert.equal((await historyCommand(context, runId)).text.split("\n").length, 2);
  });

  test("list names what each run was started as, in columns, and says when its limit leaves runs out", async () => {
    const runIds = [await finishedRun("pair"), await finishedRun("standin"), await finishedRun("mixed")];
    const all = await listCommand(context, { limit: 50 });
    assert.equal(all.note, undefined);
    const lines = all.text.split("\n");
    const targets = ["pair", "standin", "mixed"];
    for (const [index, runId] of runIds.entries()) {
      const line = lines.find((entry) => entry.startsWith(`${runId} `)) ?? "";
      assert.equal(line.split(/\s+/)[2], targets[index], line);
    }
    // Each column starts at the same place on every line, the header's included.
    const starts = lines.slice(1).map((line) => line.indexOf("completed"));
    assert.ok(starts.every((start) => start === lines[0]!.indexOf("PHASE") && start > 0), all.text);
    const two = await listCommand(context, { limit: 2 });
    assert.equal(two.text.split("\n").length, 3, "a header and two runs");
    assert.equal((two.data as unknown[]).length, 2);
    assert.equal(two.note, "2 runs shown, and there are more: --limit N shows N, --phase and --target narrow them.");
  });
});

// ---------------------------------------------------------------------------------------------
// Temporal: list reads usage the visibility store does not hold

describe("list on Temporal finds each run's usage", () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await startTestTemporal();
  });
  after(async () => {
    await env?.teardown();
  });

  const perCall: TokenUsage = { inputTokens: 120, outputTokens: 12, cachedInputTokens: 100 };
  const agent = (name: string): RunTarget => ({ kind: "agent", name, agent: { name, instruction: "Answer.", servers: [], humanInput: true } });

  test("a completed module workflow's, whose result is its own value, from its status", async () => {
    const model = await startScriptedModelServer(() => ({ text: "short", usage: perCall }), { quiet: true });
    const modulePath = fileURLToPath(new URL("./fixtures/usage-workflows.ts", import.meta.url));
    const { summarise } = (await import(modulePath)) as typeof import("./fixtures/usage-workflows.js");
    try {
      await withTemporalWorker(
        env,
        testConfig(model),
        async (engine) => {
          const run = await engine.start({ kind: "workflow", name: "summarise", workflow: summarise as DuragentWorkflow }, "a long text");
          assert.equal(await run.result(), "summary: short");
          const listed = (await engine.list(10, { usage: true })).find((entry) => entry.runId === run.runId);
          assert.deepEqual(listed?.usage, { "openai:gpt-4.1-mini": perCall });
        },
        { workflowBundle: await bundleWorkflows([modulePath]) },
      );
    } finally {
      await model.close();
    }
  });

  test("a completed run's from its result, an open run's from its status; a failed run reports none", async () => {
    const model = await startScriptedModelServer((call) => {
      const question = textOf(call.messages.find((message) => message.role === "user")?.content ?? "");
      if (question.includes("reject me")) return { error: { status: 400, message: "bad request" } };
      const answered = call.messages.some((message) => message.role === "tool");
      if (question.includes("ask me") && !answered) return { toolCalls: [{ name: "human_input", arguments: { question: "Which city?" } }], usage: perCall };
      return { text: "done", usage: perCall };
    }, { quiet: true });
    try {
      await withTemporalWorker(env, testConfig(model), async (engine) => {
        const completed = await engine.start(agent("done"), "hello");
        await completed.result();
        const open = await engine.start(agent("asker"), "ask me");
        await waitForPhase(open, "waiting_input");
        const failed = await engine.start(agent("failer"), "reject me");
        await assert.rejects(failed.result());

        const runs = await engine.list(10, { usage: true });
        const usageOf = (runId: string) => runs.find((run) => run.runId === runId)?.usage;
        assert.deepEqual(usageOf(completed.runId), { "openai:gpt-4.1-mini": perCall });
        assert.deepEqual(usageOf(open.runId), { "openai:gpt-4.1-mini": perCall });
        assert.equal(usageOf(failed.runId), undefined);
        assert.ok(runs.some((run) => run.runId === failed.runId));
        // Without asking, list stays one request to the visibility store.
        assert.ok((await engine.list(10)).every((run) => run.usage === undefined));

        await open.answer({ value: "Lisbon" });
        await open.result();
        const finished = await engine.list(10, { usage: true });
        assert.deepEqual(finished.find((run) => run.runId === open.runId)?.usage, {
          "openai:gpt-4.1-mini": { inputTokens: 240, outputTokens: 24, cachedInputTokens: 200 },
        });
      });
    } finally {
      await model.close();
    }
  });
});
