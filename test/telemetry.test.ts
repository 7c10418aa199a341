/**
 * Operators' view of a run on Temporal: one trace from `duragent run` through the workflow, every
 * activity and the model and MCP calls, received by a real OTLP/HTTP endpoint on loopback; the
 * worker's Prometheus endpoint scraped after the run; and log lines that name their run.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { textOf } from "../src/common/messages.js";
import { startScriptedModelServer, type ScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { sdkLogFields } from "../src/worker/runtime.js";
import { packageBin } from "./support/mcp-servers.js";
import { startTestTemporal } from "./support/temporal.js";
import { waitFor } from "./support/wait.js";

const cliPath = fileURLToPath(new URL("../bin/duragent.js", import.meta.url));

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  service: string;
  resource: OtlpSpan["attributes"];
}

/** An OTLP/HTTP receiver: the JSON encoding, which @opentelemetry/exporter-trace-otlp-http sends. */
async function startOtlpReceiver(): Promise<{ server: Server; url: string; spans: OtlpSpan[] }> {
  const spans: OtlpSpan[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        const request = JSON.parse(body) as {
          resourceSpans: { resource: { attributes: OtlpSpan["attributes"] }; scopeSpans: { spans: Omit<OtlpSpan, "service" | "resource">[] }[] }[];
        };
        for (const { resource, scopeSpans } of request.resourceSpans) {
          const service = String(attribute(resource.attributes, "service.name"));
          for (const scope of scopeSpans) for (const span of scope.spans) spans.push({ ...span, service, resource: resource.attributes });
        }
      }
      res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans };
}

function attribute(attributes: OtlpSpan["attributes"], key: string): unknown {
  const value = attributes?.find((entry) => entry.key === key)?.value;
  if (!value) return undefined;
  if ("arrayValue" in value) return ((value.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map((item) => Object.values(item)[0]);
  const raw = Object.values(value)[0];
  return "intValue" in value ? Number(raw) : raw;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("telemetry on Temporal", { timeout: 240_000 }, () => {
  let temporal: TestWorkflowEnvironment;
  let model: ScriptedModelServer;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let worker: ChildProcess;
  let workerLog = "";
  let metricsPort: number;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    temporal = await startTestTemporal();
    // Reads two files in one turn (2 tool calls), then answers.
    model = await startScriptedModelServer((call) => {
      const results = call.messages.filter((message) => message.role === "tool");
      if (results.length === 0) {
        return { toolCalls: [{ name: "filesystem_read_text_file", arguments: { path: "a.md" } }, { name: "filesystem_read_text_file", arguments: { path: "b.md" } }], usage: { inputTokens: 1000, outputTokens: 50 } };
      }
      return { text: results.map((message) => textOf(message.content).trim()).join(" "), usage: { inputTokens: 2000, outputTokens: 20 } };
    });
    receiver = await startOtlpReceiver();
    dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-telemetry-")));
    writeFileSync(join(dir, "a.md"), "Alpha.\n");
    writeFileSync(join(dir, "b.md"), "Beta.\n");
    writeFileSync(
      join(dir, "duragent.config.yaml"),
      [
        "temporal:",
        `  address: ${temporal.address}`,
        "  taskQueue: telemetry-test",
        "llm:",
        "  defaultModel: openai:gpt-4.1-mini",
        "mcp:",
        "  servers:",
        "    filesystem:",
        `      command: ${JSON.stringify(process.execPath)}`,
        `      args: ${JSON.stringify([packageBin("@modelcontextprotocol/server-filesystem"), dir])}`,
        // Past a few bytes a model call refers to the run's transcript: spans must show it whole all the same.
        "execution:",
        "  transcriptReferenceBytes: 64",
        "agents:",
        "  reader:",
        "    instruction: Read the files.",
        "    servers: [filesystem]",
        "",
      ].join("\n"),
    );
    const base: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!/^(OPENAI_|ANTHROPIC_|DURAGENT_|OTEL_)/.test(key) && key !== "NODE_TEST_CONTEXT") base[key] = value;
    env = {
      ...base,
      OPENAI_API_KEY: "test-key",
      OPENAI_BASE_URL: model.openaiBaseURL,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=test",
      DURAGENT_LOG_LEVEL: "info",
    };
    metricsPort = await freePort();
    worker = spawn(process.execPath, [cliPath, "worker", "--metrics", `127.0.0.1:${metricsPort}`], { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] });
    worker.stderr!.setEncoding("utf8").on("data", (chunk: string) => (workerLog += chunk));
    await waitFor("the worker to serve", () => (workerLog.includes("serving task queue") ? true : worker.exitCode !== null ? assert.fail(`the worker exited:\n${workerLog}`) : undefined), 120_000);
  });

  after(async () => {
    worker?.kill("SIGTERM");
    await new Promise((resolve) => (worker && worker.exitCode === null ? worker.once("exit", resolve) : resolve(undefined)));
    await new Promise((resolve) => receiver?.server.close(resolve));
    await model?.close();
    await temporal?.teardown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `duragent run reader` on an engine; spawned, not spawnSync: this process serves the model and the OTLP receiver the run talks to. */
  const readFiles = (engine: "memory" | "temporal", more: NodeJS.ProcessEnv = {}, args = ["--json"]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [cliPath, "run", "reader", "--engine", engine, ...args, "--input", "Read a.md and b.md."], { cwd: dir, env: { ...env, ...more } });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      child.once("close", (code) => resolve({ code, stdout, stderr }));
    });

  test("one trace runs from `duragent run` through the workflow and its activities to the model and MCP calls", async () => {
    const run = await readFiles("temporal");
    assert.equal(run.code, 0, run.stderr);
    const { runId, result } = JSON.parse(run.stdout) as { runId: string; result: { text: string } };
    assert.equal(result.text, "Alpha. Beta.");

    // The worker exports in batches, about every second.
    const byName = (name: string) => receiver.spans.filter((span) => span.name === name);
    await waitFor(
      "the run's spans",
      () => (byName("chat gpt-4.1-mini").length === 2 && byName("tools/call read_text_file").length === 2 && byName("RunWorkflow:agentWorkflow").length > 0 ? true : undefined),
      30_000,
    ).catch((error: unknown) => assert.fail(`${String(error)}; spans so far: ${receiver.spans.map((span) => `${span.service}:${span.name}`).join(", ")}`));
    const start = receiver.spans.find((span) => span.name === "StartWorkflow:agentWorkflow");
    assert.ok(start, "the client's StartWorkflow span");
    assert.equal(start.service, "duragent-client");
    const trace = receiver.spans.filter((span) => span.traceId === start.traceId);
    const byId = new Map(trace.map((span) => [span.spanId, span]));
    const ancestry = (span: OtlpSpan): string[] => {
      const names: string[] = [];
      for (let parent = span.parentSpanId ? byId.get(span.parentSpanId) : undefined; parent; parent = parent.parentSpanId ? byId.get(parent.parentSpanId) : undefined) names.push(parent.name);
      return names;
    };
    const tree = trace.map((span) => `${[span.name, ...ancestry(span)].reverse().join(" > ")}`).sort();
    console.log(`span tree of ${runId}:\n  ${tree.join("\n  ")}`);

    const chats = trace.filter((span) => span.name === "chat gpt-4.1-mini");
    assert.equal(chats.length, 2, tree.join("\n"));
    for (const chat of chats) {
      assert.equal(chat.service, "duragent-worker");
      assert.deepEqual(ancestry(chat).slice(0, 1), ["RunActivity:callLlm"]);
      assert.ok(ancestry(chat).includes("StartWorkflow:agentWorkflow"), tree.join("\n"));
      assert.equal(attribute(chat.attributes, "gen_ai.operation.name"), "chat");
      assert.equal(attribute(chat.attributes, "gen_ai.provider.name"), "openai");
      assert.equal(attribute(chat.attributes, "gen_ai.request.model"), "gpt-4.1-mini");
      assert.equal(attribute(chat.attributes, "gen_ai.agent.name"), "reader");
      // Where the provider's requests went, and the provider's own id for the answer.
      const modelURL = new URL(model.openaiBaseURL);
      assert.equal(attribute(chat.attributes, "server.address"), modelURL.hostname);
      assert.equal(attribute(chat.attributes, "server.port"), Number(modelURL.port));
      // Content capture is off by default.
      assert.equal(attribute(chat.attributes, "gen_ai.input.messages"), undefined);
    }
    const usage = chats.map((chat) => [attribute(chat.attributes, "gen_ai.usage.input_tokens"), attribute(chat.attributes, "gen_ai.usage.output_tokens"), attribute(chat.attributes, "gen_ai.response.finish_reasons")]);
    assert.deepEqual(
      usage.sort((a, b) => Number(a[0]) - Number(b[0])),
      [
        // In the GenAI conventions' words (`FinishReason`).
        [1000, 50, ["tool_call"]],
        [2000, 20, ["stop"]],
      ],
    );
    assert.ok(chats.every((chat) => typeof attribute(chat.attributes, "duragent.cost.usd") === "number"), "gpt-4.1-mini has a price");
    const answerIds = model.requests.map((request) => (request.response?.body as { id?: string }).id);
    assert.equal(answerIds.filter((id) => typeof id === "string").length, 2, JSON.stringify(answerIds));
    assert.deepEqual(chats.map((chat) => attribute(chat.attributes, "gen_ai.response.id")).sort(), answerIds.sort());

    const tools = trace.filter((span) => span.name === "tools/call read_text_file");
    assert.equal(tools.length, 2, tree.join("\n"));
    for (const tool of tools) {
      assert.deepEqual(ancestry(tool).slice(0, 1), ["RunActivity:callTool"]);
      assert.equal(attribute(tool.attributes, "mcp.method.name"), "tools/call");
      assert.equal(attribute(tool.attributes, "gen_ai.tool.name"), "read_text_file");
      assert.equal(attribute(tool.attributes, "mcp.server.name"), "filesystem");
      assert.equal(attribute(tool.attributes, "network.transport"), "pipe");
      assert.equal(attribute(tool.attributes, "gen_ai.tool.call.arguments"), undefined);
    }
    // A tool span names the call by the model's id for it, joining it to the answer that asked.
    const askedIds = model.requests.flatMap((request) => ((request.response?.body as { choices?: { message?: { tool_calls?: { id: string }[] } }[] }).choices?.[0]?.message?.tool_calls ?? []).map((call) => call.id));
    assert.equal(askedIds.length, 2);
    assert.deepEqual(tools.map((tool) => attribute(tool.attributes, "gen_ai.tool.call.id")).sort(), askedIds.sort());
    // Workflow spans come through the worker's sink, in the same trace, with the run's ids but not
    // the rest of Temporal's WorkflowInfo (the memo, a previous run's result, decoded).
    const workflowSpan = trace.find((span) => span.name === "RunWorkflow:agentWorkflow");
    assert.ok(workflowSpan, tree.join("\n"));
    assert.equal(attribute(workflowSpan.attributes, "workflowId"), runId);
    for (const key of ["memo", "lastResult", "lastFailure", "searchAttributes", "unsafe"]) assert.equal(attribute(workflowSpan.attributes, key), undefined, key);
    assert.ok((workflowSpan.attributes?.length ?? 0) < 15, JSON.stringify(workflowSpan.attributes?.map((entry) => entry.key)));
    // The resource says what OTEL_RESOURCE_ATTRIBUTES and the host say, on the worker's and the client's spans.
    for (const span of [workflowSpan, start]) {
      assert.equal(attribute(span.resource, "deployment.environment"), "test");
      assert.equal(typeof attribute(span.resource, "host.name"), "string");
    }
    assert.ok(trace.filter((span) => span.name === "StartActivity:callLlm").length === 2, tree.join("\n"));

    // Metrics, scraped from the worker.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const sample = metrics.split("\n").filter((line) => line.startsWith("duragent_"));
    console.log(`metric sample:\n  ${sample.join("\n  ")}`);
    const value = (pattern: RegExp) => Number(sample.find((line) => pattern.test(line))?.split(" ").at(-1));
    assert.equal(value(/^duragent_llm_tokens_total\{.*agent="reader".*kind="input".*model="openai:gpt-4.1-mini"/), 3000, sample.join("\n"));
    assert.equal(value(/^duragent_llm_tokens_total\{.*kind="output"/), 70);
    assert.equal(value(/^duragent_mcp_call_duration_count\{.*method="tools\/call".*server="filesystem".*tool="read_text_file"/), 2, sample.join("\n"));
    assert.ok(value(/^duragent_llm_cost_sum\{/) > 0, sample.join("\n"));
    // Cost buckets in dollars: a call costs cents, not the milliseconds the default buckets are for.
    assert.ok(sample.some((line) => /^duragent_llm_cost_bucket\{.*le="0\.01"/.test(line)), sample.join("\n"));
    // Call durations up to the 10-minute limit a model call has, not the default's 10 s.
    assert.ok(sample.some((line) => /^duragent_llm_call_duration_bucket\{.*le="600000"/.test(line)), sample.join("\n"));
    assert.ok(sample.some((line) => /^duragent_mcp_call_duration_bucket\{.*le="300000"/.test(line)), sample.join("\n"));
    // The run is counted entering running as it starts, and completed as it ends.
    assert.equal(value(/^duragent_run_phase_changes_total\{.*phase="running"/), value(/^duragent_run_phase_changes_total\{.*phase="completed"/), sample.join("\n"));
    assert.ok(value(/^duragent_run_phase_changes_total\{.*phase="completed"/) >= 1, sample.join("\n"));
    assert.ok(metrics.includes("temporal_workflow_completed"), "the Temporal runtime's own metrics are served too");

    // Log lines written inside an activity name their run.
    const lines = workerLog.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
    // A collector reads every line: the worker's start line is one of its JSON lines, at info.
    assert.deepEqual(workerLog.split("\n").filter((line) => line !== "" && !line.startsWith("{")), [], workerLog.slice(0, 3000));
    assert.ok(lines.some((line) => line.level === 30 && line.taskQueue === "telemetry-test" && /serving task queue/.test(String(line.msg))), workerLog.slice(0, 3000));
    const aboutRun = lines.filter((line) => line.workflowId === runId);
    assert.ok(aboutRun.length > 0, `no log line names ${runId}:\n${workerLog.slice(-3000)}`);
    assert.ok(aboutRun.some((line) => typeof line.activityType === "string" && typeof line.attempt === "number"), JSON.stringify(aboutRun.slice(0, 5)));

    // Status reads and polls are traced only inside a trace: alone, each would be a trace of its own.
    const watched = await readFiles("temporal", {}, []);
    assert.equal(watched.code, 0, watched.stderr);
    const lonelyReads = receiver.spans.filter((span) => span.service === "duragent-client" && !span.parentSpanId && /^(QueryWorkflow|DescribeWorkflow|SignalWorkflow:duragent\.watch)/.test(span.name));
    assert.deepEqual(lonelyReads.map((span) => span.name), []);
  });

  test("a memory run traces too: one span for the run, its model and MCP calls under it, with content when the environment asks", async () => {
    const run = await readFiles("memory", { OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: "true" });
    assert.equal(run.code, 0, run.stderr);
    const { runId } = JSON.parse(run.stdout) as { runId: string };
    // The command sends its spans before it exits.
    const root = receiver.spans.find((span) => span.name === "RunWorkflow:agentWorkflow" && attribute(span.attributes, "duragent.run_id") === runId);
    assert.ok(root, `the run's span; spans: ${receiver.spans.map((span) => `${span.service}:${span.name}`).join(", ")}`);
    assert.equal(root.service, "duragent-client");
    const children = receiver.spans.filter((span) => span.traceId === root.traceId && span.parentSpanId === root.spanId).map((span) => span.name).sort();
    assert.deepEqual(children, ["chat gpt-4.1-mini", "chat gpt-4.1-mini", "tools/call read_text_file", "tools/call read_text_file"]);
    const chats = receiver.spans.filter((span) => span.traceId === root.traceId && span.name === "chat gpt-4.1-mini");
    assert.ok(chats.every((chat) => String(attribute(chat.attributes, "gen_ai.input.messages")).includes("Read a.md and b.md.")), "the environment's captureContent is not honoured, or a call's transcript is not whole");
    for (const chat of chats) assert.deepEqual(JSON.parse(String(attribute(chat.attributes, "gen_ai.system_instructions"))), [{ type: "text", content: "Read the files." }]);
    // The second call's input is the whole conversation: the question, the tool calls and their results.
    const second = chats.map((chat) => JSON.parse(String(attribute(chat.attributes, "gen_ai.input.messages"))) as { role: string }[]).find((messages) => messages.length > 1);
    assert.deepEqual(second?.map((message) => message.role), ["user", "assistant", "tool", "tool"]);
  });
});

describe("logs", () => {
  test("the SDK's own lines name the run as duragent's do (runId), without the task token that could complete an activity", () => {
    const fields = sdkLogFields({ workflowId: "r", workflowRunId: "0195-…", taskToken: "CiQw…", activityType: "callLlm", attempt: 1 });
    assert.deepEqual(fields, { workflowId: "r", runId: "0195-…", activityType: "callLlm", attempt: 1 });
    assert.deepEqual(sdkLogFields(undefined), {});
  });

  test("an error logged under `error`, as Temporal's SDK logs its own, keeps its message and stack, its cause nested, not repeated", async () => {
    // As a failed model call's: duragent's message already says what the provider's error says.
    const script = `import { createLogger } from ${JSON.stringify(fileURLToPath(new URL("../src/logger.ts", import.meta.url)))};
const cause = new Error("500 The server had an error");
createLogger("duragent-worker", "info").error({ error: new TypeError("kaboom: the server had an error", { cause }) }, "Workflow failed");`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
    await new Promise((resolve) => child.once("exit", resolve));
    const line = JSON.parse(stderr.trim().split("\n").at(-1)!) as { msg: string; error: { type: string; message: string; stack: string; cause: { message: string } } };
    assert.equal(line.msg, "Workflow failed");
    assert.equal(line.error.type, "TypeError");
    assert.equal(line.error.message, "kaboom: the server had an error");
    assert.match(line.error.stack, /^TypeError: kaboom: the server had an error\n\s+at /);
    assert.equal(line.error.cause.message, "500 The server had an error");
  });

  test("a command a person runs logs lines a person reads; DURAGENT_LOG_FORMAT=json brings the JSON back", async () => {
    const script = `import { createLogger } from ${JSON.stringify(fileURLToPath(new URL("../src/logger.ts", import.meta.url)))};
const logger = createLogger("duragent", "info", "text");
logger.warn({ mcpServer: "fs", lastStderr: "bye", err: new Error("gone") }, "MCP server 'fs' exited");
logger.info("plain");`;
    const logged = async (env: NodeJS.ProcessEnv) => {
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "pipe"], env });
      let stderr = "";
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
      await new Promise((resolve) => child.once("exit", resolve));
      return stderr;
    };
    const { DURAGENT_LOG_FORMAT: _unset, ...base } = process.env;
    assert.equal(await logged(base), "duragent: warning: MCP server 'fs' exited (mcpServer: fs, lastStderr: bye, err: gone)\nduragent: info: plain\n");
    const json = (await logged({ ...base, DURAGENT_LOG_FORMAT: "json" })).trim().split("\n").map((line) => JSON.parse(line) as { msg: string; level: number });
    assert.deepEqual(json.map((line) => [line.level, line.msg]), [[40, "MCP server 'fs' exited"], [30, "plain"]]);
  });
});

describe("span attributes", () => {
  test("an MCP span says how its server is reached; a model span without usage has no counts; content in the conventions' shape", async () => {
    const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import("@opentelemetry/sdk-trace-base");
    const { trace: traceApi } = await import("@opentelemetry/api");
    const { instrumentEffects, instrumentModelCalls } = await import("../src/telemetry/instrument-effects.js");
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    traceApi.setGlobalTracerProvider(provider);
    try {
      const answered = async () => ({ content: [{ type: "text" as const, text: "ok" }], isError: false });
      const effects = instrumentEffects({ callTool: answered } as unknown as Parameters<typeof instrumentEffects>[0], {
        mcpServers: { files: { transport: "stdio" }, search: { transport: "http", url: "https://mcp.example.com/mcp" }, local: { transport: "http", url: "http://[::1]:8931/mcp" } },
      });
      for (const server of ["files", "search", "local", "unknown"]) await effects.callTool({ server, tool: "t", arguments: {}, callId: "call-1" }, {} as never);
      const byServer = new Map(exporter.getFinishedSpans().map((span) => [span.attributes["mcp.server.name"], span.attributes]));
      assert.equal(byServer.get("files")?.["network.transport"], "pipe");
      assert.equal(byServer.get("files")?.["server.address"], undefined);
      assert.deepEqual([byServer.get("search")?.["network.transport"], byServer.get("search")?.["server.address"], byServer.get("search")?.["server.port"]], ["tcp", "mcp.example.com", 443]);
      assert.deepEqual([byServer.get("local")?.["server.address"], byServer.get("local")?.["server.port"]], ["::1", 8931]);
      assert.equal(byServer.get("unknown")?.["network.transport"], undefined);

      // A model call whose provider reported no usage has no token counts or cost on its span, not zeros.
      exporter.reset();
      const recorded: unknown[] = [];
      const unmetered = instrumentModelCalls(async () => ({ message: { role: "assistant", content: "hi" }, stopReason: "end", usage: { inputTokens: 0, outputTokens: 0, unreportedCalls: 1 }, model: "gpt-4.1" }), {
        meter: { modelCall: (call) => recorded.push(call), mcpCall: () => undefined },
      });
      await unmetered({ model: "openai:gpt-4.1", messages: [{ role: "user", content: "hi" }] });
      const [chat] = exporter.getFinishedSpans();
      assert.equal(chat?.attributes["duragent.usage.unreported"], true);
      for (const key of ["gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "duragent.cost.usd"]) assert.equal(chat?.attributes[key], undefined, key);
      assert.equal((recorded[0] as { cost?: number }).cost, undefined, "no cost measured for it");

      // Captured content is in the GenAI conventions' shape: roles with parts, tool calls and their responses joined by id.
      exporter.reset();
      const answering = instrumentModelCalls(
        async () => ({ message: { role: "assistant", content: "", toolCalls: [{ id: "call_9", name: "fs_read", arguments: '{"path":"b.md"}' }] }, stopReason: "tool_calls", usage: { inputTokens: 5, outputTokens: 2 }, model: "gpt-4.1" }),
        { captureContent: true },
      );
      await answering({
        model: "openai:gpt-4.1",
        system: "Be brief.",
        messages: [
          { role: "user", content: [{ type: "text", text: "Read a.md." }, { type: "image", data: "aGk=", mimeType: "image/png" }] },
          { role: "assistant", content: "Reading.", toolCalls: [{ id: "call_1", name: "fs_read", arguments: "{not json" }] },
          { role: "tool", toolCallId: "call_1", toolName: "fs_read", content: [{ type: "text", text: "alpha" }] },
        ],
      });
      const [captured] = exporter.getFinishedSpans();
      assert.deepEqual(JSON.parse(String(captured?.attributes["gen_ai.system_instructions"])), [{ type: "text", content: "Be brief." }]);
      assert.deepEqual(JSON.parse(String(captured?.attributes["gen_ai.input.messages"])), [
        { role: "user", parts: [{ type: "text", content: "Read a.md." }, { type: "blob", modality: "image", mime_type: "image/png", content: "aGk=" }] },
        { role: "assistant", parts: [{ type: "text", content: "Reading." }, { type: "tool_call", id: "call_1", name: "fs_read", arguments: "{not json" }] },
        { role: "tool", parts: [{ type: "tool_call_response", id: "call_1", response: [{ type: "text", content: "alpha" }] }] },
      ]);
      assert.deepEqual(JSON.parse(String(captured?.attributes["gen_ai.output.messages"])), [
        { role: "assistant", parts: [{ type: "tool_call", id: "call_9", name: "fs_read", arguments: { path: "b.md" } }], finish_reason: "tool_call" },
      ]);
    } finally {
      traceApi.disable();
      await provider.shutdown();
    }
  });
});
