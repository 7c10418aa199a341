/**
 * The patterns on the memory engine, each against a scripted model reached through the real
 * OpenAI provider: every test asserts the behaviour that defines its pattern.
 */
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { z } from "zod";
import { lastUserText, nestedScenario, scenarios, type Scenario } from "../examples/patterns/scenarios.js";
import { createEffects } from "../src/activities/index.js";
import { createCallLlm } from "../src/activities/llm/call-llm.js";
import { createProviderRegistry } from "../src/activities/llm/provider-registry.js";
import { McpConnectionPool } from "../src/activities/mcp/connection-pool.js";
import { runSettingsFromConfig } from "../src/config/load-config.js";
import { ConfigSchema, type DuragentConfig } from "../src/config/schema.js";
import { MemoryEngine } from "../src/client/memory-engine.js";
import { RunFailed, RunNotFound, type StartOptions } from "../src/client/engine.js";
import { DuragentClient } from "../src/client.js";
import { MemoryExecutor } from "../src/workflows/executor/memory-executor.js";
import { findRunTarget } from "../src/client/run-targets.js";
import { createLogger } from "../src/logger.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { everythingServer, filesystemServer } from "./support/mcp-servers.js";
import { startScriptedModelServer, type ModelScript, type ScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { patternWorkflow } from "../src/workflows/builtin-workflows.js";
import { textOf } from "../src/common/messages.js";
import { endingNote } from "../src/client/result-note.js";
import { statusText } from "../src/cli/status-text.js";
import { historyText } from "../src/cli/commands/history.js";
import { waitFor } from "./support/wait.js";
import {
  lazyAgent,
  buildPattern,
  type DuragentWorkflow,
  EvaluatorOptimizer,
  FunctionStep,
  IntentClassifier,
  Orchestrator,
  itemField,
  Parallel,
  Router,
  agentCandidate,
  defineAgent,
  Swarm,
  type PatternRunResult,
  type RunLogger,
} from "../src/workflows/index.js";

const quiet: RunLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const servers: ScriptedModelServer[] = [];
after(() => Promise.all(servers.map((server) => server.close())));

async function harness(script: ModelScript, mcp: McpConnectionPool = new McpConnectionPool({})) {
  const server = await startScriptedModelServer(script, { quiet: true });
  servers.push(server);
  const config = ConfigSchema.parse({
    llm: { defaultModel: "openai:scripted", providers: { openai: { apiKey: "test", baseURL: server.openaiBaseURL } } },
    execution: { llm: { maximumAttempts: 1 } },
  });
  const effects = createEffects({ callLlm: createCallLlm(createProviderRegistry(config.llm)), mcp });
  const ctx = new MemoryExecutor(effects, runSettingsFromConfig(config), quiet, {
    runId: "test-run",
    workflows: (name) => (name === "patternWorkflow" ? (patternWorkflow as DuragentWorkflow) : undefined),
  });
  return { server, ctx };
}

async function runScenario(scenario: Scenario): Promise<{ result: PatternRunResult; server: ScriptedModelServer }> {
  const { server, ctx } = await harness(scenario.script);
  const result = await patternWorkflow.body(ctx, { spec: scenario.spec, input: scenario.input });
  assert.deepEqual(server.errors, []);
  return { result, server };
}

describe("chain", () => {
  test("each step gets the previous step's output", async () => {
    const { result, server } = await runScenario(scenarios.chain);
    assert.equal(result.text, "# draft(outline(durable agents))");
    assert.equal(server.requests.length, 2);
  });

  test("a run's tokens are told by the agent that spent them too, and `status` says so where several did", async () => {
    const { ctx } = await harness((call) => ({ text: `${call.system} done`, usage: call.system === "You outline." ? { inputTokens: 10, outputTokens: 2 } : { inputTokens: 30, outputTokens: 7 } }));
    await patternWorkflow.body(ctx, { spec: { pattern: "chain", steps: [{ name: "outliner", instruction: "You outline." }, { name: "drafter", instruction: "You draft." }] }, input: "agents" });
    const status = ctx.control.status();
    assert.deepEqual(status.usageByAgent, {
      outliner: { "openai:scripted": { inputTokens: 10, outputTokens: 2 } },
      drafter: { "openai:scripted": { inputTokens: 30, outputTokens: 7 } },
    });
    assert.match(statusText(status), /\n  by agent: outliner 10 in, 2 out, drafter 30 in, 7 out$/);
  });
});

describe("parallel", () => {
  test("maps items with at most `concurrency` model calls in flight, then fans in", async () => {
    const { result, server } = await runScenario(scenarios.parallel);
    assert.equal(result.text, "joined: one two three four five six");
    assert.equal(server.maxInFlight, 2);
    assert.equal(server.requests.length, 7);
  });

  const flaky: ModelScript = (call) =>
    lastUserText(call).includes("bad") ? { error: { status: 400, message: "refused" } } : { text: `ok(${lastUserText(call)})` };

  test("failurePolicy collect reports failed branches to the fan-in; fail fails the whole", async () => {
    const { ctx } = await harness(flaky);
    const worker = lazyAgent(ctx, { name: "worker", instruction: "You work." });
    const collected = await new Parallel({ map: { worker }, failurePolicy: "collect", concurrency: 3 }).run(JSON.stringify(["a", "bad", "c"]));
    assert.deepEqual(
      collected.results.map((branch) => [branch.name, branch.ok]),
      [["item 1", true], ["item 2", false], ["item 3", true]],
    );
    assert.match(collected.text, /## item 2\n\(failed: .*refused/);
    await assert.rejects(new Parallel({ map: { worker } }).run(JSON.stringify(["a", "bad"])), /1 of 2 branches failed.*item 2/);
  });

  test("a map names its items by a field of theirs, and its answer lists the failed ones with their inputs, which the CLI notes", async () => {
    const { ctx } = await harness(flaky);
    const worker = lazyAgent(ctx, { name: "worker", instruction: "You work." });
    const tickets = [{ id: "T-1", body: "a" }, { id: "T-2", body: "bad" }, { body: "bad too" }];
    const answer = await new Parallel({ map: { worker, name: itemField("id") }, failurePolicy: "collect" }).answer(JSON.stringify(tickets));
    assert.match(answer.text, /^## T-1\nok\(/);
    assert.deepEqual(answer.parallel, {
      branches: 3,
      failed: [
        { index: 2, name: "T-2", error: answer.parallel!.failed[0]!.error, input: JSON.stringify(tickets[1]) },
        { index: 3, name: "item 3", error: answer.parallel!.failed[1]!.error, input: JSON.stringify(tickets[2]) },
      ],
    });
    assert.match(answer.parallel!.failed[0]!.error, /refused/);
    assert.equal(endingNote(answer), "2 of 3 failed (T-2, item 3), so this answer is without them; each failure, with its input, is under parallel.failed in the result (--json).");
    // Without failures, nothing is added.
    assert.deepEqual(await new Parallel({ map: { worker }, failurePolicy: "collect" }).answer(JSON.stringify(["a"])), { text: "## item 1\nok(a)" });
  });

  test("fans one input out to several branches, agents and functions alike", async () => {
    const { ctx } = await harness((call) => ({ text: `${call.system}:${lastUserText(call)}` }));
    const parallel = new Parallel({
      branches: [lazyAgent(ctx, { name: "a", instruction: "A" }), new FunctionStep("len", (text) => String(text.length))],
      fanIn: (results) => results.map((branch) => branch.text).join("|"),
    });
    assert.equal(await parallel.generateStr("hello"), "A:hello|5");
  });
});

describe("router", () => {
  test("drops invalid and duplicate choices, ranks the rest and hands the request to the best", async () => {
    const { ctx, server } = await harness(scenarios.router.script);
    const router = buildPattern(ctx, scenarios.router.spec) as Router;
    const choices = await router.route("My laptop will not start");
    assert.deepEqual(
      choices.map((choice) => [choice.name, choice.kind, choice.confidence]),
      [["tech", "agent", 0.8], ["billing", "agent", 0.2]],
    );
    assert.equal(await router.generateStr("My laptop will not start"), "tech: hold the power button (My laptop will not start)");
    assert.deepEqual(server.errors, []);
  });

  test("a model that chooses nothing valid fails the run clearly instead of guessing", async () => {
    const { ctx } = await harness(() => ({ text: JSON.stringify({ choices: [{ name: "ghost", confidence: 1 }] }) }));
    const router = new Router({ llm: lazyAgent(ctx, { name: "r", instruction: "route" }), candidates: [{ name: "x", kind: "function", description: "x" }] });
    assert.deepEqual(await router.route("hi"), []);
    await assert.rejects(router.generateStr("hi"), /chose none of the candidates \(x\); it named "ghost"\./);
  });

  test("agents become candidates with agentCandidate, as mcp-agent's Router takes agents; an Agent given as a candidate is refused saying so", async () => {
    const { ctx, server } = await harness((call) => (call.system === "route" ? { text: JSON.stringify({ choices: [{ name: "tech", confidence: 0.9, reasoning: "a laptop" }] }) } : { text: `${call.system} answers` }));
    const tech = defineAgent({ name: "tech", instruction: "You fix laptops.", description: "Hardware help" });
    const billing = defineAgent({ name: "billing", instruction: "You handle bills." });
    const router = new Router({ llm: lazyAgent(ctx, { name: "r", instruction: "route" }), candidates: [agentCandidate(ctx, tech), agentCandidate(ctx, billing)] });
    assert.equal(await router.generateStr("My laptop will not start"), "You fix laptops. answers");
    // Described by their description, else their instruction.
    assert.match(JSON.stringify(server.requests[0]!.body), /\(agent\) Hardware help.*\(agent\) You handle bills\./);
    assert.throws(() => new Router({ llm: lazyAgent(ctx, { name: "r", instruction: "route" }), candidates: [tech as never] }), /router: candidates\[0\] is an Agent from defineAgent; pass agentCandidate\(ctx, agent\) instead: a candidate is \{ name, kind, description, llm\? \}\./);
  });

  test("asks for the single best candidate, in the singular", async () => {
    const { ctx, server } = await harness(() => ({ text: JSON.stringify({ choices: [{ name: "x", confidence: 1 }] }) }));
    const router = new Router({ llm: lazyAgent(ctx, { name: "r", instruction: "route" }), candidates: [{ name: "x", kind: "function", description: "x" }] });
    await router.route("hi");
    assert.match(JSON.stringify(server.requests.at(-1)?.body), /Choose the single best candidate to handle it for the request below/);
    // The answer's schema offers the candidates' names, and no stand-in for a malformed choice as a default.
    const schema = (server.requests.at(-1)?.body as { response_format: { json_schema: { schema: { properties: { choices: { items: Record<string, unknown> & { properties: { name: unknown } } } } } } } }).response_format.json_schema.schema;
    const choice = schema.properties.choices.items;
    assert.deepEqual(choice.properties.name, { type: "string", enum: ["x"] });
    assert.equal(choice.default, undefined);
  });
});

describe("patterns with nothing to choose from or fan out to", () => {
  test("are refused when built, as the config refuses them", async () => {
    const { ctx } = await harness(() => ({ text: "unused" }));
    const llm = lazyAgent(ctx, { name: "m", instruction: "m" });
    assert.throws(() => new Parallel({ branches: [] }), /A parallel pattern needs at least one branch\./);
    assert.throws(() => new Router({ llm, candidates: [] }), /router: a router needs at least one candidate\./);
    assert.throws(() => new IntentClassifier({ llm, intents: [] }), /intent-classifier: an intent classifier needs at least one intent\./);
  });
});

describe("intent classifier", () => {
  test("returns the top-k known intents with confidence, best first", async () => {
    const { ctx } = await harness(scenarios["intent-classifier"].script);
    const classifier = buildPattern(ctx, scenarios["intent-classifier"].spec) as IntentClassifier;
    const matches = await classifier.classify(scenarios["intent-classifier"].input);
    assert.deepEqual(
      matches.map((match) => [match.intent, match.confidence]),
      [["order_status", 0.85], ["complaint", 0.6]],
    );
  });
});

describe("orchestrator", () => {
  test("re-asks once about an unknown worker, runs a step's tasks in parallel, then synthesizes", async () => {
    const { ctx, server } = await harness(scenarios.orchestrator.script);
    const orchestrator = buildPattern(ctx, scenarios.orchestrator.spec) as Orchestrator;
    const result = await orchestrator.run(scenarios.orchestrator.input);
    assert.equal(result.complete, true);
    assert.equal(result.iterations, 2);
    assert.deepEqual(result.steps[0]?.tasks.map((task) => [task.worker, task.result]), [
      ["researcher", "fact: histories replay"],
      ["writer", "intro: runs survive crashes"],
    ]);
    assert.equal(result.text, "final answer from 2 results");
    const reask = server.requests.find((request) => JSON.stringify(request.body).includes("unknown worker(s): editor"));
    assert.ok(reask, "the planner was told which worker was unknown");
  });

  test("an unknown worker named twice fails the run with a non-retryable error", async () => {
    const plan = { isComplete: false, steps: [{ description: "s", tasks: [{ worker: "ghost", description: "t" }] }] };
    const { ctx, server } = await harness(() => ({ text: JSON.stringify(plan) }));
    const orchestrator = new Orchestrator({
      planner: lazyAgent(ctx, { name: "planner", instruction: "plan" }),
      workers: [{ name: "real", description: "does work", llm: new FunctionStep("real", () => "done") }],
    });
    await assert.rejects(orchestrator.run("goal"), (error: Error & { nonRetryable?: boolean; type?: string }) => {
      assert.match(error.message, /unknown workers twice.*ghost.*Available workers: real/);
      assert.equal(error.nonRetryable, true);
      assert.equal(error.type, "PlanInvalid");
      return true;
    });
    assert.equal(server.requests.length, 2);
  });

  test("stops planning at the iteration cap and still synthesizes, marked incomplete", async () => {
    const { ctx, server } = await harness((call) =>
      call.responseFormat
        ? { text: JSON.stringify({ isComplete: false, steps: [{ description: "again", tasks: [{ worker: "w", description: "t" }] }] }) }
        : { text: "partial answer" },
    );
    const orchestrator = new Orchestrator({
      planner: lazyAgent(ctx, { name: "planner", instruction: "plan" }),
      workers: [{ name: "w", description: "works", llm: new FunctionStep("w", () => "did it") }],
      planMode: "iterative",
      maxIterations: 3,
    });
    const result = await orchestrator.run("never done");
    assert.equal(result.complete, false);
    assert.equal(result.iterations, 3);
    assert.equal(result.steps.length, 3);
    assert.equal(result.text, "partial answer");
    assert.equal(server.requests.length, 4); // three plans, one synthesis
  });
});

describe("evaluator-optimizer", () => {
  test("refines up to maxRefinements and returns the best-rated response with the history", async () => {
    const { ctx } = await harness(scenarios["evaluator-optimizer"].script);
    const pattern = buildPattern(ctx, scenarios["evaluator-optimizer"].spec) as EvaluatorOptimizer;
    const result = await pattern.run(scenarios["evaluator-optimizer"].input);
    assert.equal(result.stopReason, "max-refinements");
    assert.deepEqual(
      result.history.map((attempt) => [attempt.response, attempt.evaluation.rating]),
      [["slogan draft 1", "fair"], ["slogan draft 2", "good"], ["slogan draft 3", "poor"]],
    );
    assert.equal(result.text, "slogan draft 2");
    assert.equal(result.best.attempt, 1);
  });

  test("stops as soon as the rating reaches the minimum", async () => {
    const { ctx, server } = await harness(scenarios["evaluator-optimizer"].script);
    const pattern = new EvaluatorOptimizer({
      optimizer: lazyAgent(ctx, { name: "copywriter", instruction: "You write slogans." }),
      evaluator: lazyAgent(ctx, { name: "critic", instruction: "You rate slogans." }),
      minRating: "good",
      maxRefinements: 5,
    });
    const result = await pattern.run("a slogan");
    assert.equal(result.stopReason, "rating-reached");
    assert.equal(result.history.length, 2);
    assert.equal(result.text, "slogan draft 2");
    assert.equal(server.requests.length, 4);
  });
});

describe("evaluator-optimizer, structured", () => {
  test("each answer comes from the optimizer's structured output, repaired when it does not fit, so the evaluator rates only answers that fit", async () => {
    // The helper's port from mcp-agent: the writer first answers in words, not JSON.
    let writes = 0;
    const { ctx, server } = await harness((call) => {
      if (call.system === "You name cities.") return { text: ++writes === 1 ? "Lisbon, surely." : '{"city": "Lisbon"}' };
      return { text: '{"rating": "excellent", "feedback": "Right."}' };
    });
    const pattern = new EvaluatorOptimizer({
      optimizer: lazyAgent(ctx, { name: "writer", instruction: "You name cities." }),
      evaluator: lazyAgent(ctx, { name: "critic", instruction: "You rate answers." }),
    });
    assert.deepEqual(await pattern.generateStructured("Give me a city.", z.object({ city: z.string() })), { city: "Lisbon" });
    // The writer's answer, its repair, then one evaluation, of the answer that fits.
    assert.deepEqual(server.requests.map((request) => (request.body as { messages: { content: string }[] }).messages[0]!.content), ["You name cities.", "You name cities.", "You rate answers."]);
    assert.match(JSON.stringify(server.requests[2]!.body), /Response:\\n\{\\"city\\":\\"Lisbon\\"\}/);
    assert.ok((server.requests[0]!.body as { response_format?: unknown }).response_format, "the writer is asked in the provider's structured mode");
  });
});

describe("swarm", () => {
  test("hands off through transfer_to_<agent>, shares context variables and ends when an agent answers", async () => {
    const { ctx, server } = await harness(scenarios.swarm.script);
    const swarm = buildPattern(ctx, scenarios.swarm.spec) as Swarm;
    const result = await swarm.run(scenarios.swarm.input);
    assert.equal(result.stopReason, "answered");
    assert.deepEqual(result.state.handoffs, [{ from: "triage", to: "billing", reason: "a charge" }]);
    assert.deepEqual(result.state.contextVariables, { customer: "ada", account: "42" });
    assert.equal(result.text, "refunded account 42 (tools: transfer_to_triage,set_context_variables)");
    assert.equal(server.requests.length, 2);
    // The run's transcript holds the conversation once, not again on each agent's turn.
    assert.deepEqual(ctx.control.transcript, result.state.messages);
  });

  test("the model may add context variables, not change those the swarm's caller started it with; a function may, and the next model call of the turn sees it", async () => {
    const { ctx, server } = await harness((call) => {
      const results = call.messages.filter((message) => message.role === "tool").map((message) => textOf(message.content));
      if (results.length === 0) return { toolCalls: [{ name: "set_context_variables", arguments: { variables: { userId: "admin", mood: "calm" } } }] };
      if (results.length === 1) return { toolCalls: [{ name: "promote", arguments: {} }] };
      return { text: results.join(" | ") };
    });
    const swarm = new Swarm(ctx, {
      agents: [{ name: "clerk", instruction: "You keep the desk.", functions: [{ name: "promote", description: "Promotes the user.", call: () => ({ value: "Promoted.", contextVariables: { userId: "u-42-admin" } }) }] }],
      contextVariables: { userId: "u-42" },
    });
    const result = await swarm.run("Who am I?");
    assert.equal(result.text, "Context updated. Not changed: userId, set by the swarm's caller, which no tool call may change. | Promoted.");
    assert.match(result.state.messages.map((message) => textOf(message.content)).join("\n"), /Not changed: userId/);
    assert.deepEqual(result.state.contextVariables, { userId: "u-42-admin", mood: "calm" });
    const systems = server.requests.map((request) => (request.body as { messages: { role: string; content: string }[] }).messages[0]!.content);
    assert.deepEqual(systems.map((system) => /Shared context variables: (.*)$/.exec(system)?.[1]), ['{"userId":"u-42"}', '{"userId":"u-42","mood":"calm"}', '{"userId":"u-42-admin","mood":"calm"}']);
  });

  test("a swarm whose agent runs out of turns still calling tools stops with max-iterations, which the result's note says", async () => {
    const { ctx } = await harness(() => ({ toolCalls: [{ name: "set_context_variables", arguments: { variables: { step: "again" } } }] }));
    const swarm = new Swarm(ctx, { agents: [{ name: "looper", instruction: "You loop.", maxIterations: 2 }] });
    const ending = await swarm.answer("Go.");
    assert.equal(ending.swarm?.stopReason, "max-iterations");
    assert.equal(ending.text, "");
    assert.match(endingNote(ending) ?? "", /^the swarm's agent looper reached its turn limit \(maxIterations\) with the model still calling tools, so there is no answer/);
  });

  test("an agent's own functions (mcp-agent's swarm functions) set context variables and hand the conversation on, their arguments checked first", async () => {
    const { ctx, server } = await harness((call) => {
      const results = call.messages.filter((message) => message.role === "tool").map((message) => textOf(message.content));
      if (call.system?.startsWith("You triage.")) return { toolCalls: [{ name: "escalate", arguments: { why: "a refund" } }] };
      if (results.length === 1) return { toolCalls: [{ name: "lookup_account", arguments: { customer: 7 } }] };
      if (results.length === 2) return { toolCalls: [{ name: "lookup_account", arguments: { customer: "ada" } }] };
      return { text: `refunded (${results.at(-1)})` };
    });
    const swarm = new Swarm(ctx, {
      agents: [
        { name: "triage", instruction: "You triage.", functions: [{ name: "escalate", description: "Hand a refund to billing.", call: () => ({ value: "Escalated.", agent: "billing" }) }] },
        {
          name: "billing",
          instruction: "You refund.",
          functions: [
            {
              name: "lookup_account",
              description: "Finds a customer's account.",
              inputSchema: { type: "object", properties: { customer: { type: "string" } }, required: ["customer"] },
              call: (args, { agent }) => ({ value: `account of ${String(args.customer)} found by ${agent}`, contextVariables: { account: 42 } }),
            },
          ],
        },
      ],
    });
    const result = await swarm.run("I want my money back");
    assert.equal(result.stopReason, "answered");
    assert.deepEqual(result.state.handoffs, [{ from: "triage", to: "billing", reason: "escalate" }]);
    assert.deepEqual(result.state.contextVariables, { account: "42" });
    // The misfit call (a number for a string) was refused before the function ran; the next one ran.
    assert.equal(result.text, "refunded (account of ada found by billing)");
    assert.match(JSON.stringify(server.requests[2]!.body), /do not fit its input schema/);
  });

  test("ends at the done condition, or after maxHandoffs when agents keep passing the conversation", async () => {
    const pingPong: ModelScript = (call) => ({
      toolCalls: [{ name: call.system?.startsWith("A") ? "transfer_to_b" : "transfer_to_a", arguments: {} }],
    });
    const { ctx } = await harness(pingPong);
    const agents = [
      { name: "a", instruction: "A agent" },
      { name: "b", instruction: "B agent" },
    ];
    const capped = await new Swarm(ctx, { agents, maxHandoffs: 3 }).run("go");
    assert.equal(capped.stopReason, "max-handoffs");
    assert.deepEqual(capped.state.handoffs.map((handoff) => handoff.to), ["b", "a", "b"]);
    const done = await new Swarm(ctx, { agents, done: (state) => state.activeAgent === "b" && state.handoffs.length > 0 }).run("go");
    assert.equal(done.stopReason, "done");
    assert.equal(done.state.handoffs.length, 1);
  });
});

describe("nesting", () => {
  test("orchestrator → evaluator-optimizer → parallel, the nested ones as child runs", async () => {
    const { result, server } = await runScenario(nestedScenario);
    assert.equal(result.text, "campaign ready: picked pun");
    assert.equal(server.requests.length, 7); // plan, poet, punster, picker, critic, plan, synthesis
  });

  test("generateStructured works through a child pattern", async () => {
    const { ctx } = await harness((call) => (call.responseFormat ? { text: '{"score": 7}' } : { text: "x" }));
    const { z } = await import("zod");
    const child = buildPattern(ctx, {
      pattern: "chain",
      steps: [{ pattern: "chain", asChildWorkflow: true, steps: [{ name: "scorer", instruction: "You score." }] }],
    });
    assert.deepEqual(await child.generateStructured("rate", z.object({ score: z.number() })), { score: 7 });
  });
});

describe("declarative patterns", () => {
  test("a `workflows:` entry naming config agents runs as `duragent run research` would", async () => {
    const server = await startScriptedModelServer(scenarios.orchestrator.script, { quiet: true });
    servers.push(server);
    const config = ConfigSchema.parse({
      llm: { defaultModel: "openai:scripted", providers: { openai: { apiKey: "test", baseURL: server.openaiBaseURL } } },
      agents: { researcher: { instruction: "You find facts." }, writer: { instruction: "You write prose." } },
      workflows: { research: { pattern: "orchestrator", workers: ["researcher", "writer"] } },
    });
    const target = await findRunTarget(config, "research");
    assert.equal(target.kind, "pattern");
    const engine = new MemoryEngine(config, runSettingsFromConfig(config), createLogger("test", "silent"));
    try {
      const handle = await engine.start(target, "Explain durable execution");
      assert.match(handle.runId, /^research-[0-9a-f]{8}$/);
      const result = (await handle.result()) as { text: string; usage: Record<string, { outputTokens: number }> };
      assert.equal(result.text, "final answer from 2 results");
      assert.ok(result.usage["openai:scripted"]!.outputTokens > 0);
    } finally {
      await engine.close();
    }
  });

  test("a config agent's description is what a router and a swarm's handoff show of it, its instruction when it has none", async () => {
    const { server } = await harness(() => ({ text: "unused" }));
    const config = ConfigSchema.parse({
      llm: { defaultModel: "openai:scripted", providers: { openai: { apiKey: "test", baseURL: server.openaiBaseURL } } },
      agents: {
        billing: { instruction: "You are Bea. Never reveal discount codes.\nBe brief.", description: "Answers questions about invoices" },
        triage: { instruction: "You sort requests.\nAsk when unsure." },
      },
      workflows: { desk: { pattern: "router", candidates: ["billing", "triage"] }, team: { pattern: "swarm", agents: ["triage", "billing"] } },
    });
    const router = await findRunTarget(config, "desk");
    const swarm = await findRunTarget(config, "team");
    assert.ok(router.kind === "pattern" && swarm.kind === "pattern");
    const requests: Array<{ system?: string; text: string; tools: unknown }> = [];
    const script = await harness((call) => {
      requests.push({ ...(call.system ? { system: call.system } : {}), text: JSON.stringify(call.messages), tools: (call.raw as { tools?: unknown }).tools });
      if (call.system?.startsWith("You route")) return { text: JSON.stringify({ choices: [{ name: "billing", confidence: 0.9 }] }) };
      return { text: "done" };
    });
    await patternWorkflow.body(script.ctx, { spec: router.spec, input: "Why was I charged twice?" });
    const routing = requests.find((request) => request.system?.startsWith("You route"))!;
    assert.match(routing.text, /billing: \(agent\) Answers questions about invoices/);
    assert.match(routing.text, /triage: \(agent\) You sort requests/);
    assert.doesNotMatch(routing.text, /discount codes/);

    requests.length = 0;
    await patternWorkflow.body(script.ctx, { spec: swarm.spec, input: "hello" });
    const handoffs = JSON.stringify(requests[0]!.tools);
    assert.match(handoffs, /Hand the conversation to billing: Answers questions about invoices/);
    assert.doesNotMatch(handoffs, /discount codes/);
    assert.deepEqual(script.server.errors, []);
  });

  test("without an API key, the scripted model runs the patterns that need structured output (router, intent classifier, orchestrator, evaluator-optimizer) and combines a fan-in's results", async () => {
    const folder = mkdtempSync(join(tmpdir(), "duragent-offline-"));
    writeFileSync(join(folder, "notes.md"), "The ferry leaves at nine. It returns at five.\n");
    const config = ConfigSchema.parse({
      // A provider whose key variable (OFFLINE_API_KEY) no machine sets.
      llm: { defaultModel: "offline:gpt", providers: { offline: { kind: "openai" } }, withoutApiKey: "scripted" },
      mcp: { servers: { fs: filesystemServer(folder) } },
      agents: { librarian: { instruction: "Answer from the files.", servers: ["fs"] }, critic: { instruction: "Judge answers." } },
      workflows: {
        pick: { pattern: "router", candidates: ["librarian", "critic"] },
        sort: { pattern: "intent-classifier", intents: [{ name: "files", description: "about files" }, { name: "other", description: "anything else" }] },
        plan: { pattern: "orchestrator", workers: ["librarian", "critic"] },
        polish: { pattern: "evaluator-optimizer", optimizer: "librarian", evaluator: "critic" },
        fan: { pattern: "parallel", branches: ["librarian", "critic"], fanIn: "critic" },
      },
    });
    const engine = new MemoryEngine(config, runSettingsFromConfig(config), createLogger("test", "silent"));
    const run = async (name: string) => (await (await engine.start(await findRunTarget(config, name), `Summarize ${join(folder, "notes.md")}`)).result()) as { text: string };
    try {
      // The first candidate offered, which reads the file.
      assert.equal((await run("pick")).text, "The ferry leaves at nine. It returns at five.");
      assert.match((await run("sort")).text, /"intent":"files"/);
      // The synthesizer and the fan-in give the results they were shown, by whom.
      assert.equal((await run("plan")).text, "librarian: The ferry leaves at nine. It returns at five.");
      assert.equal((await run("polish")).text, "The ferry leaves at nine. It returns at five.");
      const fan = (await run("fan")).text.split("\n");
      assert.equal(fan[0], "librarian: The ferry leaves at nine. It returns at five.");
      assert.match(fan[1]!, /^critic: I am duragent's scripted model/);
    } finally {
      await engine.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test("memory engine: a question a child run asks is shown by the parent and answered through it; pausing the parent holds the child", async () => {
    const server = await startScriptedModelServer(
      (call) => {
        const answer = call.messages.find((message) => message.role === "tool");
        return answer ? { text: `Going to ${textOf(answer.content)}` } : { toolCalls: [{ name: "human_input", arguments: { question: "Which city?" } }] };
      },
      { quiet: true },
    );
    servers.push(server);
    const config = ConfigSchema.parse({
      llm: { defaultModel: "openai:scripted", providers: { openai: { apiKey: "test", baseURL: server.openaiBaseURL } } },
      agents: { planner: { instruction: "You plan trips.", humanInput: true } },
      workflows: { trip: { pattern: "chain", steps: [{ pattern: "chain", name: "inner", asChildWorkflow: true, steps: ["planner"] }] } },
    });
    const engine = new MemoryEngine(config, runSettingsFromConfig(config), createLogger("test", "silent"));
    try {
      const handle = await engine.start(await findRunTarget(config, "trip"), "plan a trip");
      const asking = await waitFor("the child's question in the parent's status", async () => {
        const { pending } = await handle.status();
        return pending.length > 0 ? pending : undefined;
      });
      assert.deepEqual(asking.map((request) => [request.id, request.prompt]), [["inner-1/input-1", "Which city?"]]);
      // The parent waits for the answer as its child does, and is listed so.
      assert.equal((await handle.status()).phase, "waiting_input");
      assert.deepEqual((await engine.list(10, { phase: "waiting_input" })).map((run) => run.runId), [handle.runId]);
      // The parent made no model call; its child's, still in flight, count in its usage.
      assert.ok(((await handle.status()).usage["openai:scripted"]?.inputTokens ?? 0) > 0, "the child's usage is not in its parent's");
      await assert.rejects(handle.answer({ requestId: "elsewhere-1/input-1", value: "Porto" }), /Run trip-[0-9a-f]+ has no child run trip-[0-9a-f]+\/elsewhere-1 in flight/);
      // Refusals name the request as the sender knows it, and say what the run waits for instead.
      await assert.rejects(handle.answer({ requestId: "inner-1/input-1", value: 12 }), /^InvalidRunMessage: The answer to inner-1\/input-1 is invalid/);
      await assert.rejects(handle.approve(), /not waiting for an approval\. It waits for inner-1\/input-1 \(a question: answer it\)\./);
      // Pausing the parent holds the child: answered, it makes no model call until resumed.
      await handle.pause();
      assert.equal((await handle.status()).phase, "paused");
      const calls = server.requests.length;
      await handle.answer({ requestId: "inner-1/input-1", value: "Lisbon" });
      await waitFor("the answer taken", async () => ((await handle.status()).pending.length === 0 ? true : undefined));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(server.requests.length, calls, "a paused child went on");
      await handle.resume();
      const done = (await handle.result()) as { text: string; usage: unknown };
      assert.equal(done.text, "Going to Lisbon");
      assert.equal(server.requests.length, calls + 1);
      // Ended, the child counts in its parent's usage once: through its result.
      assert.deepEqual((await handle.status()).usage, done.usage);
    } finally {
      await engine.close();
    }
  });

  test("memory engine: a fan-out's status names every step in flight, not only the last started", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const server = await startScriptedModelServer(async (call) => {
      await released;
      return { text: `answer of ${call.system}` };
    }, { quiet: true });
    servers.push(server);
    const config = ConfigSchema.parse({
      llm: {
        defaultModel: "openai:scripted",
        providers: { openai: { apiKey: "test", baseURL: server.openaiBaseURL }, anthropic: { apiKey: "test", baseURL: server.anthropicBaseURL } },
      },
      agents: { a: { instruction: "A" }, b: { instruction: "B" }, c: { instruction: "C", model: "anthropic:scripted" } },
      workflows: { fan: { pattern: "parallel", branches: ["a", "b", "c"], failurePolicy: "collect" } },
    });
    const engine = new MemoryEngine(config, runSettingsFromConfig(config), createLogger("test", "silent"));
    try {
      const handle = await engine.start(await findRunTarget(config, "fan"), "go");
      const status = await waitFor("three model calls in flight", async () => {
        const now = await handle.status();
        return now.inFlight?.length === 3 ? now : undefined;
      });
      assert.deepEqual(status.inFlight, ["llm openai:scripted (a)", "llm openai:scripted (b)", "llm anthropic:scripted (c)"]);
      assert.match(statusText(status), /: running — step 3: llm anthropic:scripted \(c\)\n  in flight: llm openai:scripted \(a\), llm openai:scripted \(b\), llm anthropic:scripted \(c\)$/);
      release();
      await handle.result();
      // Interleaved as the branches ran, each message names its agent.
      const lines = historyText(await handle.transcript()).split("\n");
      for (const agent of ["a", "b", "c"]) {
        assert.ok(lines.includes(`[${agent}] user: go`) && lines.includes(`[${agent}] assistant: answer of ${agent.toUpperCase()}`), lines.join("\n"));
      }
      const ended = await handle.status();
      assert.equal(ended.inFlight, undefined);
      assert.doesNotMatch(statusText(ended), /in flight/);
    } finally {
      await engine.close();
    }
  });

  /**
   * A relay of agent a then a child run of b, c and d, each call using `usage`, on the memory engine:
   * under the config's budget all four calls are made; under `start`'s, d is refused with `refusal`.
   */
  async function relayUnderBudget(
    setting: { llm: Record<string, unknown>; execution: Record<string, unknown>; pricing?: Record<string, unknown>; agents?: Record<string, unknown> },
    start: StartOptions,
    refusal: { failureType: string; message: RegExp },
    more?: (engine: MemoryEngine, config: DuragentConfig, server: ScriptedModelServer) => Promise<void>,
  ): Promise<void> {
    const server = await startScriptedModelServer((call) => ({ text: `by ${call.system}`, usage: setting.llm.usage as { inputTokens: number; outputTokens: number } }), { quiet: true });
    servers.push(server);
    const config = ConfigSchema.parse({
      llm: { defaultModel: setting.llm.model, providers: { openai: { apiKey: "test", baseURL: server.openaiBaseURL } } },
      ...(setting.pricing ? { pricing: setting.pricing } : {}),
      execution: setting.execution,
      agents: { a: { instruction: "A" }, b: { instruction: "B" }, c: { instruction: "C" }, d: { instruction: "D" }, ...setting.agents },
      workflows: { relay: { pattern: "chain", steps: ["a", { pattern: "chain", name: "inner", asChildWorkflow: true, steps: ["b", "c", "d"] }] } },
    });
    const engine = new MemoryEngine(config, runSettingsFromConfig(config), createLogger("test", "silent"));
    try {
      const target = await findRunTarget(config, "relay");
      await engine.start(target, "go").then((handle) => handle.result());
      assert.equal(server.requests.length, 4);
      const handle = await engine.start(target, "go", start);
      await assert.rejects(handle.result(), (error: unknown) => {
        assert.ok(error instanceof RunFailed);
        assert.equal(error.failureType, refusal.failureType);
        assert.match(error.message, refusal.message);
        return true;
      });
      assert.deepEqual(server.requests.slice(4).map((request) => (request.body as { messages: { content: string }[] }).messages[0]!.content), ["A", "B", "C"]);
      await more?.(engine, config, server);
    } finally {
      await engine.close();
    }
  }

  test("memory engine: a run past its token budget fails before its next model call, and a child run starts with what is left", async () => {
    // 45 tokens for this run: a spends 20, so the child starts with 25; b and c spend 40 of them, and d is refused.
    await relayUnderBudget({ llm: { model: "openai:scripted", usage: { inputTokens: 15, outputTokens: 5 } }, execution: { tokenBudget: 1000 } }, { tokenBudget: 45 }, {
      failureType: "TokenBudgetSpent",
      message: /d: the run has used 40 tokens, and its budget is 25 \(execution\.tokenBudget, or --token-budget for one run\): it makes no more model calls$/,
    });
  });

  test("memory engine: a run past its cost budget fails before its next model call, priced by the config's pricing; a model without a price is refused first", async () => {
    // $0.045 for this run at $1 per million tokens: a spends $0.02, so the child starts with $0.025; b and c spend $0.04 of it, and d is refused.
    const setting = {
      llm: { model: "openai:gpt-4.1-mini", usage: { inputTokens: 15_000, outputTokens: 5_000 } },
      pricing: { "gpt-4.1-mini": { input: 1, output: 1 } },
      execution: { costBudget: 10 },
      agents: { e: { instruction: "E", model: "openai:gpt-unpriced" } },
    };
    const refusal = {
      failureType: "CostBudgetSpent",
      message: /d: the run has spent \$0\.0400 on model calls, and its budget is \$0\.0250 \(execution\.costBudget, or --cost-budget for one run\): it makes no more model calls$/,
    };
    await relayUnderBudget(setting, { costBudget: 0.045 }, refusal, async (engine, config, server) => {
      const unpriced = await engine.start(await findRunTarget(config, "e"), "go");
      await assert.rejects(unpriced.result(), /e: the run has a cost budget \(execution\.costBudget, or --cost-budget\), and openai:gpt-unpriced has no price to count its calls by: add it under pricing: in the config/);
      assert.equal(server.requests.length, 7);
    });
  });

  test("memory engine: cancelling a fan-out while its branches wait ends the run cancelled, under either failure policy", async () => {
    const usage = { inputTokens: 50, outputTokens: 5 };
    const server = await startScriptedModelServer(() => ({ toolCalls: [{ name: "human_input", arguments: { question: "Which colour?" } }], usage }), { quiet: true });
    servers.push(server);
    for (const failurePolicy of ["fail", "collect"] as const) {
      const config = ConfigSchema.parse({
        llm: { defaultModel: "openai:scripted", providers: { openai: { apiKey: "test", baseURL: server.openaiBaseURL } } },
        agents: { asker: { instruction: "You ask.", humanInput: true } },
        workflows: { fan: { pattern: "parallel", failurePolicy, branches: ["asker", { pattern: "chain", name: "inner", asChildWorkflow: true, steps: ["asker"] }] } },
      });
      const engine = new MemoryEngine(config, runSettingsFromConfig(config), createLogger("test", "silent"));
      try {
        const handle = await engine.start(await findRunTarget(config, "fan"), "paint");
        await waitFor("both branches asking", async () => ((await handle.status()).pending.length === 2 ? true : undefined));
        await handle.cancel();
        await assert.rejects(handle.result(), (error: unknown) => {
          assert.ok(error instanceof RunFailed, String(error));
          assert.equal(error.phase, "cancelled", `${failurePolicy}: ${error.message}`);
          return true;
        });
        const status = await handle.status();
        assert.equal(status.phase, "cancelled");
        // Both branches' model calls count, the cancelled child run's too.
        assert.deepEqual(status.usage, { "openai:scripted": { inputTokens: 100, outputTokens: 10 } });
      } finally {
        await engine.close();
      }
    }
  });

  test("memory engine: under failurePolicy fail, the first failed branch cancels the others, in-process and child runs, and the run fails at once", async () => {
    let breakNow: (() => void) | undefined;
    const server = await startScriptedModelServer((call) => {
      if (call.system === "You break.") return new Promise((resolve) => (breakNow = () => resolve({ error: { status: 400, message: "This model does not exist." } })));
      return { toolCalls: [{ name: "human_input", arguments: { question: "Which colour?" } }] };
    }, { quiet: true });
    servers.push(server);
    const config = ConfigSchema.parse({
      llm: { defaultModel: "openai:scripted", providers: { openai: { apiKey: "test", baseURL: server.openaiBaseURL } } },
      agents: { asker: { instruction: "You ask.", humanInput: true }, broken: { instruction: "You break." } },
      workflows: { fan: { pattern: "parallel", branches: ["asker", { pattern: "chain", name: "asking", asChildWorkflow: true, steps: ["asker"] }, "broken"] } },
    });
    const engine = new MemoryEngine(config, runSettingsFromConfig(config), createLogger("test", "silent"));
    try {
      const handle = await engine.start(await findRunTarget(config, "fan"), "paint");
      await waitFor("both askers' questions", async () => ((await handle.status()).pending.length === 2 && breakNow ? true : undefined));
      breakNow!();
      await assert.rejects(handle.result(), (error: unknown) => {
        assert.ok(error instanceof RunFailed, String(error));
        assert.equal(error.phase, "failed");
        assert.equal(error.failureType, "ParallelBranchFailed");
        assert.match(error.message, /fan: 1 of 3 branches failed \(2 others were cancelled\); first: broken: .*This model does not exist/);
        return true;
      });
      const status = await handle.status();
      assert.deepEqual(status.pending, []);
      assert.deepEqual(status.childSteps?.map((child) => [child.run, child.ended]), [["asking-1", "cancelled"]]);
      // Nothing asked a model again once the fan-out failed: the two questions and the failure.
      assert.equal(server.requests.length, 3);
    } finally {
      await engine.close();
    }
  });

  test("memory engine: a fan-out that failed fast ends a branch waiting out a retry's backoff at once, and starts no queued branch", async () => {
    let breakNow: (() => void) | undefined;
    const asked: (string | undefined)[] = [];
    const server = await startScriptedModelServer((call) => {
      asked.push(call.system);
      if (call.system === "You break.") return new Promise((resolve) => (breakNow = () => resolve({ error: { status: 400, message: "This model does not exist." } })));
      if (call.system === "You flake.") return { error: { status: 503, message: "Overloaded." } };
      return { text: "queued branch ran" };
    }, { quiet: true });
    servers.push(server);
    const config = ConfigSchema.parse({
      llm: { defaultModel: "openai:scripted", providers: { openai: { apiKey: "test", baseURL: server.openaiBaseURL } } },
      // A backoff no test would wait out: the fan-out's failure must end it.
      execution: { llm: { maximumAttempts: 5, initialIntervalMs: 600_000, maximumIntervalMs: 600_000 } },
      agents: { broken: { instruction: "You break." }, flaky: { instruction: "You flake." }, later: { instruction: "You come later." } },
      workflows: { fan: { pattern: "parallel", concurrency: 2, branches: ["broken", "flaky", { pattern: "chain", name: "queued", asChildWorkflow: true, steps: ["later"] }] } },
    });
    const engine = new MemoryEngine(config, runSettingsFromConfig(config), createLogger("test", "silent"));
    try {
      const handle = await engine.start(await findRunTarget(config, "fan"), "go");
      await waitFor("the flaky branch waiting to retry", async () => ((await handle.status()).retrying && breakNow ? true : undefined));
      breakNow!();
      await assert.rejects(handle.result(), (error: unknown) => {
        assert.ok(error instanceof RunFailed, String(error));
        assert.equal(error.failureType, "ParallelBranchFailed");
        assert.match(error.message, /fan: 1 of 3 branches failed \(2 others were cancelled\); first: broken: /);
        return true;
      });
      const status = await handle.status();
      // The failure that ended the run is the one shown, not a cancelled step's.
      assert.match(status.lastError ?? "", /^fan: 1 of 3 branches failed/);
      assert.equal(status.childSteps, undefined);
      assert.deepEqual(asked, ["You break.", "You flake."]);
    } finally {
      await engine.close();
    }
  });

  test("memory engine: a child run the status lists is reached by its id: its status, its question, its answer and its result", async () => {
    const server = await startScriptedModelServer((call) => {
      const answer = call.messages.find((message) => message.role === "tool");
      return answer ? { text: `colour ${textOf(answer.content)}` } : { toolCalls: [{ name: "human_input", arguments: { question: "Which colour?" } }] };
    }, { quiet: true });
    servers.push(server);
    const config = ConfigSchema.parse({
      llm: { defaultModel: "openai:scripted", providers: { openai: { apiKey: "test", baseURL: server.openaiBaseURL } } },
      agents: { asker: { instruction: "You ask.", humanInput: true } },
      workflows: { outer: { pattern: "chain", steps: [{ pattern: "chain", name: "inner", asChildWorkflow: true, steps: ["asker"] }] } },
    });
    const client = new DuragentClient(config, createLogger("test", "silent"));
    try {
      const handle = await client.start("outer", "paint");
      const status = await waitFor("the child run to ask", async () => {
        const read = await handle.status();
        return read.pending.length === 1 ? read : undefined;
      });
      assert.deepEqual(status.children, [`${handle.runId}/inner-1`]);
      const child = await client.getHandle(status.children![0]!);
      assert.equal(child.runId, `${handle.runId}/inner-1`);
      const own = await child.status();
      assert.deepEqual([own.phase, own.pending.map((request) => request.id)], ["waiting_input", ["input-1"]]);
      await child.answer({ value: "teal" });
      assert.match(JSON.stringify(await child.result()), /colour teal/);
      assert.match(String((await handle.result() as { text: string }).text), /colour teal/);
      await assert.rejects(client.getHandle(`${handle.runId}/nope-1`), (error: unknown) => error instanceof RunNotFound);
    } finally {
      await client.close();
    }
  });

  test("memory engine: what a failed child run spent counts in its parent's usage", async () => {
    const server = await startScriptedModelServer(
      (call) => {
        if (call.system === "You break.") return { error: { status: 400, message: "bad request" } };
        return { text: "done", usage: call.system === "You scout." ? { inputTokens: 200, outputTokens: 20 } : { inputTokens: 100, outputTokens: 10 } };
      },
      { quiet: true },
    );
    servers.push(server);
    const config = ConfigSchema.parse({
      llm: { defaultModel: "openai:scripted", providers: { openai: { apiKey: "test", baseURL: server.openaiBaseURL } } },
      agents: { writer: { instruction: "You write." }, scout: { instruction: "You scout." }, breaker: { instruction: "You break." } },
      workflows: {
        fan: {
          pattern: "parallel",
          failurePolicy: "collect",
          branches: [
            { pattern: "chain", name: "good", asChildWorkflow: true, steps: ["writer"] },
            { pattern: "chain", name: "bad", asChildWorkflow: true, steps: ["scout", "breaker"] },
          ],
        },
      },
    });
    const engine = new MemoryEngine(config, runSettingsFromConfig(config), createLogger("test", "silent"));
    try {
      const handle = await engine.start(await findRunTarget(config, "fan"), "go");
      const result = (await handle.result()) as { text: string; usage: unknown };
      assert.match(result.text, /## bad\n\(failed: breaker: openai rejected the request \(400\)/);
      const spent = { "openai:scripted": { inputTokens: 300, outputTokens: 30 } };
      assert.deepEqual(result.usage, spent);
      assert.deepEqual((await handle.status()).usage, spent);
    } finally {
      await engine.close();
    }
  });

  test("memory engine: a paused run starts no child run until it is resumed", async () => {
    let scoutCalled!: () => void;
    let releaseScout!: () => void;
    const scoutCall = new Promise<void>((resolve) => (scoutCalled = resolve));
    const server = await startScriptedModelServer(
      (call) => {
        if (call.system !== "You scout.") return { text: `written from: ${textOf(call.messages.at(-1)?.content ?? "")}` };
        scoutCalled();
        return new Promise((resolve) => (releaseScout = () => resolve({ text: "The bay is calm." })));
      },
      { quiet: true },
    );
    servers.push(server);
    const config = ConfigSchema.parse({
      llm: { defaultModel: "openai:scripted", providers: { openai: { apiKey: "test", baseURL: server.openaiBaseURL } } },
      agents: { scout: { instruction: "You scout." }, writer: { instruction: "You write." } },
      workflows: { survey: { pattern: "chain", steps: ["scout", { pattern: "chain", name: "inner", asChildWorkflow: true, steps: ["writer"] }] } },
    });
    const engine = new MemoryEngine(config, runSettingsFromConfig(config), createLogger("test", "silent"));
    try {
      const handle = await engine.start(await findRunTarget(config, "survey"), "Survey the bay.");
      await scoutCall;
      await handle.pause();
      releaseScout();
      // The scout's answer is in (its tokens are counted); the child would start next.
      await waitFor("the scout's answer", async () => (Object.keys((await handle.status()).usage).length > 0 ? true : undefined));
      await new Promise((resolve) => setImmediate(resolve));
      const paused = await handle.status();
      assert.equal(paused.phase, "paused");
      assert.deepEqual(paused.children ?? [], []);
      assert.equal(server.requests.length, 1);
      await handle.resume();
      assert.equal(((await handle.result()) as { text: string }).text, "written from: The bay is calm.");
      assert.equal(server.requests.length, 2);
    } finally {
      await engine.close();
    }
  });

  test("the config names the missing agent at load, with the path to it", () => {
    const parsed = ConfigSchema.safeParse({
      agents: { a: { instruction: "x" } },
      workflows: { r: { pattern: "chain", steps: ["a", { pattern: "parallel", branches: ["nobody"] }] } },
    });
    assert.equal(parsed.success, false);
    assert.deepEqual(
      parsed.error?.issues.map((issue) => [issue.path.join("."), issue.message]),
      [["workflows.r.steps.1.branches.0", 'no agent named "nobody" in agents (defined: a)']],
    );
  });

  test("a swarm's start, handoffs and agents are checked at load: an unknown name or a name twice is refused there, not mid-run", () => {
    const parsed = ConfigSchema.safeParse({
      agents: { a: { instruction: "x" }, b: { instruction: "y" } },
      workflows: { desk: { pattern: "swarm", agents: ["a", "b", "a", { name: "c", instruction: "z", handoffs: ["a", "ghost"] }], start: "d" } },
    });
    assert.equal(parsed.success, false);
    assert.deepEqual(
      parsed.error?.issues.map((issue) => [issue.path.join("."), issue.message]),
      [
        ["workflows.desk.agents.2", '"a" is already one of the swarm\'s agents'],
        ["workflows.desk.start", 'no agent "d" in the swarm (its agents are a, b, a, c)'],
        ["workflows.desk.agents.3.handoffs.1", 'no agent "ghost" in the swarm to hand off to (its agents are a, b, a, c)'],
      ],
    );
  });
});

describe("patterns with MCP servers", () => {
  test("a router can choose an MCP server, and a swarm offers handoffs alongside MCP tools", async () => {
    const mcp = new McpConnectionPool({ everything: everythingServer() });
    try {
      const { ctx, server } = await harness((call) => {
        const tools = call.messages.filter((message) => message.role === "tool");
        if (call.system?.startsWith("You route")) {
          return { text: JSON.stringify({ choices: [{ name: "everything", confidence: 0.9 }, { name: "upper", confidence: Number.NaN }] }) };
        }
        if (call.system?.includes("'everything' server")) {
          if (tools.length === 0) return { toolCalls: [{ name: "everything_echo", arguments: { message: "routed" } }] };
          return { text: `server says ${JSON.stringify(tools[0]?.content)}` };
        }
        if (call.system?.startsWith("You handle billing.")) return { text: `tools: ${call.tools.filter((name) => !name.startsWith("everything_") || name === "everything_echo").join(",")}` };
        return { toolCalls: [{ name: "transfer_to_billing", arguments: {} }] };
      }, mcp);
      const router = buildPattern(ctx, {
        pattern: "router",
        servers: [{ name: "everything", description: "echo and arithmetic tools" }],
        candidates: [{ function: "headline", name: "upper" }],
      }) as Router;
      const routed = await router.generateStr("echo something");
      assert.match(routed, /server says .*routed/);

      const swarm = buildPattern(ctx, {
        pattern: "swarm",
        agents: [
          { name: "triage", instruction: "You triage requests." },
          { name: "billing", instruction: "You handle billing.", servers: ["everything"], handoffs: [] },
        ],
      });
      assert.equal(await swarm.generateStr("help"), "tools: everything_echo,set_context_variables");
      assert.deepEqual(server.errors, []);
    } finally {
      await mcp.closeAll();
    }
  });
});
