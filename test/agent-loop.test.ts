/**
 * The agent tool loop's rules, on the memory engine with real MCP servers and the real SDKs
 * talking to a scripted model: model mistakes become tool errors, the iteration cap holds,
 * structured output is validated and repaired once, and history is kept.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { z } from "zod";
import { openActivityRuntime, type ActivityRuntime } from "../src/activities/activity-runtime.js";
import { FailureType } from "../src/common/failures.js";
import { runSettingsFromConfig } from "../src/config/load-config.js";
import { MemoryExecutor } from "../src/workflows/executor/memory-executor.js";
import { createLogger } from "../src/logger.js";
import { startScriptedModelServer, type ModelScript, type ScriptedCall, type ScriptedModelServer, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { defineAgent, localTool, textOf } from "../src/workflows/index.js";
import { everythingServer, filesystemServer } from "./support/mcp-servers.js";
import { testConfig } from "./support/runtime.js";
import { messagesToHandOver } from "../src/workflows/agent/hand-over.js";
import type { Message } from "../src/common/messages.js";
import { waitFor } from "./support/wait.js";

const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-loop-")));
after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "a.txt"), "alpha");

interface Harness {
  model: ScriptedModelServer;
  runtime: ActivityRuntime;
  ctx: MemoryExecutor;
}

async function harness(script: ModelScript, config: Record<string, unknown> = {}): Promise<Harness> {
  const model = await startScriptedModelServer(script, { quiet: true });
  const loaded = testConfig(model, { mcp: { servers: { fs: filesystemServer(dir) } }, ...config });
  const logger = createLogger("test", "silent");
  const runtime = openActivityRuntime(loaded, logger);
  const settings = runSettingsFromConfig(loaded);
  // Fast retries keep failure tests quick; the policy's shape is unchanged.
  settings.llm.retry = { ...settings.llm.retry, initialIntervalMs: 1, maximumIntervalMs: 1 };
  return { model, runtime, ctx: new MemoryExecutor(runtime.effects, settings, logger) };
}

async function dispose(h: Harness) {
  await h.runtime.close();
  await h.model.close();
}

type OpenAIBody = {
  max_tokens?: number;
  temperature?: number;
  messages: { role: string; content: unknown; tool_call_id?: string }[];
  tool_choice?: unknown;
  response_format?: { type: string; json_schema: { name: string; schema: Record<string, unknown> } };
};
const body = (h: Harness, index: number) => h.model.requests[index]!.body as OpenAIBody;

const agent = defineAgent({ name: "reader", instruction: "Read files.", servers: ["fs"] });

describe("the agent tool loop", () => {
  test("resourceTools: an agent reads its server's resources with the server's list_resources and read_resource; other servers get none", async () => {
    const script = (call: ScriptedCall): ScriptedTurn => {
      const results = call.messages.filter((message) => message.role === "tool");
      if (results.length === 0) return { toolCalls: [{ name: "everything_list_resources", arguments: {} }] };
      if (results.length === 1) return { toolCalls: [{ name: "everything_read_resource", arguments: { uri: "demo://resource/static/document/features.md" } }] };
      return { text: `read: ${textOf(results[1]!.content).slice(0, 40)}` };
    };
    const h = await harness(script, { mcp: { servers: { fs: filesystemServer(dir), everything: { ...everythingServer(), resourceTools: true } } } });
    try {
      const llm = await defineAgent({ name: "reader", instruction: "Read resources.", servers: ["everything", "fs"] }).attachLlm(h.ctx);
      const answer = await llm.generateStr("What features does the server have?");
      const offered = (h.model.requests[0]!.body as { tools: { function: { name: string } }[] }).tools.map((tool) => tool.function.name);
      assert.ok(offered.includes("everything_list_resources") && offered.includes("everything_read_resource"), offered.join(", "));
      assert.ok(!offered.some((name) => name.startsWith("fs_") && name.endsWith("_resource")), offered.join(", "));
      const listed = textOf(llm.history.filter((message) => message.role === "tool")[0]!.content);
      assert.match(listed, /^- demo:\/\/resource\/static\/document\/features\.md: features\.md \(text\/markdown\)/m);
      assert.match(answer, /^read: \S/);
      assert.ok(!answer.includes("[Resource"), answer);
    } finally {
      await dispose(h);
    }
  });

  test("tool calls the model makes on its last allowed turn, told to answer, are not run: the transcript says so, and the run ends at its turn limit", async () => {
    const h = await harness(() => ({ toolCalls: [{ name: "fs_list_allowed_directories", arguments: {} }] }));
    try {
      const llm = await defineAgent({ name: "looper", instruction: "You loop.", servers: ["fs"], maxIterations: 2 }).attachLlm(h.ctx);
      const added = await llm.generate("Go.");
      const results = added.filter((message) => message.role === "tool").map((message) => textOf(message.content));
      assert.equal(results.length, 2);
      assert.match(results[0]!, /^Allowed directories/);
      assert.equal(results[1], "Not run: the agent's turns ran out (maxIterations 2), and the model was told to answer instead.");
      assert.equal(llm.lastStopReason, "max_iterations");
      assert.deepEqual(h.ctx.control.status().recentSteps?.filter((step) => step.startsWith("tool")), ["tool fs/list_allowed_directories"]);
      assert.equal(body(h, 1).tool_choice, "none");
    } finally {
      await dispose(h);
    }
  });

  test("a local tool from a zod schema: the model is offered its JSON Schema, call gets typed arguments, a misfit is told to the model, text is its result", async () => {
    const h = await harness((call) => {
      const results = call.messages.filter((message) => message.role === "tool").map((message) => textOf(message.content));
      if (results.length === 0) return { toolCalls: [{ name: "convert", arguments: { amount: "ten", currency: "EUR" } }] };
      if (results.length === 1) return { toolCalls: [{ name: "convert", arguments: { amount: 10, currency: "EUR" } }] };
      return { text: results.join(" | ") };
    });
    try {
      const seen: { amount: number; currency: "EUR" | "USD" }[] = [];
      const convert = localTool({
        name: "convert",
        description: "Converts an amount to dollars.",
        input: z.object({ amount: z.number(), currency: z.enum(["EUR", "USD"]) }),
        call: (args) => {
          seen.push(args);
          return `${args.amount * 1.1} USD`;
        },
      });
      // approvals.tools names MCP tools: one it matches here runs unasked, which the worker's log says once.
      const warnings: string[] = [];
      const settings = { ...runSettingsFromConfig(testConfig(h.model)), approvalTools: ["conv*"] };
      const ctx = new MemoryExecutor(h.runtime.effects, settings, { ...createLogger("test", "silent"), warn: (message: string) => warnings.push(message) });
      const llm = await defineAgent({ name: "cashier", instruction: "You convert." }).attachLlm(ctx, { localTools: [convert] });
      const text = await llm.generateStr("Ten euros in dollars?");
      assert.deepEqual(warnings, [
        "cashier: approvals.tools matches 'convert', a local tool, which it does not gate (it names MCP tools): the call runs unasked. Have the tool ask with ctx.requestApproval, or make it a function tool (duragent/tools).",
      ]);
      assert.match(text, /^Error: The arguments for 'convert' do not fit its input schema, so the call was not made:\n[^]*amount \| 11 USD$/);
      assert.deepEqual(seen, [{ amount: 10, currency: "EUR" }]);
      const offered = (body(h, 0) as unknown as { tools: { function: { name: string; parameters: Record<string, unknown> } }[] }).tools[0]!.function;
      assert.deepEqual(offered.parameters.required, ["amount", "currency"]);
    } finally {
      await dispose(h);
    }
  });

  test("a tool result for the model's call leaves out its structured copy, which models never read; workflow code's own call keeps it", async () => {
    const h = await harness([], { mcp: { servers: { fs: filesystemServer(dir), everything: everythingServer() } } });
    try {
      const call = { server: "everything", tool: "get-structured-content", arguments: { location: "Chicago" } };
      const context = { signal: new AbortController().signal };
      const own = await h.runtime.effects.callTool(call, context as never);
      const forModel = await h.runtime.effects.callTool({ ...call, modelCallId: "call_1" }, context as never);
      assert.equal(typeof own.structuredContent?.temperature, "number");
      assert.equal(forModel.structuredContent, undefined);
      // The model reads the same text either way.
      assert.deepEqual(forModel.content, own.content);
    } finally {
      await dispose(h);
    }
  });

  test("approvals.destructive: calls of tools whose MCP annotations say they may destroy wait for a person; read-only and non-destructive ones do not", async () => {
    const written = join(dir, "gated.txt");
    const script: ModelScript = [
      { toolCalls: [{ name: "fs_read_text_file", arguments: { path: join(dir, "a.txt") } }] },
      { toolCalls: [{ name: "fs_write_file", arguments: { path: written, content: "approved" } }] },
      { toolCalls: [{ name: "fs_create_directory", arguments: { path: join(dir, "made") } }] },
      { text: "done" },
    ];
    const h = await harness(script, { approvals: { destructive: true } });
    try {
      const llm = await defineAgent({ name: "writer", instruction: "Write files.", servers: ["fs"] }).attachLlm(h.ctx);
      const answer = llm.generateStr("Read a.txt, write gated.txt, make a folder.");
      const pending = await waitFor("the approval", () => h.ctx.control.status().pending[0]);
      assert.equal(pending.kind, "approval");
      assert.deepEqual(pending.kind === "approval" && [pending.tool, pending.arguments], ["write_file", { path: written, content: "approved" }]);
      // The read ran without asking; the write has not run yet.
      assert.equal(existsSync(written), false);
      h.ctx.decide({ requestId: pending.id, approved: true });
      assert.equal(await answer, "done");
      assert.equal(existsSync(written), true);
      // One approval in all: create_directory says destructiveHint: false.
      assert.ok(existsSync(join(dir, "made")));
      assert.deepEqual(h.ctx.control.status().pending, []);
      // The tools' annotations are in their definitions, for workflow code to read too.
      const tools = await h.ctx.listTools("fs");
      assert.deepEqual(tools.find((tool) => tool.name === "read_text_file")?.annotations, { readOnlyHint: true, openWorldHint: false });
    } finally {
      await dispose(h);
    }
  });

  test("once a call's messages are large, all but the latest tool results reach the model as notes; the transcript keeps them whole", async () => {
    // Five files of 2,000 characters (500 tokens each): past 1,300 tokens the older results are cleared.
    const paths = [1, 2, 3, 4, 5].map((n) => join(dir, `big-${n}.txt`));
    paths.forEach((path, index) => writeFileSync(path, String(index + 1).repeat(2_000)));
    const script: ModelScript = [...paths.map((path) => ({ toolCalls: [{ name: "fs_read_text_file", arguments: { path } }] })), { text: "read them all" }];
    const h = await harness([...script, ...script, ...script]);
    const toolContents = (index: number) => body(h, index).messages.filter((message) => message.role === "tool").map((message) => String(message.content));
    try {
      const llm = await defineAgent({ name: "reader", instruction: "Read files.", servers: ["fs"], clearToolResults: { aboveTokens: 1_300, keep: 2 } }).attachLlm(h.ctx);
      assert.equal(await llm.generateStr("Read the five files."), "read them all");
      // Two results (1,000 tokens) go whole; the third passes the size, and the oldest is cleared.
      assert.deepEqual(toolContents(2), ["1".repeat(2_000), "2".repeat(2_000)]);
      assert.deepEqual(toolContents(3), [
        "[duragent cleared this result of fs_read_text_file (2K characters) to keep the conversation within the model's context; call the tool again if you need it.]",
        "2".repeat(2_000),
        "3".repeat(2_000),
      ]);
      assert.deepEqual(toolContents(5).map((content) => content.startsWith("[duragent cleared this result of fs_read_text_file")), [true, true, true, false, false]);
      assert.deepEqual(toolContents(5).slice(3), ["4".repeat(2_000), "5".repeat(2_000)]);
      // What the run keeps, and the next call's history, are the whole results.
      const kept = llm.history.filter((message) => message.role === "tool").map((message) => textOf(message.content));
      assert.deepEqual(kept, [1, 2, 3, 4, 5].map((n) => String(n).repeat(2_000)));
      // A call that says false sends every result whole, whatever the size.
      await llm.generateStr("Again.", { clearToolResults: false, useHistory: false });
      assert.deepEqual(toolContents(11), [1, 2, 3, 4, 5].map((n) => String(n).repeat(2_000)));
      // Under a size the kept results pass, they go too, but for the latest turn's.
      await llm.generateStr("Once more.", { clearToolResults: { aboveTokens: 800, keep: 2 }, useHistory: false });
      assert.deepEqual(toolContents(17).map((content) => content.startsWith("[duragent cleared this result")), [true, true, true, true, false]);
    } finally {
      await dispose(h);
    }
  });

  test("a tool loop past the size with its results already notes leaves out its oldest turns, sixteen at a time, so its requests stop growing; short results stay whole", async () => {
    const paths = [1, 2, 3, 4].map((n) => join(dir, `turn-${n}.txt`));
    paths.forEach((path, index) => writeFileSync(path, String(index + 1).repeat(400)));
    writeFileSync(join(dir, "short.txt"), "ok");
    const turns = 120;
    const script: ModelScript = [
      { toolCalls: [{ name: "fs_read_text_file", arguments: { path: join(dir, "short.txt") } }] },
      ...Array.from({ length: turns - 1 }, (_, n) => ({ toolCalls: [{ name: "fs_read_text_file", arguments: { path: paths[n % 4]! } }] })),
      { text: "done" },
    ];
    const h = await harness(script);
    try {
      const llm = await defineAgent({ name: "reader", instruction: "Read files.", servers: ["fs"], clearToolResults: { aboveTokens: 2_000, keep: 2 } }).attachLlm(h.ctx);
      assert.equal(await llm.generateStr("Keep reading.", { maxIterations: 200 }), "done");
      const sizes = h.model.requests.map((_, index) => JSON.stringify(body(h, index).messages).length);
      const notes = h.model.requests.map((_, index) => body(h, index).messages.find((message) => message.role === "system" && String(message.content).startsWith("duragent: ")));
      const counts = notes.map((note) => (note === undefined ? 0 : Number(/^duragent: (\d+) earlier turns/.exec(String(note.content))![1])));
      // Turns go sixteen at a time, so most requests start as the one before did.
      assert.ok(counts.every((count) => count % 16 === 0), String(counts));
      assert.ok(counts[turns]! >= 64, String(counts));
      // Without leaving turns out, the last request would be some 48K characters, growing 400 a turn.
      assert.ok(Math.max(...sizes) < 16_000, String(sizes));
      const last = body(h, turns).messages;
      assert.deepEqual(last.slice(0, 2).map((message) => message.content), ["Read files.", "Keep reading."]);
      // The latest turn's result is whole; a result shorter than a note stays whole while it is sent.
      assert.equal(last.at(-1)!.content, String(((turns - 2) % 4) + 1).repeat(400));
      assert.equal(body(h, 30).messages.find((message) => message.role === "tool")!.content, "ok");
      // The run's own history keeps every turn.
      assert.equal(llm.history.filter((message) => message.role === "tool").length, turns);
    } finally {
      await dispose(h);
    }
  });

  test("an option generate() does not take (mcp-agent's max_tokens) is warned of, with the name it has here, and the call goes on; an agent's temperature is sent", async () => {
    const h = await harness([{ text: "hi" }, { text: '{"n": 1}' }, { text: "cool" }, { text: "warm" }]);
    const warnings: string[] = [];
    const ctx = new MemoryExecutor(h.runtime.effects, runSettingsFromConfig(testConfig(h.model)), { ...createLogger("test", "silent"), warn: (message: string) => warnings.push(message) });
    try {
      const llm = await defineAgent({ name: "writer", instruction: "Write." }).attachLlm(ctx);
      assert.equal(await llm.generateStr("hello", { max_tokens: 5, use_history: false } as never), "hi");
      assert.deepEqual(await llm.generateStructured("a number", z.object({ n: z.number() }), { schemaName: "n", parallel_tool_calls: false, stop_sequences: ["."] } as never), { n: 1 });
      assert.deepEqual(warnings.map((warning) => warning.replace(/; it is ignored\..*$/, "")), [
        "writer: generate() has no option 'max_tokens'; did you mean 'maxTokens'?",
        "writer: generate() has no option 'use_history'; did you mean 'useHistory'?",
        "writer: generate() has no option 'parallel_tool_calls'; did you mean 'parallelToolCalls'?",
        "writer: generate() has no option 'stop_sequences'",
      ]);
      assert.match(warnings[0]!, /Its options: model, maxIterations, useHistory, inTranscript, temperature, maxTokens, parallelToolCalls, clearToolResults, schemaName/);
      assert.equal(body(h, 0).max_tokens, undefined);
      // An agent's own temperature goes with each call, unless the call gives its own.
      const cool = await defineAgent({ name: "cool", instruction: "Write.", temperature: 0.2 }).attachLlm(ctx);
      await cool.generateStr("hello");
      await cool.generateStr("hello", { temperature: 0.9 });
      assert.deepEqual([body(h, 2).temperature, body(h, 3).temperature], [0.2, 0.9]);
    } finally {
      await dispose(h);
    }
  });


  test("model mistakes come back as tool errors and the run goes on", async () => {
    const h = await harness([
      {
        toolCalls: [
          { name: "fs_no_such_tool", arguments: {} },
          { name: "fs_read_text_file", arguments: "{not json" },
          { name: "fs_read_text_file", arguments: { path: 42 } },
          { name: "fs_read_text_file", arguments: { path: "/etc/hostname" } },
          { name: "fs_read_text_file", arguments: { path: join(dir, "a.txt") } },
        ],
      },
      { text: "done" },
    ]);
    try {
      const llm = await agent.attachLlm(h.ctx);
      assert.equal(await llm.generateStr("read"), "done");
      const tools = body(h, 1).messages.filter((m) => m.role === "tool").map((m) => String(m.content));
      assert.equal(tools.length, 5);
      assert.match(tools[0]!, /^Error: Unknown tool 'fs_no_such_tool'\. Available tools: .*fs_read_text_file/);
      assert.match(tools[1]!, /^Error: The arguments for 'fs_read_text_file' are not valid JSON/);
      assert.match(tools[2]!, /^Error: Invalid arguments for read_text_file: .*path.*string/);
      assert.match(tools[3]!, /^Error: .*(denied|outside|not allowed)/i);
      assert.equal(tools[4], "alpha");
    } finally {
      await dispose(h);
    }
  });

  test("a tool call cut off at the output token limit is not made, and the model is told why", async () => {
    const h = await harness([
      { toolCalls: [{ name: "fs_write_file", arguments: `{"path": "${join(dir, "cut.txt")}", "content": "half of the conte` }], stopReason: "max_tokens" },
      { text: "done" },
    ]);
    try {
      const llm = await agent.attachLlm(h.ctx);
      assert.equal(await llm.generateStr("write"), "done");
      const tools = body(h, 1).messages.filter((m) => m.role === "tool").map((m) => String(m.content));
      assert.match(tools[0]!, /^Error: The arguments for 'fs_write_file' were cut off: your reply reached the output token limit before they were complete, so the call was not made\./);
      assert.equal(llm.lastStopReason, "end");
    } finally {
      await dispose(h);
    }
  });

  test("a tool call cut off at the token limit is not made even when its arguments parse, as Anthropic's SDK completes them", async () => {
    const cut = join(dir, "cut-anthropic.txt");
    const h = await harness(
      (call) =>
        call.messages.some((m) => m.role === "tool")
          ? { text: "done" }
          : { toolCalls: [{ name: "fs_read_text_file", arguments: { path: join(dir, "a.txt") } }, { name: "fs_write_file", arguments: { path: cut, content: "half of the conte" } }], stopReason: "max_tokens" },
      { llm: { defaultModel: "anthropic:claude-sonnet-4-5" } },
    );
    try {
      const llm = await agent.attachLlm(h.ctx);
      assert.equal(await llm.generateStr("write"), "done");
      const second = h.model.requests[1]!.body as { messages: { role: string; content: { type: string; content?: unknown }[] }[] };
      const results = second.messages.at(-1)!.content.map((block) => JSON.stringify(block.content));
      // The whole call before it is made; the last one, where the limit fell, is not.
      assert.match(results[0]!, /alpha/);
      assert.match(results[1]!, /were cut off: your reply reached the output token limit/);
      assert.equal(existsSync(cut), false, "the cut-off call wrote its half file");
    } finally {
      await dispose(h);
    }
  });

  test("the iteration cap holds, and the last turn must answer without tools", async () => {
    const h = await harness((call) =>
      call.raw && (call.raw as { tool_choice?: string }).tool_choice === "none"
        ? { text: "giving up" }
        : { toolCalls: [{ name: "fs_read_text_file", arguments: { path: join(dir, "a.txt") } }] },
    );
    try {
      const llm = await agent.attachLlm(h.ctx);
      const answer = await llm.generateStr("loop forever", { maxIterations: 3 });
      assert.equal(answer, "giving up");
      assert.equal(h.model.requests.length, 3);
      assert.equal(body(h, 2).tool_choice, "none");
      assert.equal(body(h, 1).tool_choice, undefined);
    } finally {
      await dispose(h);
    }
  });

  test("conversation history is sent with the next call, unless turned off", async () => {
    const h = await harness([{ text: "first answer" }, { text: "second answer" }, { text: "third answer" }]);
    try {
      const llm = await agent.attachLlm(h.ctx);
      await llm.generateStr("first question");
      await llm.generateStr("second question");
      await llm.generateStr("third question", { useHistory: false });
      const contents = (index: number) => body(h, index).messages.map((m) => `${m.role}:${String(m.content)}`);
      assert.deepEqual(contents(1), ["system:Read files.", "user:first question", "assistant:first answer", "user:second question"]);
      assert.deepEqual(contents(2), ["system:Read files.", "user:third question"]);
      assert.equal(llm.history.length, 4);
      assert.ok(llm.usage["openai:gpt-4.1-mini"]!.inputTokens > 0);
    } finally {
      await dispose(h);
    }
  });

  test("structured output uses the provider's JSON schema format and is repaired once", async () => {
    const Person = z.object({ name: z.string(), age: z.number().int() });
    const h = await harness([{ text: '{"name":"Ada","age":"old"}' }, { text: '```json\n{"name":"Ada","age":36}\n```' }]);
    try {
      const llm = await agent.attachLlm(h.ctx);
      const person = await llm.generateStructured("who?", Person, { schemaName: "person" });
      assert.deepEqual(person, { name: "Ada", age: 36 });
      const format = body(h, 0).response_format!;
      assert.equal(format.type, "json_schema");
      assert.equal(format.json_schema.name, "person");
      assert.deepEqual(format.json_schema.schema.required, ["name", "age"]);
      const repair = body(h, 1).messages.at(-1)!;
      assert.equal(repair.role, "user");
      assert.match(String(repair.content), /did not match the required JSON schema: .*age/s);
    } finally {
      await dispose(h);
    }
  });

  test("structured output that stays invalid fails clearly with the raw output", async () => {
    const h = await harness([{ text: "not json" }, { text: "still not json" }]);
    try {
      const llm = await agent.attachLlm(h.ctx);
      const failure = await llm.generateStructured("x", z.object({ a: z.string() })).then(
        () => assert.fail("expected a failure"),
        (error: unknown) => error,
      );
      assert.ok(failure instanceof ApplicationFailure);
      assert.equal(failure.type, FailureType.structuredOutputInvalid);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, /still invalid after one repair.*Raw output: still not json/s);
    } finally {
      await dispose(h);
    }
  });

  test("parallelToolCalls: false asks each provider for one call a turn, a call's own option winning, and a turn's several calls still all run", async () => {
    for (const provider of ["openai", "anthropic"] as const) {
      const read = (path: string) => ({ name: "fs_read_text_file", arguments: { path: join(dir, path) } });
      const h = await harness((call) => (call.messages.some((m) => m.role === "tool") ? { text: "done" } : { toolCalls: [read("a.txt"), read("missing.txt")] }), {
        llm: { defaultModel: provider === "openai" ? "openai:gpt-4.1-mini" : "anthropic:claude-sonnet-4-5" },
      });
      try {
        const llm = await defineAgent({ name: "reader", instruction: "Read files.", servers: ["fs"], parallelToolCalls: false }).attachLlm(h.ctx);
        const added = await llm.generate("read both");
        // The model made two calls anyway: both run, their results in the model's order.
        const results = added.filter((m) => m.role === "tool");
        assert.deepEqual(results.map((m) => [textOf(m.content).slice(0, 5), m.isError === true]), [["alpha", false], [textOf(results[1]!.content).slice(0, 5), true]]);
        const first = h.model.requests[0]!.body as { parallel_tool_calls?: boolean; tool_choice?: unknown };
        if (provider === "openai") assert.equal(first.parallel_tool_calls, false);
        else assert.deepEqual(first.tool_choice, { type: "auto", disable_parallel_tool_use: true });
        // A call's own option wins over the agent's.
        await llm.generate("read both again", { parallelToolCalls: true, useHistory: false });
        const again = h.model.requests[2]!.body as { parallel_tool_calls?: boolean; tool_choice?: { disable_parallel_tool_use?: boolean } };
        assert.ok(provider === "openai" ? again.parallel_tool_calls === true : again.tool_choice?.disable_parallel_tool_use !== true, JSON.stringify(again));
      } finally {
        await dispose(h);
      }
    }
  });

  test("the same loop works through the Anthropic SDK", async () => {
    const h = await harness(
      (call) =>
        call.messages.some((m) => m.role === "tool")
          ? { text: "it says alpha" }
          : { toolCalls: [{ name: "fs_read_text_file", arguments: { path: join(dir, "a.txt") } }] },
      { llm: { defaultModel: "anthropic:claude-sonnet-4-5" } },
    );
    try {
      const llm = await agent.attachLlm(h.ctx);
      assert.equal(await llm.generateStr("read a.txt"), "it says alpha");
      assert.equal(h.model.requests[0]!.path, "/v1/messages");
      const second = h.model.requests[1]!.body as { messages: { role: string; content: { type: string; content?: unknown }[] }[] };
      const toolResult = second.messages.at(-1)!.content[0]!;
      assert.equal(toolResult.type, "tool_result");
    } finally {
      await dispose(h);
    }
  });
});

describe("retries in the memory engine follow the activity policy", () => {
  let h: Harness;
  before(async () => {
    h = await harness([
      { error: { status: 503, message: "overloaded" } },
      { error: { status: 429, message: "slow down", headers: { "retry-after-ms": "5" } } },
      { text: "third time lucky" },
      { error: { status: 400, message: "bad request shape" } },
    ]);
  });
  after(async () => dispose(h));

  test("retryable provider errors are retried, then the call succeeds", async () => {
    const llm = await defineAgent({ name: "plain", instruction: "Be plain." }).attachLlm(h.ctx);
    assert.equal(await llm.generateStr("hi"), "third time lucky");
    assert.equal(h.model.requests.length, 3);
  });

  test("a rejected request is not retried and names the provider's reason", async () => {
    const llm = await defineAgent({ name: "plain", instruction: "Be plain." }).attachLlm(h.ctx);
    await assert.rejects(llm.generateStr("hi"), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, FailureType.llmRequestRejected);
      assert.match(error.message, /bad request shape/);
      return true;
    });
    assert.equal(h.model.requests.length, 4);
  });
});

test("a zod 3 schema is refused saying to install zod 4, not with zod 4's TypeError about `def`", async () => {
  const { z: z3 } = await import("zod/v3");
  const { jsonSchemaOf } = await import("../src/workflows/structured-output.js");
  assert.throws(
    () => jsonSchemaOf(z3.object({ title: z3.string() }) as unknown as z.ZodType),
    (error: unknown) => error instanceof ApplicationFailure && error.nonRetryable && error.type === FailureType.configuration && /zod 3 schema; duragent takes zod 4 schemas\. Install zod 4 \(npm i zod@\^4\)/.test(error.message),
  );
  assert.deepEqual(jsonSchemaOf(z.object({ title: z.string() })).required, ["title"]);
});

describe("what an agent run hands to its next run", () => {
  // Turns whose words alone pass the payload: the oldest must go, the task and a note staying first.
  const turn = (n: number): Message[] => [
    { role: "assistant", content: `thought ${n} `.repeat(5_000), toolCalls: [{ id: `call_${n}`, name: "fs_read_text_file", arguments: "{}" }] },
    { role: "tool", toolCallId: `call_${n}`, toolName: "fs_read_text_file", content: [{ type: "text", text: `result ${n}` }] },
  ];
  const turns = (from: number, to: number) => Array.from({ length: to - from }, (_, index) => turn(from + index)).flat();
  const task: Message = { role: "user", content: "Read everything." };

  test("past the payload the latest results (keep) go on whole, the older as notes", () => {
    const reads = Array.from({ length: 20 }, (_, n): Message[] => [
      { role: "assistant", content: "", toolCalls: [{ id: `call_${n}`, name: "fs_read_text_file", arguments: "{}" }] },
      { role: "tool", toolCallId: `call_${n}`, toolName: "fs_read_text_file", content: [{ type: "text", text: String(n % 10).repeat(60_000) }] },
    ]).flat();
    const handed = messagesToHandOver([task, ...reads], undefined);
    const whole = handed.messages.filter((message) => message.role === "tool" && !textOf(message.content as never).startsWith("[duragent cleared"));
    assert.deepEqual([handed.leftOut, whole.length], [0, 5]);
  });

  test("a single turn whose results pass the payload hands on its results as notes, the model's turn kept", () => {
    const big: Message[] = [
      { role: "assistant", content: "", toolCalls: [1, 2].map((n) => ({ id: `call_${n}`, name: "fs_read_text_file", arguments: "{}" })) },
      ...[1, 2].map((n): Message => ({ role: "tool", toolCallId: `call_${n}`, toolName: "fs_read_text_file", content: [{ type: "text", text: String(n).repeat(900_000) }] })),
    ];
    const handed = messagesToHandOver([task, ...big], undefined);
    assert.equal(handed.leftOut, 0);
    assert.deepEqual(handed.messages.map((message) => message.role), ["user", "assistant", "tool", "tool"]);
    assert.ok(handed.messages.slice(2).every((message) => textOf(message.content as never).startsWith("[duragent cleared this result of fs_read_text_file (900K characters)")));
  });

  test("past the payload the oldest turns go, whole, and the note counts every message left out since the task began", () => {
    const first = messagesToHandOver([task, ...turns(0, 30)], undefined);
    assert.equal(first.messages[0], task);
    assert.equal(first.messages[1]!.role, "system");
    // Each turn goes whole: what is kept starts with a model turn, so no result lacks its call.
    assert.equal(first.messages[2]!.role, "assistant");
    assert.equal(first.leftOut, 60 - (first.messages.length - 2));
    assert.match(first.messages[1]!.content as string, new RegExp(`^duragent: ${first.leftOut} earlier messages`));
    const second = messagesToHandOver([...first.messages, ...turns(30, 45)], undefined, first.leftOut);
    // The earlier note gives way to one that counts both hand-overs' drops.
    assert.equal(second.messages.filter((message) => message.role === "system").length, 1);
    assert.match(second.messages[1]!.content as string, new RegExp(`^duragent: ${first.leftOut + second.leftOut} earlier messages`));
    assert.equal(first.leftOut + second.leftOut + second.messages.length - 2, 90);
  });
});
