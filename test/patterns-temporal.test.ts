/**
 * The patterns on a real Temporal server: every pattern through `patternWorkflow` with a scripted
 * model, a 50-branch fan-out under its concurrency limit, and a nested composition whose
 * children are checked through the Temporal client.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { WorkflowFailedError } from "@temporalio/client";
import { ApplicationFailure } from "@temporalio/common";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { Worker, type WorkflowBundle } from "@temporalio/worker";
import { nestedScenario, scenarios, type Scenario } from "../examples/patterns/scenarios.js";
import type { RunTarget } from "../src/client/run-targets.js";
import { RunFailed, type StartOptions } from "../src/client/engine.js";
import { resultNote } from "../src/cli/command-output.js";
import type { TemporalEngine } from "../src/client/temporal-engine.js";
import { textOf } from "../src/common/messages.js";
import { startScriptedModelServer, type ModelScript, type ScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { bundleWorkflows } from "./support/runtime.js";
import { patternWorkflow } from "../src/workflows/builtin-workflows.js";
import type { DuragentWorkflow, PatternRunResult, PatternSpec } from "../src/workflows/index.js";
import { testConfig, withTemporalWorker } from "./support/runtime.js";
import { startTestTemporal } from "./support/temporal.js";
import { waitFor, waitForPhase } from "./support/wait.js";
import { historyText } from "../src/cli/commands/history.js";
import type { TranscriptMessage } from "../src/common/messages.js";

const functionsModule = fileURLToPath(new URL("../examples/patterns/functions.ts", import.meta.url));

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundle;

before(async () => {
  [env, bundle] = await Promise.all([startTestTemporal(), bundleWorkflows([functionsModule])]);
});
after(async () => {
  await env?.teardown();
});

interface TemporalRun {
  runId: string;
  result?: PatternRunResult;
  error?: unknown;
  model: ScriptedModelServer;
}

async function runPattern(
  spec: PatternSpec,
  input: string,
  script: ModelScript,
  /** Runs after the start, before waiting for the result: e.g. to answer a person's question. */
  during?: (engine: TemporalEngine, runId: string) => Promise<void>,
  startOptions: StartOptions = {},
): Promise<TemporalRun> {
  const model = await startScriptedModelServer(script, { quiet: true });
  const config = testConfig(model, { llm: { defaultModel: "openai:scripted" }, execution: { llm: { maximumAttempts: 1 } } });
  const target: RunTarget = { kind: "pattern", name: spec.name ?? spec.pattern, spec, workflow: patternWorkflow as DuragentWorkflow };
  try {
    return await withTemporalWorker(
      env,
      config,
      async (engine) => {
        const handle = await engine.start(target, input, startOptions);
        if (during) await during(engine, handle.runId);
        try {
          return { runId: handle.runId, result: (await handle.result()) as PatternRunResult, model };
        } catch (error) {
          return { runId: handle.runId, error, model };
        }
      },
      { workflowBundle: bundle },
    );
  } finally {
    await model.close();
  }
}

/** What the Web UI shows as a run's "Current Details", read as it reads them. */
async function currentDetailsOf(workflowId: string): Promise<string | undefined> {
  const metadata = await env.client.workflow.getHandle(workflowId).query<{ currentDetails?: string }>("__temporal_workflow_metadata");
  return metadata.currentDetails;
}

async function runScenario(scenario: Scenario): Promise<TemporalRun & { text: string }> {
  const run = await runPattern(scenario.spec, scenario.input, scenario.script);
  assert.equal(run.error, undefined, String(run.error));
  assert.deepEqual(run.model.errors, []);
  return { ...run, text: run.result?.text ?? "" };
}

/** Replays a finished run's history against the current workflow code: any nondeterminism throws. */
async function replay(workflowId: string): Promise<void> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  await Worker.runReplayHistory({ workflowBundle: bundle }, history, workflowId);
}

function requestsMentioning(model: ScriptedModelServer, text: string): number {
  return model.requests.filter((request) => JSON.stringify(request.body).includes(text)).length;
}

describe("each pattern on Temporal", () => {
  test("chain feeds each step the previous output", async () => {
    // The Web UI and `temporal workflow metadata` describe every query, signal and update a run takes.
    type Definitions = { name: string; description?: string }[];
    let definitions!: { queryDefinitions: Definitions; signalDefinitions: Definitions; updateDefinitions: Definitions };
    let transcript!: TranscriptMessage[];
    const run = await runPattern(scenarios.chain.spec, scenarios.chain.input, scenarios.chain.script, async (engine, runId) => {
      ({ definition: definitions } = await env.client.workflow.getHandle(runId).query<{ definition: typeof definitions }>("__temporal_workflow_metadata"));
      const handle = await engine.getHandle(runId);
      await handle.result();
      transcript = await handle.transcript();
    });
    assert.equal(run.result?.text, "# draft(outline(durable agents))");
    // `history` says which agent each message belongs to.
    assert.equal(
      historyText(transcript),
      ["[outliner] user: durable agents", "[outliner] assistant: outline(durable agents)", "[drafter] user: outline(durable agents)", "[drafter] assistant: draft(outline(durable agents))"].join("\n"),
    );
    const { queryDefinitions, signalDefinitions, updateDefinitions } = definitions;
    for (const { name, description } of [...queryDefinitions, ...signalDefinitions, ...updateDefinitions]) {
      if (!name.startsWith("__")) assert.ok(description, `${name} has no description`);
    }
    assert.ok(signalDefinitions.some((signal) => signal.name === "duragent.pause" && /Holds the run/.test(signal.description ?? "")));
    assert.ok(updateDefinitions.some((update) => update.name === "duragent.input" && /Answers a pending question/.test(update.description ?? "")));
  });

  test("parallel keeps at most `concurrency` model calls in flight", async () => {
    const run = await runScenario(scenarios.parallel);
    assert.equal(run.text, "joined: one two three four five six");
    assert.equal(run.model.maxInFlight, 2);
  });

  test("router drops invalid choices and hands over to the best valid one", async () => {
    const run = await runScenario(scenarios.router);
    assert.equal(run.text, "tech: hold the power button (My laptop will not start)");
    // The billing agent was never called: no request carries its instruction as the system prompt.
    assert.equal(requestsMentioning(run.model, '"content":"You handle billing questions."'), 0);
    assert.equal(requestsMentioning(run.model, '"content":"You handle technical problems."'), 1);
  });

  test("intent classifier returns the top-k known intents", async () => {
    const run = await runScenario(scenarios["intent-classifier"]);
    assert.deepEqual(
      (JSON.parse(run.text) as { intent: string; confidence: number }[]).map((match) => [match.intent, match.confidence]),
      [["order_status", 0.85], ["complaint", 0.6]],
    );
  });

  test("orchestrator re-asks about an unknown worker once, then runs the plan", async () => {
    const run = await runScenario(scenarios.orchestrator);
    assert.equal(run.text, "final answer from 2 results");
    assert.equal(requestsMentioning(run.model, "unknown worker(s): editor"), 1);
  });

  test("orchestrator fails the run, without retrying, when the planner names an unknown worker twice", async () => {
    const plan = { isComplete: false, steps: [{ description: "s", tasks: [{ worker: "ghost", description: "t" }] }] };
    const spec: PatternSpec = { pattern: "orchestrator", workers: [{ function: "count-lines" }] };
    const run = await runPattern(spec, "goal", () => ({ text: JSON.stringify(plan) }));
    assert.ok(run.error instanceof RunFailed, String(run.error));
    const failure = run.error.cause;
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof ApplicationFailure, String(failure));
    assert.equal(failure.cause.type, "PlanInvalid");
    assert.match(failure.cause.message, /ghost.*Available workers: count-lines/);
    assert.equal(run.model.requests.length, 2);
  });

  test("orchestrator whose plan lists steps and declares itself complete runs none of them, and says so", async () => {
    const spec: PatternSpec = { pattern: "orchestrator", workers: [{ function: "count-lines" }] };
    const plan = { isComplete: true, steps: [{ description: "count", tasks: [{ worker: "count-lines", description: "count" }] }] };
    const run = await runPattern(spec, "count the lines", (call) => (call.responseFormat ? { text: JSON.stringify(plan) } : { text: "nothing was counted" }));
    assert.equal(run.result?.text, "nothing was counted");
    assert.deepEqual(run.result?.orchestration, { iterations: 1, complete: true, unrunSteps: 1 });
    assert.equal(requestsMentioning(run.model, "ran none of the 1 step(s) it last planned"), 1, "the synthesizer is told");
    assert.equal(resultNote(run.result), "the planner declared the objective complete in the plan that listed 1 more step, so none of them ran.");
    await replay(run.runId);
  });

  test("orchestrator stops at its iteration cap and still synthesizes", async () => {
    const spec: PatternSpec = { pattern: "orchestrator", planMode: "iterative", maxIterations: 2, workers: [{ function: "count-lines" }] };
    const step = { isComplete: false, steps: [{ description: "again", tasks: [{ worker: "count-lines", description: "count" }] }] };
    const run = await runPattern(spec, "never done", (call) =>
      call.responseFormat ? { text: JSON.stringify(step) } : { text: "partial answer" },
    );
    assert.equal(run.result?.text, "partial answer");
    assert.deepEqual(run.result?.orchestration, { iterations: 2, complete: false });
    assert.equal(run.model.requests.length, 3);
    assert.equal(requestsMentioning(run.model, "iteration cap"), 1);
    // The run ends saying so; `duragent run` prints it beside the answer.
    assert.match(resultNote(run.result) ?? "", /planning stopped at its cap of 2 iterations/);
  });

  test("evaluator-optimizer stops at maxRefinements and returns the best-rated draft", async () => {
    const run = await runScenario(scenarios["evaluator-optimizer"]);
    assert.equal(run.text, "slogan draft 2");
    assert.equal(run.model.requests.length, 6);
    assert.deepEqual(run.result?.evaluation, { stopReason: "max-refinements", attempts: 3, bestRating: "good", minRating: "excellent" });
    assert.match(resultNote(run.result) ?? "", /no answer reached the rating 'excellent' in 3 attempts; this is the best, rated 'good'/);
    await replay(run.runId);
  });

  test("swarm hands off with shared context and ends when an agent answers", async () => {
    const run = await runScenario(scenarios.swarm);
    assert.equal(run.text, "refunded account 42 (tools: transfer_to_triage,set_context_variables)");
    assert.equal(run.model.requests.length, 2);
  });
});

describe("scale and nesting on Temporal", () => {
  test("a 50-branch fan-out completes and respects its concurrency limit", async () => {
    const items = Array.from({ length: 50 }, (_, index) => `item-${index + 1}`);
    const spec: PatternSpec = { pattern: "parallel", name: "wide", map: { name: "worker", instruction: "You echo." }, concurrency: 5 };
    const started = Date.now();
    let inFlight: string[] | undefined;
    const run = await runPattern(
      spec,
      JSON.stringify(items),
      (call) => {
        const user = call.messages.find((message) => message.role === "user");
        return { text: `done ${typeof user?.content === "string" ? user.content : ""}`, delayMs: 40 };
      },
      // The run's status names the branches' steps in flight, several at once.
      async (engine, runId) => {
        inFlight = await waitFor("several steps in flight", async () => {
          const status = await (await engine.getHandle(runId)).status();
          return (status.inFlight?.length ?? 0) > 1 ? status.inFlight : undefined;
        });
      },
    );
    assert.ok(inFlight!.length <= 5 && inFlight!.every((label) => label === "llm openai:scripted (worker)"), JSON.stringify(inFlight));
    assert.equal(run.error, undefined, String(run.error));
    const text = run.result?.text ?? "";
    for (const item of items) assert.ok(text.includes(`done ${item}\n`) || text.endsWith(`done ${item}`), item);
    assert.equal(run.model.requests.length, 50);
    assert.ok(run.model.maxInFlight <= 5, `max in flight ${run.model.maxInFlight}`);
    assert.equal(run.model.maxInFlight, 5);
    console.log(`50-branch fan-out on Temporal: ${Date.now() - started} ms`);
    // The semaphore releases branches in history order, so the run replays identically.
    await replay(run.runId);
  });

  test("orchestrator → evaluator-optimizer → parallel runs as a tree of child workflows", async () => {
    let tree!: TranscriptMessage[];
    const run = await runPattern(nestedScenario.spec, nestedScenario.input, nestedScenario.script, async (engine, runId) => {
      const handle = await engine.getHandle(runId);
      await handle.result();
      // The whole tree's messages, each child's after its parent's (visibility lists children a moment late).
      tree = await waitFor("the tree's transcript", async () => {
        const messages = await handle.transcript({ childRuns: true });
        return messages.some((message) => message.runId?.endsWith("/brainstorm-1")) ? messages : undefined;
      });
    });
    assert.equal(run.error, undefined, String(run.error));
    assert.equal(run.result?.text, "campaign ready: picked pun");
    const sections = tree.map((message) => message.runId).filter((id, index, all) => index === 0 || id !== all[index - 1]);
    assert.deepEqual(sections, [undefined, `${run.runId}/studio-1`, `${run.runId}/studio-1/brainstorm-1`]);
    const inBrainstorm = tree.filter((message) => message.runId === `${run.runId}/studio-1/brainstorm-1`);
    assert.deepEqual([...new Set(inBrainstorm.map((message) => message.agent))].sort(), ["picker", "poet", "punster"]);
    assert.ok(inBrainstorm.some((message) => message.role === "assistant" && message.content === "picked pun"));
    assert.ok(tree.filter((message) => message.runId === `${run.runId}/studio-1`).every((message) => message.agent === "critic"));
    const text = historyText(tree).split("\n");
    assert.ok(text.includes(`── ${run.runId}/studio-1/brainstorm-1`), text.join("\n"));

    const studioId = `${run.runId}/studio-1`;
    const brainstormId = `${studioId}/brainstorm-1`;
    const studio = await env.client.workflow.getHandle(studioId).describe();
    const brainstorm = await env.client.workflow.getHandle(brainstormId).describe();
    assert.equal(studio.type, "patternWorkflow");
    assert.equal(studio.parentExecution?.workflowId, run.runId);
    assert.equal(studio.status.name, "COMPLETED");
    assert.equal(brainstorm.parentExecution?.workflowId, studioId);
    assert.equal(brainstorm.status.name, "COMPLETED");

    // Visibility lists the same tree (it is eventually consistent, so poll briefly).
    const children = await waitFor("the child in visibility", async () => {
      const found: string[] = [];
      for await (const execution of env.client.workflow.list({ query: `ParentWorkflowId = "${run.runId}"` })) found.push(execution.workflowId);
      return found.length > 0 ? found : undefined;
    });
    assert.deepEqual(children, [studioId]);

    // Each history holds only its own steps: the parent has no model calls of its children.
    const history = await env.client.workflow.getHandle(run.runId).fetchHistory();
    const events = history.events ?? [];
    assert.equal(events.filter((event) => event.startChildWorkflowExecutionInitiatedEventAttributes).length, 1);
    assert.equal(events.filter((event) => event.activityTaskScheduledEventAttributes).length, 3); // plan, plan, synthesis
    for (const id of [run.runId, studioId, brainstormId]) await replay(id);

    // The root's usage counts every model call in the tree, its children's included.
    const served = run.model.requests.reduce(
      (total, request) => total + ((request.response?.body as { usage?: { completion_tokens?: number } }).usage?.completion_tokens ?? 0),
      0,
    );
    const usage = Object.values(run.result?.usage ?? {});
    assert.equal(usage.reduce((total, entry) => total + entry.outputTokens, 0), served);
    assert.ok(served > 0);
  });

  test("a person answers an agent's human_input inside a pattern running as a child workflow, through the parent run", async () => {
    const spec: PatternSpec = {
      pattern: "chain",
      name: "trip",
      steps: [
        { pattern: "chain", name: "inner", asChildWorkflow: true, steps: [{ name: "planner", instruction: "You plan trips.", humanInput: true }] },
        { function: "headline" },
      ],
    };
    const script: ModelScript = (call) => {
      const answer = call.messages.find((message) => message.role === "tool");
      if (!answer) return { toolCalls: [{ name: "human_input", arguments: { question: "Which city?" } }] };
      return { text: `Going to ${textOf(answer.content)}` };
    };
    const run = await runPattern(spec, "plan a trip", script, async (engine, runId) => {
      // The question is asked by the child run, and shown by the parent too.
      const child = await waitFor("the child run", () => engine.getHandle(`${runId}/inner-1`).catch(() => undefined));
      const asking = await waitForPhase(child, "waiting_input");
      assert.equal(asking.pending[0]?.prompt, "Which city?");
      const parent = await engine.getHandle(runId);
      assert.deepEqual((await parent.status()).pending.map((request) => [request.id, request.prompt]), [["inner-1/input-1", "Which city?"]]);
      // The Web UI's details of the parent say so too, with the command that answers it.
      const details = await waitFor("the parent's details to name the child's question", async () => {
        const text = (await currentDetailsOf(runId)) ?? "";
        return text.includes("Which city?") ? text : undefined;
      });
      assert.match(details, /\*\*Question\*\* in child run `inner-1`: Which city\?/);
      assert.ok(details.includes(`duragent answer ${runId} --value`), details);
      // The parent waits for the answer as its child does: its status, its details and its
      // DuragentPhase say so, so `list --phase waiting_input` finds it.
      assert.equal((await parent.status()).phase, "waiting_input");
      assert.match(details, /^\*\*waiting for an answer\*\*/);
      const listedWaiting = () => waitFor("the parent listed as waiting for input", async () => ((await engine.list(20, { phase: "waiting_input" })).some((run) => run.runId === runId) ? true : undefined));
      await listedWaiting();
      // Listed with its usage, the parent says what it waits for, as its status does: its child's question.
      const everyRun = await engine.list(20, { usage: true });
      const listed = everyRun.find((run) => run.runId === runId);
      assert.deepEqual(listed?.pending?.map((request) => request.id), ["inner-1/input-1"]);
      // The child is listed by the name its id gives it, not as its workflow type.
      assert.equal(everyRun.find((run) => run.runId === `${runId}/inner-1`)?.target, "inner");
      // A report from no child in flight, or one that is not a report, changes nothing and breaks nothing.
      const raw = env.client.workflow.getHandle(runId);
      await raw.signal("duragent.childWaits", { nonsense: true });
      await raw.signal("duragent.childWaits", { child: `${runId}/ghost-1`, pending: [{ kind: "input", id: "input-9", prompt: "Ghost?" }], sequence: 99 });
      assert.equal((await raw.describe()).status.name, "RUNNING");
      assert.ok(!((await currentDetailsOf(runId)) ?? "").includes("Ghost?"));
      // Pausing the parent holds the child too; resuming it lets the child go on.
      await parent.pause();
      assert.equal((await child.status()).phase, "paused");
      assert.equal((await parent.status()).phase, "paused");
      await parent.resume();
      await waitFor("the resumed parent to wait for the answer again", async () => ((await parent.status()).phase === "waiting_input" ? true : undefined));
      await listedWaiting();
      // Answered through the parent, without naming the request: the child's is the only one.
      await parent.answer({ value: "Lisbon" });
      // Answered, the question leaves the parent's details.
      await waitFor("the question to leave the parent's details", async () => (((await currentDetailsOf(runId)) ?? "").includes("Which city?") ? undefined : true));
    });
    assert.equal(run.error, undefined, String(run.error));
    assert.equal(run.result?.text, "# Going to Lisbon");
    // What the parent told the server, in order: its child's question, the pause, the question
    // again, then running once answered.
    const phases: string[] = [];
    for (const event of (await env.client.workflow.getHandle(run.runId).fetchHistory()).events ?? []) {
      const field = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.DuragentPhase;
      if (field?.data) phases.push(JSON.parse(Buffer.from(field.data).toString("utf8")) as string);
    }
    assert.deepEqual(phases.slice(0, 4), ["waiting_input", "paused", "waiting_input", "running"]);
    await replay(run.runId);
  });

  test("a question two child runs deep reaches the root's Web UI details, by the path to it", async () => {
    const spec: PatternSpec = {
      pattern: "chain",
      name: "trip",
      steps: [
        {
          pattern: "chain",
          name: "outer",
          asChildWorkflow: true,
          steps: [{ pattern: "chain", name: "deep", asChildWorkflow: true, steps: [{ name: "planner", instruction: "You plan trips.", humanInput: true }] }],
        },
      ],
    };
    const script: ModelScript = (call) => {
      const answer = call.messages.find((message) => message.role === "tool");
      return answer ? { text: `Going to ${textOf(answer.content)}` } : { toolCalls: [{ name: "human_input", arguments: { question: "Which city?" } }] };
    };
    const run = await runPattern(spec, "plan a trip", script, async (engine, runId) => {
      const details = await waitFor("the root's details to name the grandchild's question", async () => {
        const text = (await currentDetailsOf(runId)) ?? "";
        return text.includes("Which city?") ? text : undefined;
      });
      assert.match(details, /\*\*Question\*\* in child run `outer-1`: Which city\?/);
      const parent = await engine.getHandle(runId);
      const [pending] = (await parent.status()).pending;
      assert.equal(pending?.id, "outer-1/deep-1/input-1");
      await parent.answer({ value: "Porto" });
      await waitFor("the question to leave the root's details", async () => (((await currentDetailsOf(runId)) ?? "").includes("Which city?") ? undefined : true));
    });
    assert.equal(run.error, undefined, String(run.error));
    assert.equal(run.result?.text, "Going to Porto");
  });

  test("a fan-out whose branches ask people: an answer that names no question lists theirs, and a branch cancelled alone is a failed branch", async () => {
    const asker = { name: "asker", instruction: "You ask.", humanInput: true };
    const spec: PatternSpec = {
      pattern: "parallel",
      name: "fan",
      failurePolicy: "collect",
      branches: ["b1", "b2", "b3"].map((name) => ({ pattern: "chain" as const, name, asChildWorkflow: true, steps: [asker] })),
    };
    const script: ModelScript = (call) => {
      const answer = call.messages.find((message) => message.role === "tool");
      return answer ? { text: `colour ${textOf(answer.content)}` } : { toolCalls: [{ name: "human_input", arguments: { question: "Which colour?" } }] };
    };
    const run = await runPattern(spec, "paint", script, async (engine, runId) => {
      const parent = await engine.getHandle(runId);
      await waitFor("three child questions", async () => ((await parent.status()).pending.length === 3 ? true : undefined));
      // The run has no question of its own: an answer naming none says which there are.
      await assert.rejects(parent.answer({ value: "red" }), (error: Error) => {
        assert.equal(error.name, "InvalidRunMessage");
        assert.match(error.message, /^Several requests are pending \(b\d-1\/input-1, b\d-1\/input-1, b\d-1\/input-1\); name one \(`--request <id>` on the CLI, `requestId` in code and in serve's tools\)\.$/);
        return true;
      });
      await parent.answer({ requestId: "b1-1/input-1", value: "red" });
      // One branch cancelled on its own fails that branch; the run goes on.
      await (await engine.getHandle(`${runId}/b2-1`)).cancel();
      await waitFor("the cancelled branch to leave the parent's questions", async () => {
        const pending = (await parent.status()).pending.map((request) => request.id);
        return pending.length === 1 ? pending : undefined;
      });
      assert.equal((await env.client.workflow.getHandle(runId).describe()).status.name, "RUNNING");
      await parent.answer({ value: "blue" });
    });
    assert.equal(run.error, undefined, String(run.error));
    assert.match(run.result?.text ?? "", /^## b1\ncolour red\n\n## b2\n\(failed: cancelled\)\n\n## b3\ncolour blue$/);
    await replay(run.runId);
  });

  test("under failurePolicy fail, the first failed branch cancels the others: a branch waiting for a person stops asking, and the run fails at once, naming the failure", async () => {
    const spec: PatternSpec = {
      pattern: "parallel",
      name: "fan",
      branches: [{ pattern: "chain", name: "asking", asChildWorkflow: true, steps: [{ name: "asker", instruction: "You ask.", humanInput: true }] }, { name: "broken", instruction: "You break." }],
    };
    let breakNow: (() => void) | undefined;
    const script: ModelScript = (call) => {
      if (call.system === "You break.") return new Promise((resolve) => (breakNow = () => resolve({ error: { status: 400, message: "This model does not exist." } })));
      return { toolCalls: [{ name: "human_input", arguments: { question: "Which colour?" } }] };
    };
    const run = await runPattern(spec, "paint", script, async (engine, runId) => {
      const parent = await engine.getHandle(runId);
      await waitFor("the asking branch's question", async () => ((await parent.status()).pending.length === 1 && breakNow ? true : undefined));
      breakNow!();
    });
    assert.ok(run.error instanceof RunFailed, String(run.error));
    assert.equal(run.error.failureType, "ParallelBranchFailed");
    assert.match(run.error.message, /fan: 1 of 2 branches failed \(1 other was cancelled\); first: broken: .*This model does not exist/);
    assert.doesNotMatch(run.error.message, /\.\./);
    assert.equal((await env.client.workflow.getHandle(`${run.runId}/asking-1`).describe()).status.name, "CANCELLED");
    // A child run is found by its name, as `list --target` looks for it.
    await waitFor("the child run listed by its name", async () => {
      for await (const execution of env.client.workflow.list({ query: `DuragentAgent = 'asking' AND WorkflowId = '${run.runId}/asking-1'` })) return execution.workflowId;
      return undefined;
    });
    await replay(run.runId);
  });

  test("cancelling a fan-out while its branches wait ends the run cancelled, not failed by its cancelled branches", async () => {
    const spec: PatternSpec = {
      pattern: "parallel",
      name: "fan",
      branches: ["b1", "b2"].map((name) => ({ pattern: "chain" as const, name, asChildWorkflow: true, steps: [{ name: "asker", instruction: "You ask.", humanInput: true }] })),
    };
    const script: ModelScript = () => ({ toolCalls: [{ name: "human_input", arguments: { question: "Which colour?" } }], usage: { inputTokens: 50, outputTokens: 5 } });
    let usage: unknown;
    const run = await runPattern(spec, "paint", script, async (engine, runId) => {
      const parent = await engine.getHandle(runId);
      await waitFor("both branches asking", async () => ((await parent.status()).pending.length === 2 ? true : undefined));
      await parent.cancel();
      await parent.result().catch(() => undefined);
      ({ usage } = await parent.status());
    });
    // Both cancelled branches reported what they spent.
    assert.deepEqual(usage, { "openai:scripted": { inputTokens: 100, outputTokens: 10 } });
    assert.ok(run.error instanceof RunFailed, String(run.error));
    assert.equal(run.error.phase, "cancelled");
    assert.equal((await env.client.workflow.getHandle(run.runId).describe()).status.name, "CANCELLED");
    await replay(run.runId);
    await replay(`${run.runId}/b1-1`);
  });

  test("what a child run spent counts in its parent's usage when it fails, is cancelled or is terminated", async () => {
    const spec: PatternSpec = {
      pattern: "parallel",
      name: "fan",
      failurePolicy: "collect",
      branches: [
        { pattern: "chain", name: "good", asChildWorkflow: true, steps: [{ name: "writer", instruction: "You write." }] },
        { pattern: "chain", name: "bad", asChildWorkflow: true, steps: [{ name: "scout", instruction: "You scout." }, { name: "breaker", instruction: "You break." }] },
        { pattern: "chain", name: "asked", asChildWorkflow: true, steps: [{ name: "asker", instruction: "You ask.", humanInput: true }] },
        { pattern: "chain", name: "stopped", asChildWorkflow: true, steps: [{ name: "asker", instruction: "You ask.", humanInput: true }] },
        // Four more that end after the terminated one, past the few ended children a status lists.
        ...["l1", "l2", "l3", "l4"].map((name) => ({ pattern: "chain" as const, name, asChildWorkflow: true, steps: [{ name: "asker", instruction: "You ask.", humanInput: true }] })),
      ],
    };
    const script: ModelScript = (call) => {
      if (call.system === "You break.") return { error: { status: 400, message: "bad request" } };
      if (call.system === "You ask." && call.messages.some((message) => message.role === "tool")) return { text: "answered", usage: { inputTokens: 10, outputTokens: 1 } };
      if (call.system === "You ask.") return { toolCalls: [{ name: "human_input", arguments: { question: "Which colour?" } }], usage: { inputTokens: 1000, outputTokens: 100 } };
      return { text: "done", usage: call.system === "You scout." ? { inputTokens: 200, outputTokens: 20 } : { inputTokens: 100, outputTokens: 10 } };
    };
    let usage: unknown;
    const run = await runPattern(spec, "go", script, async (engine, runId) => {
      const parent = await engine.getHandle(runId);
      await waitFor("six branches asking", async () => ((await parent.status()).pending.length === 6 ? true : undefined));
      await (await engine.getHandle(`${runId}/asked-1`)).cancel();
      await env.client.workflow.getHandle(`${runId}/stopped-1`).terminate("test");
      await waitFor("the two to leave the parent's questions", async () => ((await parent.status()).pending.length === 4 ? true : undefined));
      for (const name of ["l1", "l2", "l3", "l4"]) await parent.answer({ requestId: `${name}-1/input-1`, value: "red" });
      await parent.result();
      ({ usage } = await parent.status());
    });
    assert.equal(run.error, undefined, String(run.error));
    assert.match(run.result?.text ?? "", /## bad\n\(failed: breaker: openai rejected the request \(400\)/);
    // The failed and the cancelled branch reported theirs, so the result counts them (with the four
    // answered ones: 4 x 1,010/101); the terminated one had no say, so its parent's status reads it
    // from the child, which stays listed however many children end after it.
    assert.deepEqual(run.result?.usage, { "openai:scripted": { inputTokens: 5340, outputTokens: 534 } });
    assert.deepEqual(usage, { "openai:scripted": { inputTokens: 6340, outputTokens: 634 } });
    for (const id of [run.runId, `${run.runId}/bad-1`, `${run.runId}/asked-1`]) await replay(id);
  });

  test("what a terminated grandchild spent counts in every ancestor's status, not only its parent's (the twenty-eighth user test's)", async () => {
    const spec: PatternSpec = {
      pattern: "chain",
      name: "top",
      steps: [
        {
          pattern: "parallel",
          name: "fan",
          asChildWorkflow: true,
          failurePolicy: "collect",
          branches: [{ pattern: "chain", name: "stopped", asChildWorkflow: true, steps: [{ name: "asker", instruction: "You ask.", humanInput: true }] }, { name: "writer", instruction: "You write." }],
        },
      ],
    };
    const script: ModelScript = (call) =>
      call.system === "You ask." ? { toolCalls: [{ name: "human_input", arguments: { question: "Which colour?" } }], usage: { inputTokens: 1000, outputTokens: 100 } } : { text: "done", usage: { inputTokens: 100, outputTokens: 10 } };
    let usage: unknown;
    const run = await runPattern(spec, "go", script, async (engine, runId) => {
      const top = await engine.getHandle(runId);
      await waitFor("the grandchild asking", async () => ((await top.status()).pending.length === 1 ? true : undefined));
      await env.client.workflow.getHandle(`${runId}/fan-1/stopped-1`).terminate("test");
      await top.result();
      ({ usage } = await top.status());
    });
    assert.equal(run.error, undefined, String(run.error));
    // The result counts what reached it (the writer's); the status reads the terminated one's too.
    assert.deepEqual(run.result?.usage, { "openai:scripted": { inputTokens: 100, outputTokens: 10 } });
    assert.deepEqual(usage, { "openai:scripted": { inputTokens: 1100, outputTokens: 110 } });
  });

  test("a run past its token budget fails before its next model call, and a child run starts with what is left", async () => {
    const spec: PatternSpec = {
      pattern: "chain",
      name: "budgeted",
      steps: [
        { name: "a", instruction: "A" },
        { pattern: "chain", name: "inner", asChildWorkflow: true, steps: ["B", "C", "D"].map((name) => ({ name: name.toLowerCase(), instruction: name })) },
      ],
    };
    // 45 tokens: a spends 20, so the child starts with 25; b and c spend 40 of them, and d is refused.
    const run = await runPattern(spec, "go", (call) => ({ text: `by ${call.system}`, usage: { inputTokens: 15, outputTokens: 5 } }), undefined, { tokenBudget: 45 });
    assert.ok(run.error instanceof RunFailed, String(run.error));
    assert.match(run.error.message, /d: the run has used 40 tokens, and its budget is 25 \(execution\.tokenBudget, or --token-budget for one run\): it makes no more model calls/);
    assert.deepEqual(run.model.requests.map((request) => (request.body as { messages: { content: string }[] }).messages[0]!.content), ["A", "B", "C"]);
    for (const id of [run.runId, `${run.runId}/inner-1`]) await replay(id);
  });

  test("a run past its cost budget fails before its next model call, and a child run starts with what is left, and it replays", async () => {
    const step = (name: string) => ({ name: name.toLowerCase(), instruction: name, model: "openai:gpt-4.1-mini" });
    const spec: PatternSpec = { pattern: "chain", name: "costly", steps: [step("A"), { pattern: "chain", name: "inner", asChildWorkflow: true, steps: ["B", "C", "D"].map(step) }] };
    // gpt-4.1-mini's list price, $0.40 and $1.60 per million: $0.014 a call. Of $0.04, a spends
    // $0.014, so the child starts with $0.026; b and c spend $0.028, and d is refused.
    const run = await runPattern(spec, "go", (call) => ({ text: `by ${call.system}`, usage: { inputTokens: 15_000, outputTokens: 5_000 } }), undefined, { costBudget: 0.04 });
    assert.ok(run.error instanceof RunFailed, String(run.error));
    assert.match(run.error.message, /d: the run has spent \$0\.0280 on model calls, and its budget is \$0\.0260 \(execution\.costBudget, or --cost-budget for one run\)/);
    assert.deepEqual(run.model.requests.map((request) => (request.body as { messages: { content: string }[] }).messages[0]!.content), ["A", "B", "C"]);
    for (const id of [run.runId, `${run.runId}/inner-1`]) await replay(id);
  });

  test("a paused run starts no child run until it is resumed, like any other step", async () => {
    const spec: PatternSpec = {
      pattern: "chain",
      name: "survey",
      steps: [
        { name: "scout", instruction: "You scout." },
        { pattern: "chain", name: "inner", asChildWorkflow: true, steps: [{ name: "writer", instruction: "You write." }] },
      ],
    };
    let scoutCalled!: () => void;
    let releaseScout!: () => void;
    const scoutCall = new Promise<void>((resolve) => (scoutCalled = resolve));
    const script: ModelScript = (call) => {
      if (call.system !== "You scout.") return { text: `written from: ${textOf(call.messages.at(-1)?.content ?? "")}` };
      scoutCalled();
      return new Promise((resolve) => (releaseScout = () => resolve({ text: "The bay is calm." })));
    };
    const run = await runPattern(spec, "Survey the bay.", script, async (engine, runId) => {
      await scoutCall;
      const parent = await engine.getHandle(runId);
      await parent.pause();
      releaseScout();
      // The scout's result is in, and the parent has taken it: the child would start now.
      const history = env.client.workflow.getHandle(runId);
      const events = await waitFor("the parent to take the scout's result", async () => {
        const all = (await history.fetchHistory()).events ?? [];
        const completed = all.findIndex((event) => event.activityTaskCompletedEventAttributes);
        return completed >= 0 && all.slice(completed).some((event) => event.workflowTaskCompletedEventAttributes) ? all : undefined;
      });
      assert.equal(events.filter((event) => event.startChildWorkflowExecutionInitiatedEventAttributes).length, 0);
      const status = await parent.status();
      assert.equal(status.phase, "paused");
      assert.deepEqual(status.children ?? [], []);
      await parent.resume();
    });
    assert.equal(run.error, undefined, String(run.error));
    assert.equal(run.result?.text, "written from: The bay is calm.");
    const story = ((await env.client.workflow.getHandle(run.runId).fetchHistory()).events ?? []).flatMap((event) => {
      const signal = event.workflowExecutionSignaledEventAttributes?.signalName;
      return signal ? [signal] : event.startChildWorkflowExecutionInitiatedEventAttributes ? ["child started"] : [];
    });
    assert.deepEqual(story, ["duragent.pause", "duragent.resume", "child started"]);
  });
});
