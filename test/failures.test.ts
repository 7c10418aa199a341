/**
 * What a person sees when a run goes wrong, on both engines: the provider's own words, the MCP
 * server's error, a timeout that names its step, a step being retried, and the same text from
 * `status` as from `result`. Also the edges of starting and ending runs: a server that lacks the
 * search attributes, an input over Temporal's payload limit, cancelling a finished run.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { CancelledFailure, ChildWorkflowFailure, Client, Connection } from "@temporalio/client";
import { ActivityFailure, ApplicationFailure, RetryState } from "@temporalio/common";
import { FailureType, nextAttemptPromises, rootCause, stepGaveUp } from "../src/common/failures.js";
import { runUnreachable } from "../src/activities/mcp/connection-errors.js";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { z } from "zod";
import { InvalidRunInput, RunAlreadyEnded, RunFailed, type Engine, type RunHandle } from "../src/client/engine.js";
import { defineWorkflow, type DuragentWorkflow } from "../src/workflows/define-workflow.js";
import type { RunTarget } from "../src/client/run-targets.js";
import { TemporalEngine } from "../src/client/temporal-engine.js";
import type { RunEvent } from "../src/client/run-events.js";
import { pendingActivitiesState } from "../src/client/pending-activities.js";
import type { WorkflowExecutionDescription } from "@temporalio/client";
import { loadDataConverter } from "@temporalio/common/lib/internal-non-workflow/index.js";
import { runSettingsFromConfig } from "../src/config/load-config.js";
import type { DuragentConfig } from "../src/config/schema.js";
import { isUserError } from "../src/errors/user-error.js";
import { startDevServer } from "../src/temporal/dev-server.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedModelServer, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import type { CountingLogEntry } from "./fixtures/counting-mcp-server.js";
import { bundleWorkflows, memoryEngine, testConfig, withTemporalWorker } from "./support/runtime.js";
import { findRunTarget } from "../src/client/run-targets.js";
import { startTestTemporal } from "./support/temporal.js";
import { waitFor } from "./support/wait.js";
import { textOf } from "../src/common/messages.js";
import { endingNote } from "../src/client/result-note.js";

const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-failures-")));
const countingServer = fileURLToPath(new URL("./fixtures/counting-mcp-server.ts", import.meta.url));

const agent = (model: string): RunTarget => ({
  kind: "agent",
  name: "worker",
  agent: { name: "worker", instruction: "Do the step you are told to.", servers: ["counting"], model },
});

/** Calls the tool the user names, then answers with its result. */
function toolScript(call: ScriptedCall): ScriptedTurn {
  const result = call.messages.findLast((message) => message.role === "tool");
  if (result) return { text: "done" };
  const order = call.messages.find((message) => message.role === "user");
  const [tool, ms] = String(order?.content ?? "").split(" ");
  return { toolCalls: [{ name: `counting_${tool}`, arguments: { label: tool, ...(ms ? { ms: Number(ms) } : {}) } }] };
}

function configFor(model: ScriptedModelServer, log: string, execution: Record<string, unknown>, serverExecution?: Record<string, unknown>): DuragentConfig {
  const counting = { command: process.execPath, args: ["--import", "tsx", countingServer, log], ...(serverExecution ? { execution: serverExecution } : {}) };
  return testConfig(model, { mcp: { servers: { counting } }, execution });
}

function countingCalls(log: string, tool: CountingLogEntry["tool"]): number {
  if (!existsSync(log)) return 0;
  return readFileSync(log, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as CountingLogEntry)
    .filter((entry) => entry.tool === tool && (entry.phase === "call" || entry.phase === "start")).length;
}

/** Runs `body` against the named engine with `config`; on Temporal its worker bundles the config's modules. */
async function onEngine<T>(engineName: "memory" | "temporal", env: TestWorkflowEnvironment | undefined, config: DuragentConfig, body: (engine: Engine) => Promise<T>): Promise<T> {
  if (engineName === "temporal") return withTemporalWorker(env!, config, body, config.modules.length > 0 ? { workflowBundle: await bundleWorkflows(config.modules) } : {});
  const engine = memoryEngine(config);
  try {
    return await body(engine);
  } finally {
    await engine.close();
  }
}

/** The run's failure as `result` reports it. */
async function failureOf(handle: RunHandle): Promise<RunFailed> {
  const error = await handle.result().then(
    () => assert.fail("the run should fail"),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof RunFailed, `expected RunFailed, got ${String(error)}`);
  return error;
}

/** The ids of the patches a Temporal run's history records, in order. */
async function patchesOf(runId: string): Promise<string[]> {
  const history = await env.client.workflow.getHandle(runId).fetchHistory();
  const markers = history.events!.flatMap(({ markerRecordedEventAttributes: marker }) => (marker ? [marker.details?.["patch-data"]?.payloads?.[0]?.data] : []));
  return markers.map((data) => (JSON.parse(Buffer.from(data!).toString("utf8")) as { id: string }).id);
}

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startTestTemporal();
});
after(async () => {
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

for (const engineName of ["memory", "temporal"] as const) {
  describe(`failures on the ${engineName} engine`, () => {
    test("a busy provider is waited for within the attempt, as it asks: more refusals than attempts and the run still answers; the wait shows as the step's progress", async () => {
      const busy = { error: { status: 429, message: "Rate limit reached for gpt-4.1-mini.", headers: { "retry-after-ms": "900" } } };
      const model = await startScriptedModelServer([busy, busy, busy, { text: "done at last" }], { quiet: true });
      const config = configFor(model, join(dir, `busy-${engineName}.log`), { llm: { maximumAttempts: 2 } });
      try {
        await onEngine(engineName, env, config, async (engine) => {
          const handle = await engine.start(agent("openai:gpt-4.1-mini"), "say done");
          const waiting = await waitFor("the wait to show", async () => (await handle.status()).progress?.find((progress) => progress.step === "llm openai:gpt-4.1-mini (worker)" && progress.message?.startsWith("waiting")), 20_000);
          assert.match(waiting.message ?? "", /^waiting 1 s for the provider, as it asked, within this attempt: openai is rate limiting requests \(429\): Rate limit reached/);
          assert.equal(((await handle.result()) as { text: string }).text, "done at last");
          assert.equal(model.requests.length, 4);
          assert.equal((await handle.status()).progress, undefined);
        });
      } finally {
        await model.close();
      }
    });

    test("a fan-out's retries, several at once, are each told once to a watcher", async () => {
      const failedOnce = new Set<string>();
      const model = await startScriptedModelServer((call) => {
        const item = textOf(call.messages.at(-1)!.content);
        if (failedOnce.has(item)) return { text: `did ${item}`, delayMs: 300 };
        failedOnce.add(item);
        return { error: { status: 500, message: `broke on ${item}` } };
      }, { quiet: true });
      const config = testConfig(model, {
        agents: { worker: { instruction: "You work." } },
        workflows: { fan: { pattern: "parallel", map: "worker", concurrency: 3 } },
        execution: { llm: { maximumAttempts: 3, initialIntervalMs: 1500, maximumIntervalMs: 1500 } },
      });
      try {
        await onEngine(engineName, env, config, async (engine) => {
          const handle = await engine.start(await findRunTarget(config, "fan"), JSON.stringify(["a", "b", "c"]));
          const events: RunEvent[] = [];
          for await (const event of handle.events()) events.push(event);
          const retries = events.flatMap((event) => (event.type === "retry" ? [event.error] : []));
          assert.deepEqual(retries.map((error) => /broke on (\w)/.exec(error)?.[1]).sort(), ["a", "b", "c"], JSON.stringify(retries));
        });
      } finally {
        await model.close();
      }
    });

    test("a provider's refusal: status shows the step being retried with the provider's words, then the same failure as result", async () => {
      const model = await startScriptedModelServer([
        { error: { status: 429, message: "Rate limit reached for gpt-4.1-mini in organization org-1 on tokens per min." } },
        { error: { status: 429, message: "Rate limit reached for gpt-4.1-mini in organization org-1 on tokens per min." } },
      ], { quiet: true });
      const log = join(dir, `refusal-${engineName}.log`);
      const config = configFor(model, log, { llm: { maximumAttempts: 2, initialIntervalMs: 1500, maximumIntervalMs: 1500 } });
      try {
        await onEngine(engineName, env, config, async (engine) => {
          const handle = await engine.start(agent("openai:gpt-4.1-mini"), "record_step");
          const events: RunEvent[] = [];
          const watched = (async () => {
            for await (const event of handle.events()) events.push(event);
          })();
          const retrying = await waitFor("the step to be retried", async () => (await handle.status()).retrying, 20_000);
          assert.equal(retrying.step, "llm openai:gpt-4.1-mini (worker)");
          assert.equal(retrying.attempt, 2);
          assert.equal(retrying.maximumAttempts, 2);
          assert.match(retrying.error, /^openai is rate limiting requests \(429\): Rate limit reached for gpt-4\.1-mini/);

          const failure = await failureOf(handle);
          // What a test or a program tells failures apart by, the same on both engines.
          assert.equal(failure.failureType, FailureType.stepGaveUp);
          const status = await handle.status();
          assert.equal(status.phase, "failed");
          assert.equal(status.lastError, failure.message.replace(/^Run \S+ failed: /, ""));
          // Named by the agent whose call it was: several may share a model.
          assert.match(status.lastError ?? "", /^worker: openai is rate limiting requests \(429\): Rate limit reached.* Gave up after 2 attempts \(execution\.llm\.maximumAttempts\)\.$/);
          assert.equal(status.failedStep, "llm openai:gpt-4.1-mini (worker)");
          assert.equal(status.retrying, undefined);
          // Watchers are told of the retry once, as it was in the status.
          await watched;
          assert.deepEqual(events.filter((event) => event.type === "retry"), [{ type: "retry", ...retrying }]);
        });
      } finally {
        await model.close();
      }
    });

    test("Anthropic's JSON error body is reduced to its message", async () => {
      const model = await startScriptedModelServer([{ error: { status: 400, message: "messages: text content blocks must be non-empty" } }], { quiet: true });
      const log = join(dir, `anthropic-${engineName}.log`);
      try {
        await onEngine(engineName, env, configFor(model, log, {}), async (engine) => {
          const handle = await engine.start(agent("anthropic:claude-sonnet-4-5"), "record_step");
          const failure = await failureOf(handle);
          assert.equal(failure.failureType, FailureType.llmRequestRejected);
          const status = await handle.status();
          assert.equal(status.lastError, "worker: anthropic rejected the request (400): messages: text content blocks must be non-empty");
          assert.ok(failure.message.endsWith(status.lastError!), failure.message);
          assert.doesNotMatch(failure.message, /[{}]/);
        });
      } finally {
        await model.close();
      }
    });

    test("a server that dies on every call is called exactly tools.maximumAttempts times, then the model reads why and the run goes on", async () => {
      const calls: ScriptedCall[] = [];
      const model = await startScriptedModelServer((call) => (calls.push(call), toolScript(call)), { quiet: true });
      const log = join(dir, `crash-${engineName}.log`);
      const config = configFor(model, log, { tools: { maximumAttempts: 3, initialIntervalMs: 100, maximumIntervalMs: 100 } });
      try {
        await onEngine(engineName, env, config, async (engine) => {
          const handle = await engine.start(agent("openai:gpt-4.1-mini"), "crash_step");
          const result = (await handle.result()) as { text: string };
          assert.equal(countingCalls(log, "crash_step"), 3);
          assert.equal(result.text, "done");
          // `run`, `result` and serve's callers hear that the answer was made without it.
          assert.match(endingNote(result) ?? "", /^the call to 'counting_crash_step' failed for good, and the model answered without its result: MCP server 'counting' exited \(code 1\)/);
          const told = calls[1]!.messages.findLast((message) => message.role === "tool");
          assert.match(
            textOf(told!.content),
            /^Error: The call to 'counting_crash_step' failed, so it has no result: MCP server 'counting' exited \(code 1\) during tools\/call crash_step.* Gave up after 3 attempts \(execution\.tools\.maximumAttempts\)\.$/,
          );
          const status = await handle.status();
          assert.equal(status.phase, "completed");
          assert.match(status.lastError ?? "", /^MCP server 'counting' exited \(code 1\) during tools\/call crash_step/);
        });
      } finally {
        await model.close();
      }
    });

    test("with failedToolCall: fail-run, a server that dies on every call fails the run, its error the cause", async () => {
      const model = await startScriptedModelServer(toolScript, { quiet: true });
      const log = join(dir, `crash-fail-${engineName}.log`);
      const config = configFor(model, log, { failedToolCall: "fail-run", tools: { maximumAttempts: 2, initialIntervalMs: 100, maximumIntervalMs: 100 } });
      try {
        await onEngine(engineName, env, config, async (engine) => {
          const handle = await engine.start(agent("openai:gpt-4.1-mini"), "crash_step");
          const failure = await failureOf(handle);
          assert.equal(countingCalls(log, "crash_step"), 2);
          assert.equal(model.requests.length, 1);
          const status = await handle.status();
          assert.match(status.lastError ?? "", /^MCP server 'counting' exited \(code 1\) during tools\/call crash_step.* Gave up after 2 attempts \(execution\.tools\.maximumAttempts\)\.$/);
          assert.equal(status.failedStep, "tool counting/crash_step");
          assert.ok(failure.message.endsWith(status.lastError!), failure.message);
        });
      } finally {
        await model.close();
      }
    });


    test("a server that exits at start fails the first model call's attempts, and the failure says why that setting counts them", async () => {
      const model = await startScriptedModelServer([{ text: "never asked" }], { quiet: true });
      const config = testConfig(model, {
        mcp: { servers: { counting: { command: process.execPath, args: ["-e", "console.error('Error: cannot open /data/notes.db'); process.exit(3)"] } } },
        execution: { llm: { maximumAttempts: 2, initialIntervalMs: 100, maximumIntervalMs: 100 } },
      });
      try {
        await onEngine(engineName, env, config, async (engine) => {
          const failure = await failureOf(await engine.start(agent("openai:gpt-4.1-mini"), "record_step"));
          assert.match(
            failure.message,
            /worker: MCP server 'counting' exited \(code 3\) during initialize: Error: cannot open \/data\/notes\.db\. Gave up after 2 attempts \(execution\.llm\.maximumAttempts, as the model call that starts the agent's MCP servers\)\.$/,
          );
          assert.equal(model.requests.length, 0);
        });
      } finally {
        await model.close();
      }
    });
    test("a model call that goes quiet fails its attempt after execution.llm.idleTimeoutMs, long before its start-to-close timeout", async () => {
      const quiet: ScriptedTurn = { text: "too late", delayMs: 3_000 };
      const model = await startScriptedModelServer([quiet, quiet], { quiet: true });
      const log = join(dir, `quiet-${engineName}.log`);
      const config = configFor(model, log, { llm: { maximumAttempts: 2, initialIntervalMs: 100, maximumIntervalMs: 100, idleTimeoutMs: 1_000 } });
      try {
        await onEngine(engineName, env, config, async (engine) => {
          const handle = await engine.start(agent("openai:gpt-4.1-mini"), "record_step");
          await failureOf(handle);
          const status = await handle.status();
          assert.equal(status.lastError, "worker: openai sent nothing for 1 s (execution.llm.idleTimeoutMs), so this attempt was given up. Gave up after 2 attempts (execution.llm.maximumAttempts).");
          assert.equal(model.requests.length, 2);
          // The step's own limit stays the default ten minutes: only the silence ended it.
          assert.equal(runSettingsFromConfig(config).llm.startToCloseTimeoutMs, 600_000);
        });
      } finally {
        await model.close();
      }
    });

    /** A tool that hangs on every attempt under `policy`: the model is told, naming `setting`, after `attempts` calls. */
    async function hangIsTold(name: string, policy: { tools: Record<string, unknown>; server?: Record<string, unknown> }, setting: string, attempts: number): Promise<void> {
      const calls: ScriptedCall[] = [];
      const model = await startScriptedModelServer((call) => (calls.push(call), toolScript(call)), { quiet: true });
      const log = join(dir, `${name}-${engineName}.log`);
      try {
        await onEngine(engineName, env, configFor(model, log, { tools: policy.tools }, policy.server), async (engine) => {
          const handle = await engine.start(agent("openai:gpt-4.1-mini"), "slow_step 600000");
          assert.equal(((await handle.result()) as { text: string }).text, "done");
          const expected =
            "The step 'tool counting/slow_step' timed out: it got no result within its start-to-close timeout of 1.5 s " +
            `(${setting}.startToCloseTimeoutMs). Attempts allowed: ${attempts}.`;
          assert.equal((await handle.status()).lastError, expected);
          const told = calls[1]!.messages.findLast((message) => message.role === "tool");
          assert.equal(textOf(told!.content), `Error: The call to 'counting_slow_step' failed, so it has no result: ${expected}`);
          assert.equal(countingCalls(log, "slow_step"), attempts);
        });
      } finally {
        await model.close();
      }
    }

    test("a hanging tool's timeout names the step, the server and the tool, and the setting, to the model and in the status", async () => {
      await hangIsTold("hang", { tools: { maximumAttempts: 2, initialIntervalMs: 100, maximumIntervalMs: 100, startToCloseTimeoutMs: 1500 } }, "execution.tools", 2);
    });

    test("a server's own policy (mcp.servers.<name>.execution) is used over execution.tools, and its failure names it", async () => {
      // A tool that must not run twice: one attempt, under a limit of its own.
      const server = { maximumAttempts: 1, startToCloseTimeoutMs: 1500 };
      await hangIsTold("own-policy", { tools: { maximumAttempts: 3, initialIntervalMs: 100, maximumIntervalMs: 100 }, server }, "mcp.servers.counting.execution", 1);
    });

    test("an input the target refuses is refused at start, naming the field, and no run is started", async () => {
      const model = await startScriptedModelServer(toolScript, { quiet: true });
      const log = join(dir, `input-${engineName}.log`);
      try {
        await onEngine(engineName, env, configFor(model, log, {}), async (engine) => {
          const checked = defineWorkflow(async (_ctx, input: { path: string }) => input.path, { input: z.object({ path: z.string() }) });
          await assert.rejects(engine.start({ kind: "workflow", name: "checked", workflow: checked as DuragentWorkflow }, { pth: 1 }), (error: unknown) => {
            assert.ok(error instanceof InvalidRunInput, String(error));
            assert.match(error.message, /the input of 'checked'.*path/s);
            assert.equal(error.zodError?.issues[0]?.path[0], "path");
            return true;
          });
          await assert.rejects(engine.start(agent("openai:gpt-4.1-mini"), undefined), (error: unknown) => {
            assert.ok(error instanceof InvalidRunInput, String(error));
            assert.match(error.message, /needs a message as its input/);
            return true;
          });
          await assert.rejects(engine.start(agent("openai:gpt-4.1-mini"), "   "), (error: unknown) => error instanceof InvalidRunInput && /it got an empty one/.test(error.message));
          // Values JSON cannot hold, and nesting deeper than the stack, are refused as input, not thrown raw.
          const circular: Record<string, unknown> = {};
          circular.self = circular;
          let deep: unknown = [];
          for (let depth = 0; depth < 200_000; depth++) deep = [deep];
          for (const [value, why] of [[circular, /JSON cannot hold it \(Converting circular structure/], [{ n: 1n }, /JSON cannot hold it \(Do not know how to serialize a BigInt/], [deep, /nested too deeply/]] as const) {
            await assert.rejects(engine.start(agent("openai:gpt-4.1-mini"), value), (error: unknown) => {
              assert.ok(error instanceof InvalidRunInput, String(error));
              assert.match(error.message, /^The input of 'worker' cannot be sent: /);
              assert.match(error.message, why);
              return true;
            });
          }
          assert.equal(model.requests.length, 0, "no run reached the model");
        });
      } finally {
        await model.close();
      }
    });

    test("a local tool that throws: the model reads its failure as a tool error, and the run goes on (on Temporal its task is not retried for ever)", async () => {
      // The first call asks for the tool; the next answers with what the tool said.
      const model = await startScriptedModelServer((call) => {
        const result = call.messages.findLast((message) => message.role === "tool");
        return result ? { text: `tool said: ${textOf(result.content)}` } : { toolCalls: [{ name: "add", arguments: { a: 1, b: 2 } }] };
      }, { quiet: true });
      const modulePath = fileURLToPath(new URL("./fixtures/usage-workflows.ts", import.meta.url));
      const { explode } = (await import(modulePath)) as typeof import("./fixtures/usage-workflows.js");
      const body = async (engine: Engine) => {
        const handle = await engine.start({ kind: "workflow", name: "explode", workflow: explode as DuragentWorkflow }, "add 1 and 2");
        assert.equal(await handle.result(), "tool said: Error: The tool 'add' failed: local tool exploded");
        assert.equal(model.requests.length, 2);
      };
      try {
        await onEngine(engineName, env, { ...configFor(model, join(dir, `explode-${engineName}.log`), {}), modules: [modulePath] }, body);
      } finally {
        await model.close();
      }
    });

    test("a local tool's arguments that do not fit its input schema: the model is told where, its code never runs, and the corrected call goes through", async () => {
      const model = await startScriptedModelServer((call) => {
        const results = call.messages.filter((message) => message.role === "tool");
        if (results.length === 0) return { toolCalls: [{ name: "add", arguments: { a: "one", b: 2 } }] };
        if (results.length === 1) return { toolCalls: [{ name: "add", arguments: { a: 1, b: 2 } }] };
        return { text: results.map((result) => textOf(result.content)).join(" | ") };
      }, { quiet: true });
      const modulePath = fileURLToPath(new URL("./fixtures/usage-workflows.ts", import.meta.url));
      const { adder } = (await import(modulePath)) as typeof import("./fixtures/usage-workflows.js");
      const body = async (engine: Engine) => {
        const handle = await engine.start({ kind: "workflow", name: "adder", workflow: adder as DuragentWorkflow }, "add 1 and 2");
        const [refused, added] = ((await handle.result()) as string).split(" | ");
        assert.match(refused!, /^Error: The arguments for 'add' do not fit its input schema, so the call was not made:\n✖ Invalid input: expected number, received string\n {2}→ at a$/);
        assert.equal(added, "3");
        if (engineName === "temporal") {
          // Only a run whose local tool got arguments that do not fit records the check's marker.
          assert.deepEqual(await patchesOf(handle.runId), ["duragent-local-tool-arguments-checked"]);
        }
      };
      try {
        await onEngine(engineName, env, { ...configFor(model, join(dir, `adder-${engineName}.log`), {}), modules: [modulePath] }, body);
      } finally {
        await model.close();
      }
    });

    test("a structured answer cut off at the token limit fails the run naming the limit, with no repair round that would be cut off again", async () => {
      const model = await startScriptedModelServer(() => ({ text: '{"name": "Ada", "bio": "Ada Lovelace wrote the first', stopReason: "max_tokens" }), { quiet: true });
      const modulePath = fileURLToPath(new URL("./fixtures/usage-workflows.ts", import.meta.url));
      const { profile } = (await import(modulePath)) as typeof import("./fixtures/usage-workflows.js");
      const body = async (engine: Engine) => {
        const handle = await engine.start({ kind: "workflow", name: "profile", workflow: profile as DuragentWorkflow }, "who was Ada?");
        const failure = await failureOf(handle);
        assert.equal(failure.phase, "failed");
        assert.match(failure.reason, /profiler: the model's structured output was cut off at its output token limit \(50 tokens\), so it is not whole: raise maxTokens/);
        assert.equal(model.requests.length, 1, "no repair round");
        assert.equal((model.requests[0]!.body as { max_completion_tokens?: number; max_tokens?: number }).max_tokens, 50, "the agent's maxTokens is sent");
        if (engineName === "temporal") assert.deepEqual(await patchesOf(handle.runId), ["duragent-structured-cut-off-fails"]);
      };
      try {
        await onEngine(engineName, env, { ...configFor(model, join(dir, `profile-${engineName}.log`), {}), modules: [modulePath] }, body);
      } finally {
        await model.close();
      }
    });

    test("workflow code that hands an agent what it cannot take fails the run saying so; on Temporal its task is not retried for ever", async () => {
      const model = await startScriptedModelServer(toolScript, { quiet: true });
      const modulePath = fileURLToPath(new URL("./fixtures/usage-workflows.ts", import.meta.url));
      const { summarise, refuse } = (await import(modulePath)) as typeof import("./fixtures/usage-workflows.js");
      const body = async (engine: Engine) => {
        // summarise has no input schema, so an object reaches its agent's generateStr.
        const handle = await engine.start({ kind: "workflow", name: "summarise", workflow: summarise as DuragentWorkflow }, { nope: 1 });
        const failure = await failureOf(handle);
        assert.equal(failure.phase, "failed");
        assert.match(failure.message, /summariser: generate takes a message \(a string\) or a list of messages, and got an object \(\{"nope":1\}\)\. A workflow defined without an input schema/);
        assert.equal(model.requests.length, 0);
        // Workflow code fails its run as README says, with the ApplicationFailure duragent/workflow exports.
        const refused = await failureOf(await engine.start({ kind: "workflow", name: "refuse", workflow: refuse as DuragentWorkflow }, "no way"));
        assert.equal(refused.phase, "failed");
        assert.match(refused.message, /refused: no way/);
      };
      try {
        await onEngine(engineName, env, { ...configFor(model, join(dir, `invalid-${engineName}.log`), {}), modules: [modulePath] }, body);
      } finally {
        await model.close();
      }
    });

    test("terminating a run ends it at once, its step in flight abandoned, and says why wherever the run is read", async () => {
      const model = await startScriptedModelServer(toolScript, { quiet: true });
      const log = join(dir, `terminate-${engineName}.log`);
      try {
        await onEngine(engineName, env, configFor(model, log, {}), async (engine) => {
          const handle = await engine.start(agent("openai:gpt-4.1-mini"), "slow_step 600000");
          await waitFor("the hanging tool call", async () => ((await handle.status()).currentStep === "tool counting/slow_step" ? true : undefined), 20_000);
          // Terminated while the server holds the call, so that the server's log can show the cancellation.
          await waitFor("the server to hold the call", () => (countingCalls(log, "slow_step") === 1 ? true : undefined), 20_000);
          await handle.terminate("stuck on a bug");
          const failure = await failureOf(handle);
          assert.equal(failure.phase, "terminated");
          assert.equal(failure.message, `Run ${handle.runId} was terminated: stuck on a bug`);
          const status = await handle.status();
          assert.equal(status.phase, "terminated");
          assert.equal(status.lastError, "stuck on a bug");
          assert.equal((await engine.list(10)).find((run) => run.runId === handle.runId)?.phase, "terminated");
          await assert.rejects(handle.terminate(), (error: unknown) => error instanceof RunAlreadyEnded && /\(terminated\); there is nothing to terminate\.$/.test(error.message));
          // The tool call was cancelled, not left to run out its ten minutes.
          await waitFor("the tool call to stop", async () => (existsSync(log) && /"phase":"cancelled"/.test(readFileSync(log, "utf8")) ? true : undefined), 20_000);
        });
      } finally {
        await model.close();
      }
    });

    test("cancelling, answering, pausing or resuming a finished run says it has ended", async () => {
      const model = await startScriptedModelServer(toolScript, { quiet: true });
      const log = join(dir, `cancel-${engineName}.log`);
      try {
        await onEngine(engineName, env, configFor(model, log, {}), async (engine) => {
          const handle = await engine.start(agent("openai:gpt-4.1-mini"), "record_step");
          assert.equal(((await handle.result()) as { text: string }).text, "done");
          await assert.rejects(handle.cancel(), (error: unknown) => {
            assert.ok(error instanceof RunAlreadyEnded);
            assert.equal(error.exitCode, 6);
            assert.equal(error.message, `Run ${handle.runId} has already ended (completed); there is nothing to cancel.`);
            return true;
          });
          // Every other message to it says the same, naming what could not be done, on both engines.
          const refusals: [string, () => Promise<unknown>][] = [
            ["answer", () => handle.answer({ value: "x" })],
            ["approve or reject", () => handle.decide({ approved: true })],
            ["pause", () => handle.pause()],
            ["resume", () => handle.resume()],
          ];
          for (const [action, send] of refusals) {
            await assert.rejects(send(), (error: unknown) => {
              assert.ok(error instanceof RunAlreadyEnded, `${action}: ${String(error)}`);
              assert.equal(error.message, `Run ${handle.runId} has already ended (completed); there is nothing to ${action}.`);
              return true;
            });
          }
        });
      } finally {
        await model.close();
      }
    });
  });
}

test("a cancelled child run's failure reads as cancelled, not as the failure class's name", () => {
  const cancelled = new ChildWorkflowFailure("default", { workflowId: "r/sw-1", runId: "x" }, "patternWorkflow", RetryState.NON_RETRYABLE_FAILURE, new CancelledFailure(undefined));
  assert.equal(rootCause(cancelled), "cancelled");
  assert.equal(rootCause(new CancelledFailure("the run was cancelled")), "the run was cancelled");
});

test("a step that gave up says so once, and drops what its last failure promised of a next attempt", () => {
  const policy = { setting: "execution.tools", maximumAttempts: 3 };
  const unreachable = runUnreachable("fs", "write_file", new Error("no route"));
  assert.match(unreachable.message, /; the call is tried again$/);
  assert.equal(stepGaveUp(policy, unreachable).message, "MCP server 'fs' asked a question during write_file that could not reach its run (no route). Gave up after 3 attempts (execution.tools.maximumAttempts).");
  const stopped = ApplicationFailure.retryable(`This worker stopped during tool fs/read; ${nextAttemptPromises.workerStopping}.`, FailureType.workerStopping);
  assert.equal(stepGaveUp(policy, stopped).message, "This worker stopped during tool fs/read. Gave up after 3 attempts (execution.tools.maximumAttempts).");
  assert.equal(stepGaveUp({ setting: "execution.llm", maximumAttempts: 5 }, new Error("openai had a server error (500): down")).message, "openai had a server error (500): down. Gave up after 5 attempts (execution.llm.maximumAttempts).");
  // The type read beneath Temporal's wrapper: a start failure counted by the model call's policy says why.
  const notStarted = new ActivityFailure("failed", "callLlm", "1", RetryState.MAXIMUM_ATTEMPTS_REACHED, undefined, ApplicationFailure.retryable("MCP server 'fs' exited (code 1) during initialize", FailureType.mcpServerUnavailable));
  assert.equal(stepGaveUp({ setting: "execution.llm", maximumAttempts: 5 }, notStarted).message, "MCP server 'fs' exited (code 1) during initialize. Gave up after 5 attempts (execution.llm.maximumAttempts, as the model call that starts the agent's MCP servers).");
  assert.equal(stepGaveUp(policy, notStarted).message, "MCP server 'fs' exited (code 1) during initialize. Gave up after 3 attempts (execution.tools.maximumAttempts).");
});

describe("starting runs on Temporal", () => {
  test("a step retried while no worker runs is named by the label it was scheduled with, not its activity type", async () => {
    const model = await startScriptedModelServer([{ error: { status: 500, message: "the model is overloaded" } }], { quiet: true });
    // The next attempt is a minute away: the worker stops while the step waits for it.
    const config = configFor(model, join(dir, "retrying-unserved.log"), { llm: { maximumAttempts: 3, initialIntervalMs: 60_000, maximumIntervalMs: 60_000 } });
    try {
      const { runId, served } = await withTemporalWorker(env, config, async (engine, served) => {
        const handle = await engine.start(agent("openai:gpt-4.1-mini"), "record_step");
        await waitFor("the step to be retried", async () => (await handle.status()).retrying, 20_000);
        return { runId: handle.runId, served };
      });
      const engine = await TemporalEngine.connect(served, runSettingsFromConfig(served));
      try {
        const handle = await engine.getHandle(runId);
        const status = await handle.status();
        assert.match(status.partial ?? "", /none answered|no worker polls/);
        assert.equal(status.retrying?.step, "llm openai:gpt-4.1-mini (worker)");
        assert.match(status.retrying?.error ?? "", /the model is overloaded/);
        await handle.terminate("test over");
      } finally {
        await engine.close();
      }
    } finally {
      await model.close();
    }
  });

  test("a model call whose schema or message is over Temporal's payload limit fails its run saying which, not its workflow task for ever nor five attempts; a long question is read cut", async () => {
    const model = await startScriptedModelServer(() => ({ text: "read it" }), { quiet: true });
    const modulePath = fileURLToPath(new URL("./fixtures/usage-workflows.ts", import.meta.url));
    const { wideForm, longLetter, longQuestion } = (await import(modulePath)) as typeof import("./fixtures/usage-workflows.js");
    const config = { ...testConfig(model), modules: [modulePath] };
    try {
      await withTemporalWorker(env, config, async (engine) => {
        const wide = await failureOf(await engine.start({ kind: "workflow", name: "wideForm", workflow: wideForm as DuragentWorkflow }, 20_000));
        assert.match(wide.reason, /^former: This model call cannot be sent on Temporal: its structured output's schema is \d\.\d MB, and Temporal takes at most 2 MB in a step's input\./);
        const letter = await failureOf(await engine.start({ kind: "workflow", name: "longLetter", workflow: longLetter as DuragentWorkflow }, 3));
        assert.match(letter.reason, /^reader: This model call's messages, or its instruction and tool definitions, cannot reach the model on Temporal: one of them is over its 2 MB limit/);
        assert.doesNotMatch(letter.reason, /Gave up after/);
        assert.equal(model.requests.length, 0);

        // A question too long for a status to carry whole is shown cut, so the status can be read.
        const asking = await engine.start({ kind: "workflow", name: "longQuestion", workflow: longQuestion as DuragentWorkflow }, 3);
        const question = await waitFor("the question", async () => (await asking.status()).pending[0]);
        assert.ok(question.prompt.length < 300 * 1024, `${question.prompt.length} characters shown`);
        assert.match(question.prompt, /^Qq+… \(cut here: the whole prompt is 3145729 characters\)$/);
        await asking.answer({ value: "read" });
        assert.equal(await asking.result(), "read");
      }, { workflowBundle: await bundleWorkflows([modulePath]) });
    } finally {
      await model.close();
    }
  });

  test("an answer over Temporal's payload limit is refused at once, naming it, and the run still waits for one that fits", async () => {
    const model = await startScriptedModelServer((call) => {
      const answer = call.messages.findLast((message) => message.role === "tool");
      return answer ? { text: `Going to ${textOf(answer.content)}` } : { toolCalls: [{ name: "human_input", arguments: { question: "Which city?" } }] };
    }, { quiet: true });
    const planner: RunTarget = { kind: "agent", name: "planner", agent: { name: "planner", instruction: "You plan trips.", humanInput: true } };
    try {
      await withTemporalWorker(env, testConfig(model), async (engine) => {
        const handle = await engine.start(planner, "Plan a trip.");
        await waitFor("the question", async () => ((await handle.status()).pending.length > 0 ? true : undefined));
        await assert.rejects(handle.answer({ value: "x".repeat(3 * 1024 * 1024) }), (error: unknown) => {
          assert.ok(isUserError(error));
          assert.equal(error.name, "InputTooLarge");
          assert.match(error.message, /^The answer is 3\.0 MB; Temporal takes at most 2\.0 MB in a message to a run\.\n.*the run still waits/s);
          return true;
        });
        assert.equal((await handle.status()).phase, "waiting_input");
        await handle.answer({ value: "Lisbon" });
        assert.equal(((await handle.result()) as { text: string }).text, "Going to Lisbon");
      });
    } finally {
      await model.close();
    }
  });

  test("an input over Temporal's payload limit is refused before any request, saying what to do", async () => {
    const model = await startScriptedModelServer([], { quiet: true });
    try {
      await withTemporalWorker(env, configFor(model, join(dir, "big.log"), {}), async (engine) => {
        const huge = "x".repeat(3 * 1024 * 1024);
        await assert.rejects(engine.start(agent("openai:gpt-4.1-mini"), huge), (error: unknown) => {
          assert.ok(isUserError(error));
          assert.match(error.message, /^The input is 3\.0 MB; Temporal takes at most 2\.0 MB in a run's input\.\n.*file an MCP server can read/);
          assert.equal(error.name, "InputTooLarge");
          return true;
        });
        // An agent whose own definition is what is big is named, not the short input given.
        const wordy: RunTarget = { kind: "agent", name: "wordy", agent: { name: "wordy", instruction: huge, model: "openai:gpt-4.1-mini" } };
        await assert.rejects(engine.start(wordy, "hi"), (error: unknown) => {
          assert.ok(isUserError(error));
          assert.match(error.message, /^The run's input is 3\.0 MB, most of it the definition of agent 'wordy' \(the input given is 4 bytes\); Temporal takes at most 2\.0 MB in a run's input\.\n.*Shorten the definition/);
          return true;
        });
        assert.equal(model.requests.length, 0);
      });
    } finally {
      await model.close();
    }
  });

  test("a model answer over Temporal's payload limit fails its run at once, saying what and why, not the SDK's payload error after every retry", async () => {
    const model = await startScriptedModelServer([{ text: "y".repeat(3 * 1024 * 1024) }], { quiet: true });
    try {
      await withTemporalWorker(env, configFor(model, join(dir, "big-answer.log"), { llm: { maximumAttempts: 3 } }), async (engine) => {
        const failure = await failureOf(await engine.start(agent("openai:gpt-4.1-mini"), "say a lot"));
        assert.match(failure.message, /The result of llm openai:gpt-4\.1-mini \(worker\) is 3\.0 MB; Temporal records at most 2 MB in a step's result\. Ask the model for a shorter answer/);
        assert.equal(model.requests.length, 1, "not retried");
      });
    } finally {
      await model.close();
    }
  });

  test("a server on which no worker has registered the search attributes: start registers them and tags the run", async () => {
    const server = await startDevServer({ ui: false, install: true });
    const model = await startScriptedModelServer([], { quiet: true });
    try {
      const config = configFor(model, join(dir, "fresh.log"), {});
      const fresh: DuragentConfig = { ...config, temporal: { ...config.temporal, address: server.address, taskQueue: "fresh" } };
      const engine = await TemporalEngine.connect(fresh, runSettingsFromConfig(fresh));
      try {
        const handle = await engine.start(agent("openai:gpt-4.1-mini"), "record_step");
        const connection = await Connection.connect({ address: server.address });
        try {
          const description = await new Client({ connection }).workflow.getHandle(handle.runId).describe();
          assert.deepEqual(description.searchAttributes.DuragentAgent, ["worker"]);
          assert.deepEqual(description.searchAttributes.DuragentPhase, ["running"]);
        } finally {
          await connection.close();
        }
      } finally {
        await engine.close();
      }
    } finally {
      await model.close();
      await server.stop();
    }
  });
});

test("a run whose workflow code no longer replays: status says so, with the worker's words and the phase last told, not as a bug", async () => {
  const { QueryNotRegisteredError } = await import("@temporalio/client");
  const { isReplayFailing } = await import("../src/client/temporal-errors.js");
  const { replayFailingStatus } = await import("../src/client/temporal-engine.js");
  // As the client hands on a status query whose replay hit a change of shape (the eleventh user test's).
  const error = new QueryNotRegisteredError("[TMPRL1100] Nondeterminism error: Activity machine does not handle this event: HistoryEvent(id: 11, UpsertWorkflowSearchAttributes)", 3);
  assert.equal(isReplayFailing(error), true);
  assert.equal(isReplayFailing(new QueryNotRegisteredError("Query handler not found: duragent.status", 3)), false);
  const status = replayFailingStatus("plan-1", "waiting_input", error);
  assert.equal(status.phase, "waiting_input");
  assert.match(status.partial ?? "", /no longer replays this run's history .*patched\(\).*duragent terminate/);
  assert.equal(status.lastError, "[TMPRL1100] Nondeterminism error: Activity machine does not handle this event: HistoryEvent(id: 11, UpsertWorkflowSearchAttributes)");
  // The eighteenth user test's: a workflow export renamed under a waiting run (status exited 70),
  // and workers rolled back below a patched() change (status blamed a missing patched()).
  const renamed = new QueryNotRegisteredError("Failed to initialize workflow of type 'review': no such function is exported by the workflow bundle", 3);
  assert.equal(isReplayFailing(renamed), true);
  assert.match(replayFailingStatus("review-1", "waiting_input", renamed).partial ?? "", /^the workers' workflow code does not export this run's workflow \(renamed or removed since the run started, a module not loaded, or a prebuilt bundle older than the code\), .*the code it started on.*duragent terminate/);
  const rolledBack = new Error("[TMPRL1100] Nondeterminism error: Non-deprecated patch marker encountered for change outline-first, but there is no corresponding change command!");
  assert.match(replayFailingStatus("review-2", "waiting_input", rolledBack).partial ?? "", /^the workers run code older than this run: it passed a `patched\(\)` change their code lacks/);
});

test("a query the server refuses because no worker polled lately is a NoWorker user error (exit 5), not a bug (the twentieth user test's status exited 70)", async () => {
  const { ServiceError } = await import("@temporalio/client");
  const { explainTemporalError, isNoRecentPoller } = await import("../src/client/temporal-errors.js");
  // As the client hands on the server's refusal of a status query after the worker's SIGTERM.
  const grpc = Object.assign(new Error("9 FAILED_PRECONDITION: no poller seen for task queue recently, worker may be down"), { code: 9, details: "no poller seen for task queue recently, worker may be down", metadata: {} });
  const refused = new ServiceError("Failed to query Workflow", { cause: grpc });
  assert.equal(isNoRecentPoller(refused), true);
  assert.equal(isNoRecentPoller(new ServiceError("Failed to query Workflow", { cause: Object.assign(new Error("9 FAILED_PRECONDITION: Workflow Task in failed state"), { code: 9, details: "Workflow Task in failed state" }) })), false);
  const said = explainTemporalError(refused, { address: "127.0.0.1:7233", namespace: "default", taskQueue: "q" } as DuragentConfig["temporal"]);
  assert.equal(said?.name, "NoWorker");
  assert.equal(said?.exitCode, 5);
  assert.match(said?.message ?? "", /^No worker has polled the run's task queue lately/);
});

test("a local Temporal address that refuses is told at once; one that listens (as localhost too), or a remote one, is left to the SDK", async () => {
  const { createServer } = await import("node:net");
  const { loopbackRefusal } = await import("../src/client/tls-probe.js");
  const listening = createServer().listen(0, "127.0.0.1");
  await new Promise((resolve) => listening.once("listening", resolve));
  const port = (listening.address() as { port: number }).port;
  try {
    assert.equal(await loopbackRefusal(`127.0.0.1:${port}`), undefined);
    // localhost may name ::1 first, where nothing listens: not a refusal while 127.0.0.1 takes it.
    assert.equal(await loopbackRefusal(`localhost:${port}`), undefined);
  } finally {
    await new Promise((resolve) => listening.close(resolve));
  }
  assert.equal(await loopbackRefusal(`127.0.0.1:${port}`), "connection refused (ECONNREFUSED)");
  assert.equal(await loopbackRefusal(`localhost:${port}`), "connection refused (ECONNREFUSED)");
  assert.equal(await loopbackRefusal(`temporal.example.com:${port}`), undefined);
});

test("workers that stopped polling minutes ago are told apart from those polling now (the server lists them for minutes)", async () => {
  const { lastPolled } = await import("../src/client/temporal-engine.js");
  const now = 1_000_000_000;
  assert.equal(lastPolled("app", { count: 2, lastSeenMs: now - 3_000, seenMs: [now - 3_000, now - 50_000] }, now), "2 workers polled task queue 'app' (last seen 3 s ago)");
  // The eighteenth user test's: "6 workers polled" with one alive after a few restarts.
  assert.equal(
    lastPolled("app", { count: 6, lastSeenMs: now - 3_000, seenMs: [now - 3_000, now - 90_000, now - 120_000, now - 150_000, now - 200_000, now - 240_000] }, now),
    "a worker polled task queue 'app' (last seen 3 s ago; 5 more not in the last minute: stopped)",
  );
  assert.equal(lastPolled("app", { count: 2, lastSeenMs: now - 95_000, seenMs: [now - 95_000, now - 200_000] }, now), "2 workers polled task queue 'app', none in the last minute (last seen 95 s ago: stopped since?)");
});

test("starting or answering with only workers gone for over a minute warns as when none polls (the nineteenth user test's silence)", async () => {
  const { workerWarningText } = await import("../src/client/temporal-engine.js");
  const now = 1_000_000_000;
  const gone = { count: 1, lastSeenMs: now - 111_000, seenMs: [now - 111_000] };
  assert.equal(
    workerWarningText("ut19", "localhost:7466", gone, "the run waits until one does", {}, now),
    "A worker polled task queue 'ut19', none in the last minute (last seen 111 s ago: stopped since?); the run waits until one does. Start one with `duragent worker` (or `duragent dev` for a local server and worker).",
  );
  // One polling now: nothing to say unless asked.
  assert.equal(workerWarningText("ut19", "localhost:7466", { count: 1, lastSeenMs: now - 2_000, seenMs: [now - 2_000] }, "the run waits until one does", {}, now), undefined);
  assert.equal(workerWarningText("ut19", "localhost:7466", { count: 0 }, "the run waits until one does", {}, now), "No worker is polling task queue 'ut19' on localhost:7466; the run waits until one does. Start one with `duragent worker` (or `duragent dev` for a local server and worker).");
});

test("every UserError's name is one of userErrorNames, which a program's switch can check: the classes', the options', the source's", async () => {
  const { userErrorNames } = await import("../src/index.js");
  assert.equal(new Set(userErrorNames).size, userErrorNames.length);
  for (const error of [new RunFailed("r-1", "failed", "why"), new RunAlreadyEnded("r-1", "completed", "cancel"), new InvalidRunInput("t", "bad", new z.ZodError([]), [])]) {
    assert.ok(isUserError(error) && userErrorNames.includes(error.name), error.name);
  }
  // Names given in code that tsc cannot see through (a cast) would show here; "Error" is a plain Error's.
  const { execFileSync } = await import("node:child_process");
  const named = execFileSync("grep", ["-rhoE", 'name: "[A-Z][A-Za-z]+"', fileURLToPath(new URL("../src", import.meta.url))], { encoding: "utf8" });
  const unknown = new Set([...named.matchAll(/name: "([A-Za-z]+)"/g)].map((match) => match[1]!).filter((name) => name !== "Error" && !(userErrorNames as readonly string[]).includes(name)));
  assert.deepEqual([...unknown], []);
});

describe("a retry's step on Temporal", () => {
  test("is the retrying activity's own, not the run's current step, when several are in flight", async () => {
    const converter = loadDataConverter({});
    const activity = (activityId: string, type: string, attempt: number) => ({
      activityId,
      activityType: { name: type },
      attempt,
      maximumAttempts: 5,
      ...(attempt > 1 ? { lastFailure: { message: "openai had a server error (500)" } } : {}),
    });
    const describe = (...pendingActivities: object[]) => ({ raw: { pendingActivities } }) as unknown as WorkflowExecutionDescription;
    const many = await pendingActivitiesState(describe(activity("1", "callLlm", 2), activity("2", "callTool", 1)), converter, "tool warehouse/write_result");
    assert.deepEqual([many.retrying?.step, many.retryingActivityId], ["callLlm", "1"]);
    const one = await pendingActivitiesState(describe(activity("1", "callLlm", 2)), converter, "llm openai:m (classifier)");
    assert.deepEqual([one.retrying?.step, one.retryingActivityId], ["llm openai:m (classifier)", undefined]);
  });
});
