/**
 * The rest of MCP, durable: a server's elicitation (form and URL) becomes a pending input request
 * of the run and is answered through the normal input path; sampling is answered by our models,
 * optionally after a person accepts; prompts and resources are steps; progress shows in the
 * status; cancelling a run cancels the MCP request. The same tests run on the memory engine and
 * on a real Temporal server, plus one where the worker dies after the answer and before the result.
 * Run: node --import tsx --test test/mcp-features.test.ts
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { ApplicationFailure } from "@temporalio/common";
import { ServiceError, WorkflowUpdateFailedError } from "@temporalio/client";
import { unreachableUnlessRefused } from "../src/activities/temporal-run-channel.js";
import { textOf } from "../src/common/messages.js";
import type { QuestionRequest, RunStatus } from "../src/common/run-status.js";
import type { ToolResult } from "../src/common/tools.js";
import type { DuragentConfig } from "../src/config/schema.js";
import { runSettingsFromConfig } from "../src/config/load-config.js";
import { InvalidRunMessage, type Engine, type RunHandle } from "../src/client/engine.js";
import { findRunTarget, type RunTarget } from "../src/client/run-targets.js";
import type { RunEvent } from "../src/client/run-events.js";
import { statusText } from "../src/cli/status-text.js";
import { TemporalEngine } from "../src/client/temporal-engine.js";
import { createLogger } from "../src/logger.js";
import { startScriptedModelServer, type ModelScript, type ScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { createWorker } from "../src/worker.js";
import { bundleWorkflows } from "./support/runtime.js";
import type { DuragentWorkflow } from "../src/workflows/index.js";
import { callOneTool, callToolsAtOnce, gatherContext, type CallToolInput, type ContextOutput } from "./fixtures/mcp-workflows.js";
import { everythingServer, packageBin } from "./support/mcp-servers.js";
import { spawn } from "node:child_process";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { createCallLlm } from "../src/activities/llm/call-llm.js";
import { createProviderRegistry } from "../src/activities/llm/provider-registry.js";
import { RunUnreachable, type ServerRequest } from "../src/common/server-requests.js";
import { McpConnectionPool } from "../src/activities/mcp/connection-pool.js";
import { chooseSamplingModel } from "../src/activities/mcp/server-requests.js";
import { toToolResult } from "../src/activities/mcp/tool-results.js";
import { checkElicitationAnswer } from "../src/common/elicitation-schema.js";
import { answerToQuestion } from "../src/client/answer-text.js";
import { memoryEngine, testConfig, withTemporalWorker } from "./support/runtime.js";
import { startTestTemporal } from "./support/temporal.js";
import { waitFor, waitForPhase } from "./support/wait.js";

const fixtures = fileURLToPath(new URL("./fixtures/mcp-workflows.ts", import.meta.url));
const patientServer = fileURLToPath(new URL("./fixtures/patient-mcp-server.mjs", import.meta.url));
const urlGateServer = fileURLToPath(new URL("./fixtures/url-gate-mcp-server.ts", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "duragent-mcp-features-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const call = (input: CallToolInput): [RunTarget, CallToolInput] => [
  { kind: "workflow", name: "callOneTool", workflow: callOneTool as unknown as DuragentWorkflow },
  input,
];

let eventsCount = 0;
function eventsFile(): string {
  return join(scratch, `events-${++eventsCount}.jsonl`);
}
function readEvents(file: string): { pid: number; event: string; answer?: unknown }[] {
  try {
    return readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line));
  } catch {
    return [];
  }
}


function onlyInput(status: RunStatus): QuestionRequest {
  assert.equal(status.pending.length, 1, JSON.stringify(status.pending));
  const request = status.pending[0]!;
  assert.equal(request.kind, "input");
  return request as QuestionRequest;
}

const resultText = async (handle: RunHandle): Promise<string> => textOf(((await handle.result()) as ToolResult).content);

function configFor(model: ScriptedModelServer, events: string): DuragentConfig {
  return testConfig(model, {
    mcp: {
      servers: {
        everything: everythingServer(),
        exclusive: { ...everythingServer(), exclusiveCalls: true },
        approved: { ...everythingServer(), sampling: { approval: true, model: "anthropic:scripted-sampler" } },
        unsampled: { ...everythingServer(), sampling: false },
        gate: { command: process.execPath, args: ["--import", "tsx", urlGateServer] },
        // A second of its own work an attempt, once: less than a person takes to answer.
        hasty: { ...everythingServer(), timeoutMs: 1_000, startupTimeoutMs: 30_000, execution: { startToCloseTimeoutMs: 1_000, maximumAttempts: 1 } },
        patient: { command: process.execPath, args: [patientServer], env: { PATIENT_EVENTS: events } },
      },
    },
    modules: [fixtures],
    agents: { sampled: { instruction: "You use the everything server.", servers: ["everything"] } },
  });
}

type EngineRunner = <T>(script: ModelScript, body: (engine: Engine, model: ScriptedModelServer, events: string) => Promise<T>) => Promise<T>;

function engineTests(name: string, withEngine: () => EngineRunner) {
  describe(`MCP features (${name})`, () => {
    test("form elicitation: a pending input with the server's schema; validated, defaults filled, the server gets the answer", async () => {
      await withEngine()([], async (engine) => {
        const handle = await engine.start(...call({ server: "everything", tool: "trigger-elicitation-request" }));
        const request = onlyInput(await waitForPhase(handle, "waiting_input"));
        assert.equal(request.prompt, "Please provide inputs for the following fields:");
        assert.deepEqual(request.origin, { server: "everything", tool: "trigger-elicitation-request", kind: "elicitation" });
        assert.deepEqual(request.schema?.required, ["name"]);
        assert.equal(request.url, undefined);

        await assert.rejects(handle.answer({ value: { check: true } }), (error: unknown) => {
          assert.ok(error instanceof InvalidRunMessage, String(error));
          assert.match(error.message, /name is required/);
          return true;
        });
        await assert.rejects(handle.answer({ value: { name: "Ada", integer: 500 } }), /integer must be at most 100/);
        await assert.rejects(handle.answer({ value: { name: "Ada", colour: "red" } }), /colour is not a requested field/);
        assert.equal((await handle.status()).phase, "waiting_input");

        await handle.answer({ requestId: request.id, value: { name: "Ada Lovelace", check: true } });
        const text = await resultText(handle);
        assert.match(text, /User provided the requested information/);
        assert.match(text, /Name: Ada Lovelace/);
        // Defaults from the schema were filled in before the server saw the answer.
        assert.match(text, /Favorite Integer: 42/);
        assert.match(text, /"untitledMultipleSelectEnum": \[\s*"Guitar"\s*\]/);
        const done = await handle.status();
        assert.equal(done.phase, "completed");
        assert.deepEqual(done.pending, []);
      });
    });

    test("two calls at once on one connection: the server's question is refused as nobody's; with exclusiveCalls each call has its own, and the question reaches the run", async () => {
      const atOnce = (server: string): [RunTarget, { calls: CallToolInput[] }] => [
        { kind: "workflow", name: "callToolsAtOnce", workflow: callToolsAtOnce as unknown as DuragentWorkflow },
        { calls: [{ server, tool: "trigger-long-running-operation", arguments: { duration: 3, steps: 3 } }, { server, tool: "trigger-elicitation-request" }] },
      ];
      await withEngine()([], async (engine) => {
        const shared = await engine.start(...atOnce("everything"));
        const [, refused] = (await shared.result()) as ToolResult[];
        assert.equal(refused!.isError, true);
        assert.match(textOf(refused!.content), /cannot tell which of 2 concurrent tool calls .*mcp\.servers\.everything\.exclusiveCalls: true/);

        const exclusive = await engine.start(...atOnce("exclusive"));
        const request = onlyInput(await waitForPhase(exclusive, "waiting_input"));
        assert.deepEqual(request.origin, { server: "exclusive", tool: "trigger-elicitation-request", kind: "elicitation" });
        await exclusive.answer({ requestId: request.id, value: { name: "Ada" } });
        const [long, asked] = (await exclusive.result()) as ToolResult[];
        assert.match(textOf(long!.content), /Long running operation completed/);
        assert.match(textOf(asked!.content), /Name: Ada/);
      });
    });

    test("elicitation may be declined or cancelled; the run's own questions may not", async () => {
      await withEngine()([], async (engine) => {
        for (const action of ["decline", "cancel"] as const) {
          const handle = await engine.start(...call({ server: "everything", tool: "trigger-elicitation-request" }));
          await waitForPhase(handle, "waiting_input");
          await handle.answer({ value: null, action });
          assert.match(await resultText(handle), action === "decline" ? /User declined/ : /User cancelled/);
        }
      });
    });

    test("URL elicitation: the status carries the URL; accepting tells the server the person is done", async () => {
      await withEngine()([], async (engine) => {
        const url = "https://example.com/pay?order=7";
        const handle = await engine.start(...call({ server: "everything", tool: "trigger-url-elicitation", arguments: { url, message: "Pay here" } }));
        const request = onlyInput(await waitForPhase(handle, "waiting_input"));
        assert.equal(request.url, url);
        assert.equal(request.prompt, "Pay here");
        assert.equal(request.schema, undefined);
        await handle.answer({ value: null });
        assert.match(await resultText(handle), /User completed the URL elicitation flow/);
      });
    });

    test("a tool whose server needs the person at a URL first (-32042): the run asks with the URL, and the call is made again once they are done", async () => {
      await withEngine()([], async (engine) => {
        const handle = await engine.start(...call({ server: "gate", tool: "open-vault" }));
        const request = onlyInput(await waitForPhase(handle, "waiting_input"));
        assert.equal(request.url, "https://vault.example.com/sign-in?session=1");
        assert.equal(request.prompt, "Sign in to the vault.");
        assert.deepEqual(request.origin, { server: "gate", tool: "open-vault", kind: "elicitation" });
        await handle.answer({ value: null });
        assert.equal(await resultText(handle), "vault open after 1 refusal");
      });
    });

    test("sampling is answered by the configured model through the provider layer", async () => {
      await withEngine()([{ text: "sampled: forty-two" }], async (engine, model) => {
        const handle = await engine.start(...call({ server: "everything", tool: "trigger-sampling-request", arguments: { prompt: "meaning of life?", maxTokens: 64 } }));
        const text = await resultText(handle);
        assert.match(text, /sampled: forty-two/);
        assert.match(text, /"model": "gpt-4\.1-mini"/);
        assert.equal(model.requests.length, 1);
        const body = model.requests[0]!.body as { model: string; max_tokens: number; temperature: number; messages: unknown[] };
        assert.equal(model.requests[0]!.path, "/v1/chat/completions");
        assert.equal(body.model, "gpt-4.1-mini");
        assert.equal(body.max_tokens, 64); // max_tokens: the scripted server counts as a compatible server
        assert.equal(body.temperature, 0.7);
        assert.deepEqual(body.messages, [
          { role: "system", content: "You are a helpful test server." },
          { role: "user", content: [{ type: "text", text: "Resource trigger-sampling-request context: meaning of life?" }] },
        ]);
        // The run paid for the sampling, so its status counts the tokens the model served.
        const served = (model.requests[0]!.response?.body as { usage: { completion_tokens: number } }).usage.completion_tokens;
        assert.deepEqual(Object.keys((await handle.status()).usage), ["openai:gpt-4.1-mini"]);
        assert.equal((await handle.status()).usage["openai:gpt-4.1-mini"]!.outputTokens, served);
      });
    });

    test("an agent's result counts the model calls its tools' servers asked for (sampling), as its status does", async () => {
      const script: ModelScript = [
        { toolCalls: [{ name: "everything_trigger-sampling-request", arguments: { prompt: "meaning of life?", maxTokens: 32 } }] },
        { text: "sampled: forty-two" },
        { text: "The server heard forty-two." },
      ];
      await withEngine()(script, async (engine, model, events) => {
        const handle = await engine.start(await findRunTarget(configFor(model, events), "sampled"), "Ask the server to sample.");
        const result = (await handle.result()) as { text: string; usage: Record<string, { outputTokens: number }> };
        assert.equal(result.text, "The server heard forty-two.");
        assert.equal(model.requests.length, 3);
        const served = model.requests.reduce((sum, request) => sum + (request.response?.body as { usage: { completion_tokens: number } }).usage.completion_tokens, 0);
        assert.deepEqual(Object.keys(result.usage), ["openai:gpt-4.1-mini"]);
        assert.equal(result.usage["openai:gpt-4.1-mini"]!.outputTokens, served);
        assert.deepEqual((await handle.status()).usage, result.usage);
      });
    });

    test("sampling held for approval: declined never reaches the model; accepted goes to the server's model", async () => {
      await withEngine()([{ text: "approved answer" }], async (engine, model) => {
        const declined = await engine.start(...call({ server: "approved", tool: "trigger-sampling-request", arguments: { prompt: "first" } }));
        const first = onlyInput(await waitForPhase(declined, "waiting_input"));
        assert.deepEqual(first.origin, { server: "approved", tool: "trigger-sampling-request", kind: "sampling" });
        assert.match(first.prompt, /asks to send this to anthropic:scripted-sampler.*first.*Answer yes to send it, or no to refuse it\.$/);
        await declined.answer({ value: null, action: "decline" });
        const refused = (await declined.result()) as ToolResult;
        assert.equal(refused.isError, true);
        assert.match(textOf(refused.content), /declined the sampling request/);
        assert.equal(model.requests.length, 0);

        const accepted = await engine.start(...call({ server: "approved", tool: "trigger-sampling-request", arguments: { prompt: "second" } }));
        await waitForPhase(accepted, "waiting_input");
        await accepted.answer({ value: true });
        assert.match(await resultText(accepted), /approved answer/);
        assert.equal(model.requests[0]!.path, "/v1/messages");
      });
    });

    test("sampling approval: a no, however said, refuses the request; an answer neither yes nor no is refused and the question stays", async () => {
      await withEngine()([{ text: "sent after a yes" }], async (engine, model) => {
        // The question says how to answer it, as the terminal shows it.
        const asked = await engine.start(...call({ server: "approved", tool: "trigger-sampling-request", arguments: { prompt: "unclear" } }));
        const question = onlyInput(await waitForPhase(asked, "waiting_input"));
        assert.match(statusText(await asked.status()), /Answer yes to send it, or no to refuse it\.  \(answer yes or no\)/);
        for (const unclear of ["maybe", null, 1, { approve: "perhaps" }]) {
          await assert.rejects(asked.answer({ value: unclear }), (error: unknown) => {
            assert.ok(error instanceof InvalidRunMessage, String(error));
            assert.match(error.message, /^The answer to input-1 is invalid: (approve must be true or false|the answer must be a JSON object)/);
            return true;
          });
        }
        // Typed where a question is asked: anything but yes or no is not sent at all.
        assert.throws(() => answerToQuestion("sure thing", question), /^InvalidRunMessage: The answer to input-1 is not valid JSON: "sure thing"; answer yes or no\.$/);
        assert.equal((await asked.status()).phase, "waiting_input");
        assert.equal(model.requests.length, 0);
        await asked.answer({ value: "yes" });
        assert.match(await resultText(asked), /sent after a yes/);
        assert.equal(model.requests.length, 1);

        // The API's "no" and false, a form's { approve: false }, and `n` typed at a prompt.
        const typedNo = answerToQuestion("n", question);
        assert.deepEqual(typedNo, { approve: false });
        for (const no of ["no", false, { approve: false }, typedNo]) {
          const handle = await engine.start(...call({ server: "approved", tool: "trigger-sampling-request", arguments: { prompt: `no as ${JSON.stringify(no)}` } }));
          await waitForPhase(handle, "waiting_input");
          await handle.answer({ value: no });
          const result = (await handle.result()) as ToolResult;
          assert.equal(result.isError, true, `${JSON.stringify(no)}: ${textOf(result.content)}`);
          assert.match(textOf(result.content), /declined the sampling request/);
        }
        assert.equal(model.requests.length, 1);
      });
    });

    test("sampling: false offers a server no sampling: it cannot reach the run's models", async () => {
      await withEngine()([{ text: "must not be asked" }], async (engine, model) => {
        const handle = await engine.start(...call({ server: "unsampled", tool: "trigger-sampling-request", arguments: { prompt: "spend your tokens" } }));
        const outcome = await handle.result().then((result) => textOf((result as ToolResult).content), (error: unknown) => String(error));
        // server-everything offers its sampling tool only to a client that declares sampling.
        assert.match(outcome, /^Unknown tool 'trigger-sampling-request' on server 'unsampled'\. Available: echo, /);
        assert.equal(model.requests.length, 0);
      });
    });

    test("prompts and resources are steps whose results go into a conversation", async () => {
      await withEngine()([], async (engine) => {
        const handle = await engine.start(
          { kind: "workflow", name: "gatherContext", workflow: gatherContext as unknown as DuragentWorkflow },
          { server: "everything", prompt: { name: "args-prompt", arguments: { city: "Lisbon", state: "PT" } }, resourceUri: "demo://resource/dynamic/text/3" },
        );
        const output = (await handle.result()) as ContextOutput;
        assert.ok(output.prompts.includes("simple-prompt"), output.prompts.join(","));
        assert.ok(output.resources.length > 0);
        assert.ok(output.templates.includes("demo://resource/dynamic/text/{resourceId}"), output.templates.join(","));
        const [prompt, resource] = output.messages;
        assert.equal(prompt?.role, "user");
        assert.match(textOf(prompt!.role === "user" ? prompt.content : ""), /Lisbon/);
        assert.equal(resource?.role, "user");
        const resourceText = textOf(resource!.role === "user" ? resource.content : "");
        assert.match(resourceText, /^Resource demo:\/\/resource\/dynamic\/text\/3/);
        assert.equal((await handle.status()).stepCount, 5);
      });
    });

    test("a server's question may be answered long after its tool call's own limit: the call waits for the answer, once, while its own work is still held to the limit", async () => {
      await withEngine()([], async (engine) => {
        // Started first, so the call's second is all the server's own work.
        assert.match(await resultText(await engine.start(...call({ server: "hasty", tool: "echo", arguments: { message: "up" } }))), /up/);
        const handle = await engine.start(...call({ server: "hasty", tool: "trigger-elicitation-request" }));
        const request = onlyInput(await waitForPhase(handle, "waiting_input"));
        // The person takes longer than the call's limit: time must pass, so this waits on the clock.
        await new Promise((resolve) => setTimeout(resolve, 2_500));
        const waiting = await handle.status();
        assert.equal(waiting.phase, "waiting_input");
        assert.deepEqual(waiting.pending.map((pending) => pending.id), [request.id]);
        await handle.answer({ value: { name: "Ada Lovelace" } });
        assert.match(await resultText(handle), /Name: Ada Lovelace/);

        // A call that works past its limit without asking anyone still ends there.
        const slow = await engine.start(...call({ server: "hasty", tool: "trigger-long-running-operation", arguments: { duration: 5, steps: 10 } }));
        await assert.rejects(slow.result(), (error: unknown) => {
          assert.match(String((error as Error).message), /tool hasty\/trigger-long-running-operation' timed out: it got no result within its start-to-close timeout of 1 s \(mcp\.servers\.hasty\.execution\.startToCloseTimeoutMs\)\. Attempts allowed: 1\./);
          return true;
        });
      });
    });

    test("progress notifications show in the status while the tool runs", async () => {
      await withEngine()([], async (engine) => {
        const handle = await engine.start(...call({ server: "everything", tool: "trigger-long-running-operation", arguments: { duration: 3, steps: 6 } }));
        const watched = (async () => {
          const seen: RunEvent[] = [];
          for await (const event of handle.events()) seen.push(event);
          return seen;
        })();
        const [progress, shown] = await waitFor("progress", async () => {
          const status = await handle.status();
          const entry = status.progress?.find((candidate) => candidate.progress >= 1);
          return entry && ([entry, statusText(status)] as const);
        });
        assert.equal(progress.step, "tool everything/trigger-long-running-operation");
        assert.equal(progress.total, 6);
        // As `duragent status` prints it.
        assert.match(shown, /\n {2}progress of tool everything\/trigger-long-running-operation: \d\/6(, .+)?$/m);
        assert.match(await resultText(handle), /completed/i);
        assert.equal((await handle.status()).progress, undefined);
        // As `watch --events` prints them: each new report once, in order.
        const reports = (await watched).filter((event) => event.type === "progress");
        assert.ok(reports.length >= 1, JSON.stringify(reports));
        for (const [index, report] of reports.entries()) {
          assert.equal(report.step, "tool everything/trigger-long-running-operation");
          assert.equal(report.total, 6);
          if (index > 0) assert.ok(report.progress > reports[index - 1]!.progress);
        }
      });
    });

    test("cancelling the run cancels the MCP request in flight", async () => {
      await withEngine()([], async (engine, _model, events) => {
        const handle = await engine.start(...call({ server: "patient", tool: "wait", arguments: { ms: 60_000 } }));
        await waitFor("the call to start", async () => (readEvents(events).some((e) => e.event === "wait-start") ? true : undefined));
        await handle.cancel();
        await assert.rejects(handle.result(), /cancel/i);
        await waitFor("the server to see the cancellation", async () => (readEvents(events).some((e) => e.event === "cancelled") ? true : undefined));
      });
    });
  });
}

engineTests("memory", () => async (script, body) => {
  const model = await startScriptedModelServer(script, { quiet: true });
  const events = eventsFile();
  const engine = memoryEngine(configFor(model, events));
  try {
    return await body(engine, model, events);
  } finally {
    await engine.close();
    await model.close();
  }
});

let env: TestWorkflowEnvironment;
let bundle: Awaited<ReturnType<typeof bundleWorkflows>>;
before(async () => {
  [env, bundle] = await Promise.all([startTestTemporal(), bundleWorkflows([fixtures])]);
});
after(async () => {
  await env?.teardown();
});

engineTests("temporal", () => async (script, body) => {
  const model = await startScriptedModelServer(script, { quiet: true });
  const events = eventsFile();
  try {
    return await withTemporalWorker(env, configFor(model, events), (engine) => body(engine, model, events), { workflowBundle: bundle });
  } finally {
    await model.close();
  }
});

describe("elicitation on Temporal survives the worker", () => {
  test("a worker dies after the answer and before the result: the retried call reuses the answer, nobody is asked twice", async () => {
    const model = await startScriptedModelServer([], { quiet: true });
    const events = eventsFile();
    const base = configFor(model, events);
    const config: DuragentConfig = {
      ...base,
      temporal: { ...base.temporal, address: env.address, taskQueue: `crash-${Date.now()}` },
      // A dead worker's attempt is noticed by its missing heartbeats.
      execution: { ...base.execution, tools: { heartbeatTimeoutMs: 2_000, initialIntervalMs: 100 } },
    };
    const startWorker = () =>
      createWorker({ config, logger: createLogger("test-worker", "silent"), workflowBundle: bundle }).then((worker) => ({
        worker,
        running: worker.worker.run(),
      }));
    const engine = await TemporalEngine.connect(config, runSettingsFromConfig(config));
    let second: Awaited<ReturnType<typeof startWorker>> | undefined;
    try {
      const first = await startWorker();
      const handle = await engine.start(...call({ server: "patient", tool: "book-table", arguments: { workMs: 30_000 } }));
      const request = onlyInput(await waitForPhase(handle, "waiting_input"));
      assert.deepEqual(request.origin, { server: "patient", tool: "book-table", kind: "elicitation" });
      await handle.answer({ value: { name: "Grace" } });
      await waitFor("the server to get the answer", async () => (readEvents(events).some((e) => e.event === "answer") ? true : undefined));

      // The worker goes away mid-call, its MCP server with it.
      first.worker.worker.shutdown();
      await first.running;
      await first.worker.close();

      // A new worker retries the call; the server asks again and gets the stored answer.
      second = await startWorker();
      const seen: RunStatus[] = [];
      const result = handle.result() as Promise<ToolResult>;
      const watching = (async () => {
        for (let done = false; !done; ) {
          seen.push(await handle.status());
          done = await Promise.race([result.then(() => true, () => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 100))]);
        }
      })();
      // The retried attempt works quickly this time: the answer is what matters.
      const text = textOf((await result).content);
      await watching;
      assert.match(text, /booked: \{"action":"accept","content":\{"name":"Grace","guests":2\}\}/);
      const asked = readEvents(events).filter((e) => e.event === "elicit");
      // Once per attempt: two, or three when a worker stopping under an attempt's question failed it.
      assert.ok(asked.length === 2 || asked.length === 3, `the server asked ${asked.length} times`);
      assert.notEqual(asked[0]!.pid, asked.at(-1)!.pid, "the retried attempt ran on a new server process");
      assert.ok(seen.every((status) => status.pending.length === 0), "the person was not asked again");
    } finally {
      if (second) {
        second.worker.worker.shutdown();
        await second.running;
        await second.worker.close();
      }
      await engine.close();
      await model.close();
    }
  });
});

describe("content reaches each provider in the form it accepts", () => {
  const toolTurn: ModelScript = [
    {
      toolCalls: [
        { name: "everything_get-tiny-image", arguments: {} },
        { name: "everything_get-resource-reference", arguments: { resourceType: "Text", resourceId: 2 } },
        { name: "everything_get-structured-content", arguments: { location: "Chicago" } },
        { name: "everything_get-resource-links", arguments: { count: 1 } },
      ],
    },
    { text: "seen" },
  ];
  const viewer: RunTarget = { kind: "agent", name: "viewer", agent: { name: "viewer", instruction: "Look.", servers: ["everything"] } };

  for (const wire of ["openai", "anthropic"] as const) {
    test(`${wire}: images, embedded resources, structured output and links`, async () => {
      const model = await startScriptedModelServer(toolTurn, { quiet: true });
      const engine = memoryEngine(
        testConfig(model, { mcp: { servers: { everything: everythingServer() } }, llm: { defaultModel: wire === "openai" ? "openai:gpt-4.1-mini" : "anthropic:scripted" } }),
      );
      try {
        const handle = await engine.start(viewer, "look");
        await handle.result();
        const body = model.requests[1]!.body as { messages: Record<string, unknown>[] };
        const json = JSON.stringify(body.messages);
        assert.match(json, /Resource link: /);
        assert.match(json, /\\"temperature\\":/, "structured output as JSON text");
        assert.match(json, /Dynamic text resource|resource/i);
        if (wire === "openai") {
          const roles = body.messages.map((message) => message.role);
          assert.deepEqual(roles, ["system", "user", "assistant", "tool", "tool", "tool", "tool", "user"]);
          const imageMessage = body.messages.at(-1) as { content: { type: string; text?: string; image_url?: { url: string } }[] };
          assert.match(imageMessage.content[0]!.text ?? "", /^Images returned by tool call call_\d+ \(everything_get-tiny-image\):$/);
          assert.match(imageMessage.content[1]!.image_url?.url ?? "", /^data:image\/png;base64,iVBOR/);
          assert.match(String(body.messages[3]!.content), /\[1 image attached in the next message\]/);
        } else {
          const results = (body.messages.at(-1) as { content: { type: string; content?: { type: string; source?: { media_type: string } }[] }[] }).content;
          assert.equal(results.length, 4);
          assert.ok(results.every((block) => block.type === "tool_result"));
          const image = results[0]!.content?.find((block) => block.type === "image");
          assert.equal(image?.source?.media_type, "image/png");
        }
      } finally {
        await engine.close();
        await model.close();
      }
    });
  }
});

describe("worker-side details", () => {
  test("model hints pick a configured model, exactly or in part; otherwise the fallback", () => {
    const candidates = ["anthropic:claude-haiku-4-5", "openai:gpt-4.1-mini", "openai:gpt-4.1"];
    assert.equal(chooseSamplingModel({ hints: [{ name: "gpt-4.1" }] }, candidates, "x:y"), "openai:gpt-4.1");
    assert.equal(chooseSamplingModel({ hints: [{ name: "claude" }] }, candidates, "x:y"), "anthropic:claude-haiku-4-5");
    assert.equal(chooseSamplingModel({ hints: [{ name: "gemini" }, { name: "mini" }] }, candidates, "x:y"), "openai:gpt-4.1-mini");
    assert.equal(chooseSamplingModel({ hints: [{ name: "gemini" }] }, candidates, "x:y"), "x:y");
    assert.equal(chooseSamplingModel(undefined, candidates, "x:y"), "x:y");
  });

  test("elicitation answers: types, bounds, formats, enums, multi-select, defaults", () => {
    const schema = {
      type: "object",
      properties: {
        email: { type: "string", format: "email" },
        age: { type: "integer", minimum: 0, default: 30 },
        pets: { type: "array", items: { anyOf: [{ const: "cat" }, { const: "dog" }] }, maxItems: 1 },
        hero: { type: "string", oneOf: [{ const: "h1", title: "Superman" }] },
      },
      required: ["email"],
    };
    assert.deepEqual(checkElicitationAnswer(schema, { email: "a@b.co", hero: "h1" }), { ok: true, value: { email: "a@b.co", age: 30, hero: "h1" } });
    const bad = checkElicitationAnswer(schema, { email: "nope", age: 1.5, pets: ["cat", "cow"], hero: "h2" });
    assert.equal(bad.ok, false);
    assert.deepEqual(!bad.ok && bad.problems, [
      "email must be a valid email",
      "age must be an integer",
      'pets may only contain "cat", "dog"',
      "pets must have at most 1 items",
      'hero must be one of "h1"',
    ]);
    // A person's bare answer to a form of one field is read as that field asks and sent as the form's object (by the client, not the run).
    const form = (field: Record<string, unknown>) => ({ kind: "input" as const, id: "input-1", prompt: "?", origin: { server: "s", tool: "t", kind: "elicitation" as const }, schema: { type: "object", properties: { answer: field }, required: ["answer"] } });
    assert.deepEqual(answerToQuestion("Porto", form({ type: "string" })), { answer: "Porto" });
    assert.deepEqual(answerToQuestion("12345", form({ type: "string" })), { answer: "12345" });
    assert.deepEqual(answerToQuestion("yes", form({ type: "boolean" })), { answer: true });
    assert.deepEqual(answerToQuestion("12", form({ type: "number" })), { answer: 12 });
    assert.deepEqual(answerToQuestion('{"answer": "Faro"}', form({ type: "string" })), { answer: "Faro" });
    assert.deepEqual(checkElicitationAnswer(form({ type: "boolean" }).schema, answerToQuestion("no", form({ type: "boolean" }))), { ok: true, value: { answer: false } });
    // A run's own question of one field is not a form: its answer is its JSON.
    assert.equal(answerToQuestion("12", { kind: "input", id: "input-1", prompt: "?", schema: { type: "object", properties: { amount: { type: "number" } } } }), 12);
    assert.deepEqual(checkElicitationAnswer(schema, "a@b.co"), { ok: false, problems: ["the answer must be a JSON object with the requested fields"] });
  });

  test("an embedded image resource stays an image; structured output shows when a result has no text", () => {
    const result = toToolResult({
      content: [{ type: "resource", resource: { uri: "demo://chart.png", blob: "iVBORw0KGgo=", mimeType: "image/png" } }],
      structuredContent: { total: 3 },
    });
    assert.deepEqual(result.content, [
      { type: "image", data: "iVBORw0KGgo=", mimeType: "image/png" },
      { type: "text", text: '{"total":3}' },
    ]);
  });

  for (const mode of ["streamableHttp", "sse"] as const) {
    test(`elicitation and sampling over ${mode === "sse" ? "SSE" : "Streamable HTTP"}`, async () => {
      const port = await new Promise<number>((resolve) => {
        const probe = createNetServer().listen(0, "127.0.0.1", () => {
          const { port: free } = probe.address() as AddressInfo;
          probe.close(() => resolve(free));
        });
      });
      const child = spawn(process.execPath, [packageBin("@modelcontextprotocol/server-everything"), mode], {
        env: { ...process.env, PORT: String(port) },
        stdio: ["ignore", "ignore", "ignore"],
      });
      const model = await startScriptedModelServer([{ text: "over the wire" }], { quiet: true });
      const url = `http://127.0.0.1:${port}/${mode === "sse" ? "sse" : "mcp"}`;
      const pool = new McpConnectionPool(
        { everything: mode === "sse" ? { url, transport: "sse" } : { url, transport: "http" } },
        { sampling: { callLlm: createCallLlm(createProviderRegistry(testConfig(model).llm)), defaultModel: "openai:gpt-4.1-mini" } },
      );
      try {
        await waitFor("the server to listen", () => pool.listTools("everything").then(() => true, () => undefined));
        const asked: ServerRequest[] = [];
        const elicited = await pool.callTool(
          { server: "everything", tool: "trigger-elicitation-request", arguments: {}, callId: "call-1" },
          { askPerson: async (request) => (asked.push(request), { action: "accept", content: { name: "Lin" } }) },
        );
        assert.match(textOf(elicited.content), /Name: Lin/);
        assert.equal(asked[0]?.key, "call-1#1");
        const sampled = await pool.callTool({ server: "everything", tool: "trigger-sampling-request", arguments: { prompt: "hi" } });
        assert.match(textOf(sampled.content), /over the wire/);
      } finally {
        await pool.closeAll();
        child.kill("SIGKILL");
        await model.close();
      }
    });
  }

  test("a question the run cannot be asked fails the call, to be retried, rather than becoming the tool's error result", async () => {
    const pool = new McpConnectionPool({ everything: everythingServer() });
    const call = { server: "everything", tool: "trigger-elicitation-request", arguments: {}, callId: "call-1" };
    try {
      await pool.listTools("everything");
      const { pid } = (await pool.getConnection("everything"))!;
      // The run's refusal is the server's to hear, and the model's: the call ends with the tool's error.
      const refused = await pool.callTool(call, { askPerson: async () => Promise.reject(new Error("the run refused the question")) });
      assert.equal(refused.isError, true);
      assert.match(textOf(refused.content), /the run refused the question/);
      // What a worker that stops while the question's update is in flight sees.
      const unreachable = new RunUnreachable("Workflow Update failed");
      await assert.rejects(pool.callTool(call, { askPerson: async () => Promise.reject(unreachable) }), (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure, String(error));
        assert.equal(error.type, "RunUnreachable");
        assert.equal(error.nonRetryable, false);
        assert.equal(error.cause, unreachable);
        assert.match(error.message, /MCP server 'everything' asked a question during trigger-elicitation-request that could not reach its run \(Workflow Update failed\)/);
        return true;
      });
      // The server is fine: the retry, once the run can be reached, gets the answer from the same process.
      const retried = await pool.callTool(call, { askPerson: async () => ({ action: "accept", content: { name: "Ada" } }) });
      assert.match(textOf(retried.content), /Name: Ada/);
      assert.equal((await pool.getConnection("everything"))?.pid, pid);
    } finally {
      await pool.closeAll();
    }
  });

  test("a message to the run that failed on its way is told apart from the run's refusal", () => {
    const grpcError = (code: number) => Object.assign(new Error(`${code} service said no`), { code, details: "service said no", metadata: {} });
    const refusals = [
      // The run's validator refusing the request's shape.
      new WorkflowUpdateFailedError("Workflow Update failed", ApplicationFailure.nonRetryable("Malformed server request: key: Required", "InvalidServerRequest")),
      new ServiceError("Workflow Update failed", { cause: grpcError(3) }),
      new ServiceError("Workflow Update failed", { cause: grpcError(8) }),
    ];
    for (const refusal of refusals) assert.equal(unreachableUnlessRefused(refusal), refusal);
    for (const failure of [
      new ServiceError("Workflow Update failed", { cause: grpcError(14) }),
      new ServiceError("Workflow Update failed", { cause: grpcError(10) }),
      new Error("socket hang up"),
      // The server fails an Update itself when the workflow task that carried it failed (a worker stopping under it).
      new WorkflowUpdateFailedError("Workflow Update failed", ApplicationFailure.nonRetryable("Workflow Update failed because the Workflow Task failed", "WorkflowNotReady")),
      new WorkflowUpdateFailedError("Workflow Update failed", undefined),
    ]) {
      const sorted = unreachableUnlessRefused(failure);
      assert.ok(sorted instanceof RunUnreachable, String(sorted));
      assert.equal(sorted.cause, failure);
      assert.equal(sorted.message, failure.message);
    }
  });

  test("server log messages reach our logs at the mapped level", async () => {
    const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
    const at = (level: string) => (obj: Record<string, unknown>, msg?: string) => void lines.push({ level, obj, ...(msg !== undefined ? { msg } : {}) });
    const pool = new McpConnectionPool(
      { everything: { ...everythingServer(), logLevel: "debug" } },
      { logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } },
    );
    try {
      await pool.callTool({ server: "everything", tool: "toggle-simulated-logging", arguments: {} });
      const line = await waitFor("a server log line", async () => lines.find((entry) => entry.obj.mcpLevel !== undefined));
      const expected: Record<string, string> = { debug: "debug", info: "info", notice: "info", warning: "warn" };
      assert.equal(line.level, expected[String(line.obj.mcpLevel)] ?? "error");
      assert.equal(line.obj.mcpServer, "everything");
      // The server picks a level at random; its alert line is spelled "Alert level-message".
      assert.match(line.msg ?? "", /level[- ]message/i);
    } finally {
      await pool.closeAll();
    }
  });
});
