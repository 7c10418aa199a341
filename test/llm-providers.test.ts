/**
 * The provider layer against the scripted model server, with the real OpenAI and Anthropic SDKs
 * on the wire: exact outbound bodies, response mapping, error classification, the registry.
 */
import assert from "node:assert/strict";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { AnthropicProvider } from "../src/activities/llm/anthropic-provider.js";
import { createCallLlm } from "../src/activities/llm/call-llm.js";
import { OpenAIProvider } from "../src/activities/llm/openai-provider.js";
import { createProviderRegistry } from "../src/activities/llm/provider-registry.js";
import { FailureType } from "../src/common/failures.js";
import type { LlmRequest } from "../src/common/llm.js";
import { textOf, type Message } from "../src/common/messages.js";
import { startScriptedModelServer } from "../src/testing/scripted-model-server.js";
import type { ScriptedCall, ScriptedModelServer, ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { waitFor } from "./support/wait.js";

const listSchema = { type: "object", properties: { path: { type: "string" } }, required: ["path"] };
const statSchema = { type: "object", properties: { path: { type: "string" } } };

const conversation: Message[] = [
  {
    role: "user",
    content: [
      { type: "text", text: "What is in /tmp?" },
      { type: "image", data: "aGVsbG8=", mimeType: "image/png" },
    ],
  },
  {
    role: "assistant",
    content: "Let me look.",
    toolCalls: [
      { id: "c1", name: "fs_list", arguments: '{"path":"/tmp"}' },
      { id: "c2", name: "fs_stat", arguments: '{"path":"/nope"}' },
    ],
  },
  { role: "tool", toolCallId: "c1", toolName: "fs_list", content: [{ type: "text", text: "a.txt\nb.txt" }] },
  { role: "tool", toolCallId: "c2", toolName: "fs_stat", content: [{ type: "text", text: "ENOENT: no such file" }], isError: true },
  { role: "user", content: "Thanks. Summarise." },
];

function request(model: string, extra: Partial<LlmRequest> = {}): LlmRequest {
  return {
    model,
    system: "You are terse.",
    messages: conversation,
    tools: [
      { name: "fs_list", description: "List a directory", inputSchema: listSchema },
      { name: "fs_stat", inputSchema: statSchema },
    ],
    toolChoice: "auto",
    ...extra,
  };
}

/** A turn queue the tests fill just before each call, so one server serves the whole file. */
function queueScript() {
  const turns: ScriptedTurn[] = [];
  const calls: ScriptedCall[] = [];
  const script = (call: ScriptedCall): ScriptedTurn => {
    calls.push(call);
    const turn = turns.shift();
    if (!turn) throw new Error("test forgot to queue a turn");
    return turn;
  };
  return { turns, calls, script };
}

async function rejection(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to fail");
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address && typeof address === "object");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

const queue = queueScript();
let server: ScriptedModelServer;

before(async () => {
  server = await startScriptedModelServer(queue.script, { quiet: true });
});
after(async () => {
  await server.close();
});

/** The id the server gave its last answer, which the provider's response carries. */
function lastAnswerId(): string | undefined {
  return (server.requests.at(-1)?.response?.body as { id?: string } | undefined)?.id;
}

function lastBody(): unknown {
  return server.requests.at(-1)?.body;
}

describe("OpenAI provider", () => {
  test("sends the exact Chat Completions body", async () => {
    const provider = new OpenAIProvider({ apiKey: "sk-test", baseURL: server.openaiBaseURL });
    queue.turns.push({ text: "ok" });
    await provider.generate(request("openai:gpt-test", { maxTokens: 500, temperature: 0.2 }), "gpt-test");

    const recorded = server.requests.at(-1);
    assert.equal(recorded?.path, "/v1/chat/completions");
    assert.equal(recorded?.headers.authorization, "Bearer sk-test");
    assert.deepEqual(recorded?.body, {
      model: "gpt-test",
      messages: [
        { role: "system", content: "You are terse." },
        {
          role: "user",
          content: [
            { type: "text", text: "What is in /tmp?" },
            { type: "image_url", image_url: { url: "data:image/png;base64,aGVsbG8=" } },
          ],
        },
        {
          role: "assistant",
          content: "Let me look.",
          tool_calls: [
            { id: "c1", type: "function", function: { name: "fs_list", arguments: '{"path":"/tmp"}' } },
            { id: "c2", type: "function", function: { name: "fs_stat", arguments: '{"path":"/nope"}' } },
          ],
        },
        { role: "tool", tool_call_id: "c1", content: "a.txt\nb.txt" },
        { role: "tool", tool_call_id: "c2", content: "Error: ENOENT: no such file" },
        { role: "user", content: "Thanks. Summarise." },
      ],
      tools: [
        { type: "function", function: { name: "fs_list", description: "List a directory", parameters: listSchema } },
        { type: "function", function: { name: "fs_stat", parameters: statSchema } },
      ],
      tool_choice: "auto",
      max_completion_tokens: 500,
      temperature: 0.2,
    });
  });

  test("maps a forced tool and a response format", async () => {
    const provider = new OpenAIProvider({ apiKey: "sk-test", baseURL: server.openaiBaseURL });
    const schema = { type: "object", properties: { city: { type: "string" } } };
    queue.turns.push({ text: '{"city":"Paris"}' });
    const response = await provider.generate(
      request("openai:gpt-test", { toolChoice: { name: "fs_list" }, responseFormat: { type: "json_schema", name: "answer", schema } }),
      "gpt-test",
    );
    const body = lastBody() as Record<string, unknown>;
    assert.deepEqual(body.tool_choice, { type: "function", function: { name: "fs_list" } });
    assert.deepEqual(body.response_format, { type: "json_schema", json_schema: { name: "answer", schema, strict: false } });
    assert.equal(body.max_completion_tokens, undefined);
    assert.equal(response.message.content, '{"city":"Paris"}');
    assert.equal(queue.calls.at(-1)?.responseFormat, true);
  });

  test("asks for strict structured output when the schema allows it, and sends any other schema as it is", async () => {
    const provider = new OpenAIProvider({ apiKey: "sk-test", baseURL: server.openaiBaseURL });
    const ask = async (schema: Record<string, unknown>) => {
      queue.turns.push({ text: "{}" });
      await provider.generate(request("openai:gpt-test", { responseFormat: { type: "json_schema", name: "answer", schema } }), "gpt-test");
      return (lastBody() as { response_format: { json_schema: Record<string, unknown> } }).response_format.json_schema;
    };
    // zod's input schemas leave plain objects open; strict mode needs them closed.
    const closable = {
      type: "object",
      properties: { city: { type: "string" }, stops: { type: "array", items: { type: "object", properties: { at: { type: ["string", "null"] } }, required: ["at"] } } },
      required: ["city", "stops"],
    };
    const strict = await ask(closable);
    assert.equal(strict.strict, true);
    assert.deepEqual(strict.schema, {
      type: "object",
      properties: {
        city: { type: "string" },
        stops: { type: "array", items: { type: "object", properties: { at: { type: ["string", "null"] } }, required: ["at"], additionalProperties: false } },
      },
      required: ["city", "stops"],
      additionalProperties: false,
    });
    const optional = { type: "object", properties: { city: { type: "string" }, note: { type: "string" } }, required: ["city"] };
    assert.deepEqual(await ask(optional), { name: "answer", schema: optional, strict: false });
    const open = { type: "object", additionalProperties: { type: "number" } };
    assert.deepEqual(await ask(open), { name: "answer", schema: open, strict: false });
  });

  test("omits tools and tool_choice when no tools are offered", async () => {
    const provider = new OpenAIProvider({ apiKey: "sk-test", baseURL: server.openaiBaseURL });
    queue.turns.push({ text: "hi" });
    await provider.generate({ model: "openai:gpt-test", messages: [{ role: "user", content: "hi" }], toolChoice: "none" }, "gpt-test");
    assert.deepEqual(lastBody(), { model: "gpt-test", messages: [{ role: "user", content: "hi" }] });
  });

  test("maps the response: text, tool calls with raw JSON arguments, stop reason, usage", async () => {
    const provider = new OpenAIProvider({ apiKey: "sk-test", baseURL: server.openaiBaseURL });
    queue.turns.push({
      text: "Looking.",
      toolCalls: [
        { name: "fs_list", arguments: { path: "/tmp" } },
        { name: "fs_stat", arguments: "{not json", id: "mine" },
      ],
      usage: { inputTokens: 42, outputTokens: 7 },
    });
    const response = await provider.generate(request("openai:gpt-test"), "gpt-test");
    const generatedId = response.message.toolCalls?.[0]?.id ?? "";
    assert.match(generatedId, /^call_\d+$/);
    assert.deepEqual(response, {
      message: {
        role: "assistant",
        content: "Looking.",
        toolCalls: [
          { id: generatedId, name: "fs_list", arguments: '{"path":"/tmp"}' },
          { id: "mine", name: "fs_stat", arguments: "{not json" },
        ],
      },
      stopReason: "tool_calls",
      usage: { inputTokens: 42, outputTokens: 7 },
      model: "gpt-test",
      id: lastAnswerId(),
    });

    queue.turns.push({ text: "Done.", usage: { inputTokens: 50, outputTokens: 2 } });
    const final = await provider.generate(request("openai:gpt-test"), "gpt-test");
    assert.deepEqual(final, {
      message: { role: "assistant", content: "Done." },
      stopReason: "end",
      usage: { inputTokens: 50, outputTokens: 2 },
      model: "gpt-test",
      id: lastAnswerId(),
    });

    queue.turns.push({ text: "cut", stopReason: "max_tokens" });
    assert.equal((await provider.generate(request("openai:gpt-test"), "gpt-test")).stopReason, "max_tokens");
  });

  test("the scripted server sees the conversation in neutral form", async () => {
    const provider = new OpenAIProvider({ apiKey: "sk-test", baseURL: server.openaiBaseURL });
    queue.turns.push({ text: "ok" });
    await provider.generate(request("openai:gpt-test"), "gpt-test");
    const call = queue.calls.at(-1);
    assert.equal(call?.wire, "openai");
    assert.equal(call?.model, "gpt-test");
    assert.equal(call?.system, "You are terse.");
    assert.deepEqual(call?.tools, ["fs_list", "fs_stat"]);
    assert.equal(call?.responseFormat, false);
    // Chat Completions has no error flag on tool messages: the error travels as a text prefix.
    assert.deepEqual(call?.messages, [
      ...conversation.slice(0, 3),
      { role: "tool", toolCallId: "c2", toolName: "fs_stat", content: [{ type: "text", text: "Error: ENOENT: no such file" }] },
      conversation[4],
    ]);
  });
});

describe("Anthropic provider", () => {
  test("sends the exact Messages body, merging consecutive tool results", async () => {
    const provider = new AnthropicProvider({ apiKey: "ak-test", baseURL: server.anthropicBaseURL });
    queue.turns.push({ text: "ok" });
    await provider.generate(request("anthropic:claude-test", { maxTokens: 500, temperature: 0.2 }), "claude-test");

    const recorded = server.requests.at(-1);
    assert.equal(recorded?.path, "/v1/messages");
    // Anthropic SDK 1.x sends the API key as a Bearer token.
    assert.equal(recorded?.headers.authorization, "Bearer ak-test");
    assert.deepEqual(recorded?.body, {
      model: "claude-test",
      max_tokens: 500,
      system: "You are terse.",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is in /tmp?" },
            { type: "image", source: { type: "base64", media_type: "image/png", data: "aGVsbG8=" } },
          ],
        },
        {
          role: "assistant",
          content: [
            { type: "text", text: "Let me look." },
            { type: "tool_use", id: "c1", name: "fs_list", input: { path: "/tmp" } },
            { type: "tool_use", id: "c2", name: "fs_stat", input: { path: "/nope" } },
          ],
        },
        {
          role: "user",
          content: [
            { type: "tool_result", tool_use_id: "c1", is_error: false, content: [{ type: "text", text: "a.txt\nb.txt" }] },
            { type: "tool_result", tool_use_id: "c2", is_error: true, content: [{ type: "text", text: "ENOENT: no such file" }] },
          ],
        },
        { role: "user", content: "Thanks. Summarise." },
      ],
      tools: [
        { name: "fs_list", description: "List a directory", input_schema: listSchema },
        { name: "fs_stat", input_schema: statSchema },
      ],
      tool_choice: { type: "auto" },
    });
    // The neutral view the scripted server builds round-trips the conversation exactly.
    assert.deepEqual(queue.calls.at(-1)?.messages, conversation);
    assert.equal(queue.calls.at(-1)?.system, "You are terse.");
  });

  test("defaults max_tokens to 4096 and maps toolChoice", async () => {
    const provider = new AnthropicProvider({ apiKey: "ak-test", baseURL: server.anthropicBaseURL });
    queue.turns.push({ text: "ok" }, { text: "ok" });
    await provider.generate(request("anthropic:claude-test", { toolChoice: "none" }), "claude-test");
    const body = lastBody() as Record<string, unknown>;
    assert.equal(body.max_tokens, 4096);
    assert.deepEqual(body.tool_choice, { type: "none" });
    await provider.generate(request("anthropic:claude-test", { toolChoice: { name: "fs_stat" } }), "claude-test");
    assert.deepEqual((lastBody() as Record<string, unknown>).tool_choice, { type: "tool", name: "fs_stat" });
  });

  test("a response format becomes an answer tool whose input comes back as text: any tool beside the agent's, forced alone", async () => {
    const provider = new AnthropicProvider({ apiKey: "ak-test", baseURL: server.anthropicBaseURL });
    const schema = { type: "object", properties: { city: { type: "string" } }, required: ["city"] };
    queue.turns.push({ text: '{"city":"Paris"}', usage: { inputTokens: 9, outputTokens: 4 } });
    const response = await provider.generate(
      request("anthropic:claude-test", { responseFormat: { type: "json_schema", name: "answer", schema } }),
      "claude-test",
    );
    const body = lastBody() as Record<string, unknown>;
    assert.deepEqual(body.tools, [
      { name: "fs_list", description: "List a directory", input_schema: listSchema },
      { name: "fs_stat", input_schema: statSchema },
      { name: "answer", description: "Give your final answer by calling this tool; its input is the answer.", input_schema: schema },
    ]);
    // Beside the agent's tools, the model may use them first: forcing the answer tool would answer without them.
    assert.deepEqual(body.tool_choice, { type: "any" });
    assert.deepEqual(response, {
      message: { role: "assistant", content: '{"city":"Paris"}' },
      stopReason: "end",
      usage: { inputTokens: 9, outputTokens: 4 },
      model: "claude-test",
      id: lastAnswerId(),
    });
    queue.turns.push({ toolCalls: [{ name: "fs_list", arguments: { path: "/tmp" } }] });
    const usingATool = await provider.generate(request("anthropic:claude-test", { responseFormat: { type: "json_schema", name: "answer", schema } }), "claude-test");
    assert.equal(usingATool.stopReason, "tool_calls");
    assert.deepEqual(usingATool.message.toolCalls?.map((call) => [call.name, call.arguments]), [["fs_list", '{"path":"/tmp"}']]);
    // Alone, the answer tool is forced.
    queue.turns.push({ text: '{"city":"Oslo"}' });
    const alone = await provider.generate(request("anthropic:claude-test", { tools: [], responseFormat: { type: "json_schema", name: "answer", schema } }), "claude-test");
    assert.deepEqual((lastBody() as Record<string, unknown>).tool_choice, { type: "tool", name: "answer" });
    assert.equal(alone.message.content, '{"city":"Oslo"}');
  });

  test("maps the response: text, tool calls as JSON text, stop reason, usage", async () => {
    const provider = new AnthropicProvider({ apiKey: "ak-test", baseURL: server.anthropicBaseURL });
    queue.turns.push({
      text: "Checking.",
      toolCalls: [{ name: "fs_list", arguments: { path: "/tmp" } }],
      usage: { inputTokens: 30, outputTokens: 6 },
    });
    const response = await provider.generate(request("anthropic:claude-test"), "claude-test");
    const generatedId = response.message.toolCalls?.[0]?.id ?? "";
    assert.match(generatedId, /^toolu_\d+$/);
    assert.deepEqual(response, {
      message: {
        role: "assistant",
        content: "Checking.",
        toolCalls: [{ id: generatedId, name: "fs_list", arguments: '{"path":"/tmp"}' }],
      },
      stopReason: "tool_calls",
      usage: { inputTokens: 30, outputTokens: 6 },
      model: "claude-test",
      id: lastAnswerId(),
    });
    queue.turns.push({ text: "Done." });
    const final = await provider.generate(request("anthropic:claude-test"), "claude-test");
    assert.equal(final.stopReason, "end");
    assert.equal(final.message.toolCalls, undefined);
  });
});

describe("error classification", () => {
  const env = () => ({
    OPENAI_API_KEY: "sk-env",
    OPENAI_BASE_URL: server.openaiBaseURL,
    ANTHROPIC_API_KEY: "ak-env",
    ANTHROPIC_BASE_URL: server.anthropicBaseURL,
  });

  for (const provider of ["openai", "anthropic"] as const) {
    const model = `${provider}:m`;

    test(`${provider}: 400 is a non-retryable rejection carrying the provider's message`, async () => {
      const callLlm = createCallLlm(createProviderRegistry({ providers: {} }, env()));
      queue.turns.push({ error: { status: 400, message: "tools.0.name: invalid characters" } });
      const failure = await rejection(callLlm(request(model)));
      assert.equal(failure.type, FailureType.llmRequestRejected);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, new RegExp(`^${provider} rejected the request \\(400\\): tools\\.0\\.name: invalid characters`));
    });

    test(`${provider}: 401 names the key to fix`, async () => {
      const callLlm = createCallLlm(createProviderRegistry({ providers: {} }, env()));
      queue.turns.push({ error: { status: 401, message: "invalid x-api-key" } });
      const failure = await rejection(callLlm(request(model)));
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, new RegExp(`${provider.toUpperCase()}_API_KEY`));
      assert.match(failure.message, new RegExp(`llm\\.providers\\.${provider}\\.apiKey`));
    });

    test(`${provider}: 429 with retry-after is retryable after that delay, in exactly one request, where the attempt may not wait`, async () => {
      const callLlm = createCallLlm(createProviderRegistry({ providers: {} }, env()), { rateLimitWaitMs: 0 });
      const before = server.requests.length;
      queue.turns.push({ error: { status: 429, message: "slow down", headers: { "retry-after": "3" } } });
      const failure = await rejection(callLlm(request(model)));
      assert.equal(server.requests.length - before, 1, "the SDK must not retry on its own");
      assert.equal(failure.type, FailureType.llmUnavailable);
      assert.equal(failure.nonRetryable, false);
      assert.equal(failure.nextRetryDelay, 3000);
      assert.equal(failure.message, `${provider} is rate limiting requests (429): slow down; it asked to retry after 3 s`);
    });

    test(`${provider}: retry-after-ms wins over retry-after`, async () => {
      const callLlm = createCallLlm(createProviderRegistry({ providers: {} }, env()), { rateLimitWaitMs: 0 });
      queue.turns.push({ error: { status: 429, message: "slow down", headers: { "retry-after-ms": "1500", "retry-after": "3" } } });
      const failure = await rejection(callLlm(request(model)));
      assert.equal(failure.nextRetryDelay, 1500);
      assert.match(failure.message, /; it asked to retry after 1\.5 s$/);
      queue.turns.push({ error: { status: 429, message: "Quota window resets later.", headers: { "retry-after": "3600" } } });
      assert.match((await rejection(callLlm(request(model)))).message, /: Quota window resets later\. It asked to retry after 60 min$/);
    });

    test(`${provider}: a busy provider is waited for within the attempt, as it asks, and the worker's other calls to it wait too`, async () => {
      const callLlm = createCallLlm(createProviderRegistry({ providers: {} }, env()));
      const before = server.requests.length;
      queue.turns.push({ error: { status: 429, message: "slow down", headers: { "retry-after-ms": "400" } } }, { text: "first" }, { text: "second" });
      const waits: { waitMs: number; reason: string; over?: true }[] = [];
      const started = Date.now();
      const first = callLlm(request(model), undefined, undefined, { onWait: (wait) => waits.push(wait) });
      // Sent while the first waits: it waits for the same moment instead of being refused too.
      await waitFor("the first call's wait", async () => (waits.length > 0 ? true : undefined));
      const second = callLlm(request(model));
      assert.deepEqual([textOf((await first).message.content), textOf((await second).message.content)].sort(), ["first", "second"]);
      assert.equal(server.requests.length - before, 3);
      assert.ok(Date.now() - started >= 400, `answered after ${Date.now() - started} ms`);
      // Told before the wait, and when it is over (what status showed of it is then stale).
      assert.deepEqual(waits.map((wait) => wait.over ?? false), [false, true]);
      assert.ok(waits[0]!.waitMs > 300 && waits[0]!.waitMs <= 400, String(waits[0]!.waitMs));
      assert.equal(waits[0]!.reason, `${provider} is rate limiting requests (429): slow down; it asked to retry after 400 ms`);
      // A wait past the attempt's limit is not made: the attempt fails, saying what was asked.
      queue.turns.push({ error: { status: 429, message: "slow down", headers: { "retry-after": "60" } } });
      const failure = await rejection(callLlm(request(model), undefined, undefined, { deadline: Date.now() + 45_000 }));
      assert.equal(failure.nextRetryDelay, 60_000);
    });

    test(`${provider}: 503 is retryable, in exactly one request`, async () => {
      const callLlm = createCallLlm(createProviderRegistry({ providers: {} }, env()));
      const before = server.requests.length;
      queue.turns.push({ error: { status: 503, message: "overloaded" } });
      const failure = await rejection(callLlm(request(model)));
      assert.equal(server.requests.length - before, 1);
      assert.equal(failure.type, FailureType.llmUnavailable);
      assert.equal(failure.nonRetryable, false);
      assert.equal(failure.nextRetryDelay, undefined);
      assert.match(failure.message, new RegExp(`^${provider} is unavailable \\(503\\): overloaded`));
    });

    test(`${provider}: 529 (Anthropic's overloaded_error) is retryable and says overloaded; 500 a server error`, async () => {
      const callLlm = createCallLlm(createProviderRegistry({ providers: {} }, env()));
      queue.turns.push({ error: { status: 529, message: "Overloaded" } }, { error: { status: 500, message: "Internal error" } });
      const overloaded = await rejection(callLlm(request(model)));
      assert.equal(overloaded.nonRetryable, false);
      assert.match(overloaded.message, new RegExp(`^${provider} is overloaded \\(529\\): Overloaded`));
      const broken = await rejection(callLlm(request(model)));
      assert.match(broken.message, new RegExp(`^${provider} had a server error \\(500\\): Internal error`));
    });

    test(`${provider}: connection refused is retryable`, async () => {
      const port = await closedPort();
      const callLlm = createCallLlm(
        createProviderRegistry({ providers: { [provider]: { baseURL: `http://127.0.0.1:${port}${provider === "openai" ? "/v1" : ""}`, apiKey: "k" } } }, {}),
      );
      const failure = await rejection(callLlm(request(model)));
      assert.equal(failure.type, FailureType.llmUnavailable);
      assert.equal(failure.nonRetryable, false);
      assert.match(failure.message, /Could not reach/);
    });
  }

  test("an unknown provider is a configuration failure", async () => {
    const callLlm = createCallLlm(createProviderRegistry({ providers: {} }, env()));
    const failure = await rejection(callLlm(request("mistery:m")));
    assert.equal(failure.type, FailureType.configuration);
    assert.equal(failure.nonRetryable, true);
  });

  test("cancellation surfaces the abort reason, not a provider failure", async () => {
    const callLlm = createCallLlm(createProviderRegistry({ providers: {} }, env()));
    queue.turns.push({ text: "late", delayMs: 2000 });
    const controller = new AbortController();
    const reason = new Error("activity cancelled");
    setTimeout(() => controller.abort(reason), 50);
    await assert.rejects(callLlm(request("openai:m"), controller.signal), (error) => error === reason);
  });
});

describe("provider registry", () => {
  test("openai and anthropic work from the environment alone", async () => {
    const registry = createProviderRegistry({ providers: {} }, {
      OPENAI_API_KEY: "sk-env",
      OPENAI_BASE_URL: server.openaiBaseURL,
      ANTHROPIC_API_KEY: "ak-env",
      ANTHROPIC_BASE_URL: server.anthropicBaseURL,
    });
    queue.turns.push({ text: "a" }, { text: "b" });
    await registry.get("openai").generate(request("openai:m"), "m");
    assert.equal(server.requests.at(-1)?.headers.authorization, "Bearer sk-env");
    await registry.get("anthropic").generate(request("anthropic:m"), "m");
    assert.equal(server.requests.at(-1)?.headers.authorization, "Bearer ak-env");
    assert.equal(registry.get("openai"), registry.get("openai"), "instances are cached");
  });

  test("config values win over the environment", async () => {
    const registry = createProviderRegistry(
      { providers: { openai: { apiKey: "sk-config", baseURL: server.openaiBaseURL } } },
      { OPENAI_API_KEY: "sk-env", OPENAI_BASE_URL: "http://127.0.0.1:9/v1" },
    );
    queue.turns.push({ text: "a" });
    await registry.get("openai").generate(request("openai:m"), "m");
    assert.equal(server.requests.at(-1)?.headers.authorization, "Bearer sk-config");
  });

  test("a custom OpenAI-compatible server needs no key and gets max_tokens", async () => {
    const registry = createProviderRegistry({ providers: { ollama: { baseURL: server.openaiBaseURL, headers: { "x-team": "qa" } } } }, {});
    assert.equal(registry.get("ollama").name, "ollama");
    queue.turns.push({ text: "a" });
    await registry.get("ollama").generate(request("ollama:llama3", { maxTokens: 64 }), "llama3");
    const recorded = server.requests.at(-1);
    assert.equal(recorded?.headers["x-team"], "qa");
    assert.equal((recorded?.body as Record<string, unknown>).max_tokens, 64);
    assert.equal((recorded?.body as Record<string, unknown>).max_completion_tokens, undefined);
  });

  test("a custom entry reads <NAME>_API_KEY and honours kind", async () => {
    const registry = createProviderRegistry(
      { providers: { "my-claude": { kind: "anthropic", baseURL: server.anthropicBaseURL } } },
      { MY_CLAUDE_API_KEY: "ak-custom" },
    );
    queue.turns.push({ text: "a" });
    await registry.get("my-claude").generate(request("my-claude:m"), "m");
    assert.equal(server.requests.at(-1)?.path, "/v1/messages");
    assert.equal(server.requests.at(-1)?.headers.authorization, "Bearer ak-custom");
  });

  test("a missing key is a configuration failure naming the variable and the config key", () => {
    const registry = createProviderRegistry({ providers: {} }, { OPENAI_API_KEY: "" });
    for (const [name, variable] of [
      ["openai", "OPENAI_API_KEY"],
      ["anthropic", "ANTHROPIC_API_KEY"],
    ] as const) {
      assert.throws(
        () => registry.get(name),
        (error) =>
          error instanceof ApplicationFailure &&
          error.type === FailureType.configuration &&
          error.nonRetryable &&
          error.message.includes(variable) &&
          error.message.includes(`llm.providers.${name}.apiKey`),
      );
    }
    // An empty key in the config (`${OPENAI_API_KEY:-}` with the variable unset) is missing too,
    // not handed to the SDK; and with `withoutApiKey: scripted` the scripted model answers.
    const empty = { providers: { openai: { apiKey: "" } } };
    assert.throws(() => createProviderRegistry(empty, {}).get("openai"), (error) => error instanceof ApplicationFailure && error.message.includes("OPENAI_API_KEY"));
    assert.equal(createProviderRegistry({ ...empty, withoutApiKey: "scripted" }, {}).get("openai").constructor.name, "ScriptedProvider");
    // Only OpenAI-kind servers get a placeholder key: Anthropic endpoints always want one.
    const withBase = createProviderRegistry({ providers: { anthropic: { baseURL: server.anthropicBaseURL } } }, {});
    assert.throws(() => withBase.get("anthropic"), /ANTHROPIC_API_KEY/);
  });

  test("an unknown provider lists the configured ones", () => {
    const registry = createProviderRegistry({ providers: { ollama: { baseURL: "http://127.0.0.1:11434/v1" } } }, {});
    assert.throws(
      () => registry.get("groq"),
      (error) =>
        error instanceof ApplicationFailure &&
        error.type === FailureType.configuration &&
        error.nonRetryable &&
        /Unknown LLM provider "groq"/.test(error.message) &&
        /Configured providers: ollama/.test(error.message),
    );
  });
});

describe("scripted model server", () => {
  test("an exhausted array script answers 400 and records the problem", async () => {
    const scripted = await startScriptedModelServer([{ text: "one" }], { quiet: true });
    try {
      const callLlm = createCallLlm(createProviderRegistry({ providers: { openai: { apiKey: "k", baseURL: scripted.openaiBaseURL } } }, {}));
      const first = await callLlm(request("openai:m"));
      assert.equal(first.message.content, "one");
      const failure = await rejection(callLlm(request("openai:m")));
      assert.equal(failure.type, FailureType.llmRequestRejected);
      assert.match(failure.message, /scripted model: no turn scripted for request #2/);
      assert.equal(scripted.requests.length, 2);
      assert.equal(scripted.requests[1]?.response?.status, 400);
      assert.equal(scripted.errors.length, 1);
      assert.match(scripted.errors[0] ?? "", /no turn scripted for request #2/);
    } finally {
      await scripted.close();
    }
  });

  test("anthropic errors use Anthropic's error body", async () => {
    const scripted = await startScriptedModelServer([{ error: { status: 529, message: "Overloaded" } }], { quiet: true });
    try {
      const callLlm = createCallLlm(createProviderRegistry({ providers: { anthropic: { apiKey: "k", baseURL: scripted.anthropicBaseURL } } }, {}));
      const failure = await rejection(callLlm(request("anthropic:m")));
      assert.equal(failure.nonRetryable, false);
      assert.deepEqual(scripted.requests[0]?.response?.body, { type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    } finally {
      await scripted.close();
    }
  });

  test("counts concurrent in-flight requests", async () => {
    const scripted = await startScriptedModelServer((call) => ({ text: `reply ${call.index}`, delayMs: 150 }), { quiet: true });
    try {
      const callLlm = createCallLlm(
        createProviderRegistry(
          { providers: { openai: { apiKey: "k", baseURL: scripted.openaiBaseURL }, anthropic: { apiKey: "k", baseURL: scripted.anthropicBaseURL } } },
          {},
        ),
      );
      const replies = await Promise.all([callLlm(request("openai:m")), callLlm(request("anthropic:m")), callLlm(request("openai:m"))]);
      assert.deepEqual(replies.map((reply) => reply.message.content).sort(), ["reply 0", "reply 1", "reply 2"]);
      assert.equal(scripted.maxInFlight, 3);
      assert.equal(scripted.inFlight, 0);
    } finally {
      await scripted.close();
    }
  });

  test("a provider's maxConcurrentCalls holds the worker's calls to it in flight at once to that many; the rest wait their turn", async () => {
    const scripted = await startScriptedModelServer((call) => ({ text: `reply ${call.index}`, delayMs: 100 }), { quiet: true });
    try {
      const registry = createProviderRegistry({ providers: { openai: { apiKey: "k", baseURL: scripted.openaiBaseURL } } }, {});
      const callLlm = createCallLlm(registry, { maxConcurrentCalls: { openai: 2 } });
      const replies = await Promise.all(Array.from({ length: 5 }, () => callLlm(request("openai:m"))));
      assert.equal(replies.length, 5);
      assert.equal(scripted.maxInFlight, 2);
    } finally {
      await scripted.close();
    }
  });

  test("a function script can answer from the last tool result", async () => {
    const scripted = await startScriptedModelServer(
      (call) => {
        const last = call.messages.at(-1);
        if (last?.role === "tool") return { text: `saw ${last.toolName}: ${last.content.map((part) => (part.type === "text" ? part.text : "")).join("")}` };
        return { toolCalls: [{ name: "fs_list", arguments: { path: "/tmp" } }] };
      },
      { quiet: true },
    );
    try {
      const provider = new AnthropicProvider({ apiKey: "k", baseURL: scripted.anthropicBaseURL });
      const first = await provider.generate({ model: "anthropic:m", messages: [{ role: "user", content: "list" }] }, "m");
      const call = first.message.toolCalls?.[0];
      assert.deepEqual(call, { id: "toolu_1", name: "fs_list", arguments: '{"path":"/tmp"}' });
      const second = await provider.generate(
        {
          model: "anthropic:m",
          messages: [
            { role: "user", content: "list" },
            first.message,
            { role: "tool", toolCallId: call.id, toolName: "fs_list", content: [{ type: "text", text: "a.txt" }] },
          ],
        },
        "m",
      );
      assert.equal(second.message.content, "saw fs_list: a.txt");
    } finally {
      await scripted.close();
    }
  });

  test("generated tool call ids are deterministic per server", async () => {
    const turns: ScriptedTurn[] = [
      { toolCalls: [{ name: "a", arguments: {} }, { name: "b", arguments: {} }] },
      { toolCalls: [{ name: "c", arguments: {} }] },
    ];
    const scripted = await startScriptedModelServer(turns, { quiet: true });
    try {
      const openai = new OpenAIProvider({ apiKey: "k", baseURL: scripted.openaiBaseURL });
      const anthropic = new AnthropicProvider({ apiKey: "k", baseURL: scripted.anthropicBaseURL });
      const first = await openai.generate({ model: "openai:m", messages: [{ role: "user", content: "go" }] }, "m");
      const second = await anthropic.generate({ model: "anthropic:m", messages: [{ role: "user", content: "go" }] }, "m");
      assert.deepEqual(first.message.toolCalls?.map((call) => call.id), ["call_1", "call_2"]);
      assert.deepEqual(second.message.toolCalls?.map((call) => call.id), ["toolu_3"]);
    } finally {
      await scripted.close();
    }
  });

  test("unknown routes get a 404 and are recorded", async () => {
    const scripted = await startScriptedModelServer([], { quiet: true });
    try {
      const response = await fetch(`${scripted.url}/v1/embeddings`, { method: "POST", body: "{}" });
      assert.equal(response.status, 404);
      assert.equal(scripted.requests[0]?.path, "/v1/embeddings");
      assert.deepEqual(scripted.requests[0]?.body, {});
    } finally {
      await scripted.close();
    }
  });
});

describe("servers that misbehave", () => {
  // A loopback server whose every answer the test sets: bodies and streams no real API sends, but
  // broken servers, proxies and OpenAI- or Anthropic-compatible servers do.
  type Handler = (request: IncomingMessage, body: Record<string, unknown>, response: ServerResponse) => void;
  let handle: Handler = (_request, _body, response) => response.end();
  const bodies: Record<string, unknown>[] = [];
  let bad: HttpServer;
  let origin = "";
  before(async () => {
    bad = createHttpServer((request, response) => {
      let raw = "";
      request.on("data", (piece: Buffer) => (raw += piece.toString()));
      request.on("end", () => {
        const body = JSON.parse(raw) as Record<string, unknown>;
        bodies.push(body);
        handle(request, body, response);
      });
    });
    await new Promise<void>((resolve) => bad.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(bad.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => bad.close(() => resolve())));

  const json = (value: unknown, status = 200) => (_request: IncomingMessage, _body: Record<string, unknown>, response: ServerResponse) => {
    response.writeHead(status, { "content-type": "application/json" });
    response.end(typeof value === "string" ? value : JSON.stringify(value));
  };
  const sse = (events: (string | [string, unknown])[], end: "end" | "destroy" = "end") => (_request: IncomingMessage, _body: Record<string, unknown>, response: ServerResponse) => {
    response.writeHead(200, { "content-type": "text/event-stream" });
    const text = events.map((event) => (typeof event === "string" ? event : `event: ${event[0]}\ndata: ${JSON.stringify(event[1])}\n\n`)).join("");
    // Cut once the events are on their way: the client has the headers and part of the answer.
    if (end === "destroy") response.write(text, () => response.socket?.destroy());
    else response.end(text);
  };
  const key = "sk-misbehave-secret-1234";
  const call = (provider: "openai" | "anthropic", stream: boolean) => {
    const callLlm = createCallLlm(createProviderRegistry({ providers: { [provider]: { apiKey: key, baseURL: provider === "openai" ? `${origin}/v1` : origin } } }, {}));
    // Whatever a misbehaving server makes of the call, its failure (what history keeps) never quotes the key.
    return callLlm({ model: `${provider}:m`, messages: [{ role: "user", content: "hi" }] }, undefined, stream ? () => {} : undefined).catch((error: unknown) => {
      for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
        assert.ok(!`${cause.message}\n${cause.stack ?? ""}`.includes(key), `the key in: ${cause.message}`);
      }
      throw error;
    });
  };
  const openaiCompletion = (message: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ id: "c", object: "chat.completion", created: 1, model: "m", choices: [{ index: 0, message: { role: "assistant", ...message }, finish_reason: "tool_calls" }], usage: { prompt_tokens: 3, completion_tokens: 2 }, ...extra });
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

  test("a body without the fields the format promises fails the attempt saying which field, retryably, not with a TypeError", async () => {
    const cases: [provider: "openai" | "anthropic", body: unknown, expected: RegExp][] = [
      ["openai", { id: "c", object: "chat.completion", model: "m", choices: [] }, /^openai sent a malformed response: the chat completion has no choices$/],
      ["openai", { id: "c", object: "chat.completion", model: "m", choices: [{ index: 0, finish_reason: "stop" }] }, /^openai sent a malformed response: the chat completion's choice has no message$/],
      ["openai", '{"id": "c", "choices": [', /^openai sent a response that is not valid JSON \(/],
      ["anthropic", { id: "m", type: "message", role: "assistant", model: "m", stop_reason: "end_turn" }, /^anthropic sent a malformed response: the message has no content list$/],
      ["anthropic", { id: "m", type: "message", role: "assistant", model: "m", content: [{ type: "text" }], stop_reason: "end_turn" }, /^anthropic sent a malformed response: a text block of the message has no text$/],
    ];
    for (const [provider, body, expected] of cases) {
      handle = json(body);
      const failure = await rejection(call(provider, false));
      assert.match(failure.message, expected);
      assert.equal(failure.type, FailureType.llmUnavailable);
      assert.equal(failure.nonRetryable, false);
    }
  });

  test("tool calls without an id, or sharing one, get ids of their own, so their results can answer them", async () => {
    const read = (path: string, id?: string) => ({ ...(id !== undefined ? { id } : {}), type: "function", function: { name: "read", arguments: JSON.stringify({ path }) } });
    handle = json(openaiCompletion({ content: null, tool_calls: [read("a"), read("b", ""), read("c", "call_1"), read("d", "call_1")] }));
    const openai = (await call("openai", false)).message.toolCalls ?? [];
    handle = json({ id: "m", type: "message", role: "assistant", model: "m", stop_reason: "tool_use", usage: { input_tokens: 1, output_tokens: 1 }, content: [{ type: "tool_use", name: "read", input: { path: "a" } }, { type: "tool_use", id: "toolu_1", name: "read", input: { path: "b" } }, { type: "tool_use", id: "toolu_1", name: "read", input: { path: "c" } }] });
    const anthropic = (await call("anthropic", false)).message.toolCalls ?? [];
    for (const calls of [openai, anthropic]) {
      const ids = calls.map((toolCall) => toolCall.id);
      assert.ok(ids.every((id) => typeof id === "string" && /^[A-Za-z0-9_-]+$/.test(id)), `ids fit both APIs' pattern: ${ids.join(", ")}`);
      assert.equal(new Set(ids).size, ids.length, `unique: ${ids.join(", ")}`);
    }
    assert.equal(openai[2]!.id, "call_1", "a given id is kept where it is the first");
    assert.deepEqual(openai.map((toolCall) => JSON.parse(toolCall.arguments).path), ["a", "b", "c", "d"]);
    assert.equal(anthropic[1]!.id, "toolu_1");
  });

  test("a server without usage: a whole answer, its call counted as unreported (0 tokens), streamed or not", async () => {
    handle = json({ id: "m", type: "message", role: "assistant", model: "m", content: [{ type: "text", text: "hi" }], stop_reason: "end_turn" });
    assert.deepEqual((await call("anthropic", false)).usage, { inputTokens: 0, outputTokens: 0, unreportedCalls: 1 });
    handle = json({ ...openaiCompletion({ content: "hi" }), usage: undefined });
    assert.deepEqual((await call("openai", false)).usage, { inputTokens: 0, outputTokens: 0, unreportedCalls: 1 });
    // The usage chunk would follow the finish reason; a stream that ends cleanly without it is whole.
    handle = sse([chunk({ role: "assistant", content: "Whole " }), chunk({ content: "answer." }), chunk({}, "stop"), "data: [DONE]\n\n"]);
    const streamed = await call("openai", true);
    assert.equal(streamed.message.content, "Whole answer.");
    assert.deepEqual(streamed.usage, { inputTokens: 0, outputTokens: 0, unreportedCalls: 1 });
    // Usage of 0 tokens, reported, is not unreported.
    handle = json({ ...openaiCompletion({ content: "hi" }), usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 } });
    assert.deepEqual((await call("openai", false)).usage, { inputTokens: 0, outputTokens: 0 });
  });

  test("a server that answers a streaming request with the whole JSON completion: OpenAI's is taken; Anthropic's says to set stream: false", async () => {
    handle = json({ ...openaiCompletion({ content: "Not streamed." }), choices: [{ index: 0, message: { role: "assistant", content: "Not streamed." }, finish_reason: "stop" }] });
    const shown: string[] = [];
    const callLlm = createCallLlm(createProviderRegistry({ providers: { openai: { apiKey: "k", baseURL: `${origin}/v1` } } }, {}));
    const response = await callLlm({ model: "openai:m", messages: [{ role: "user", content: "hi" }] }, undefined, (delta) => shown.push(delta));
    assert.equal(bodies.at(-1)?.stream, true);
    assert.equal(response.message.content, "Not streamed.");
    assert.deepEqual(shown, ["Not streamed."]);
    handle = json({ id: "m", type: "message", role: "assistant", model: "m", content: [{ type: "text", text: "hi" }], stop_reason: "end_turn", usage: { input_tokens: 1, output_tokens: 1 } });
    const failure = await rejection(call("anthropic", true));
    assert.match(failure.message, /^anthropic sent a malformed response: it answered the streaming request with application\/json and no events; if this server cannot stream, set llm\.providers\.anthropic\.stream: false$/);
  });

  test("a provider that goes quiet fails the attempt after execution.llm.idleTimeoutMs; one that keeps streaming is never cut", async () => {
    const idleTimeoutMs = 1_000;
    const held: ServerResponse[] = [];
    // Events one every 100 ms, then the end or (quiet) nothing more; every event touches the watch.
    const paced = (events: string[], quiet = false) => (_request: IncomingMessage, _body: Record<string, unknown>, response: ServerResponse) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      held.push(response);
      let next = 0;
      const timer = setInterval(() => {
        if (next < events.length) response.write(events[next++]);
        else {
          clearInterval(timer);
          if (!quiet) response.end();
        }
      }, 100);
      response.on("close", () => clearInterval(timer));
    };
    const silent = (_request: IncomingMessage, _body: Record<string, unknown>, response: ServerResponse) => void held.push(response);
    const callQuietly = (provider: "openai" | "anthropic", stream: boolean) => {
      const callLlm = createCallLlm(createProviderRegistry({ providers: { [provider]: { apiKey: key, baseURL: provider === "openai" ? `${origin}/v1` : origin } } }, {}));
      return callLlm({ model: `${provider}:m`, messages: [{ role: "user", content: "hi" }], idleTimeoutMs }, undefined, stream ? () => {} : undefined);
    };
    const words = Array.from({ length: 15 }, (_, index) => `w${index} `);
    const anthropicEvents = (texts: string[], end = true): string[] => {
      const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
      return [
        event("message_start", { message: { id: "msg_1", type: "message", role: "assistant", model: "m", content: [], stop_reason: null, usage: { input_tokens: 1, output_tokens: 0 } } }),
        event("content_block_start", { index: 0, content_block: { type: "text", text: "" } }),
        ...texts.map((text) => event("content_block_delta", { index: 0, delta: { type: "text_delta", text } })),
        ...(end ? [event("content_block_stop", { index: 0 }), event("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 15 } }), event("message_stop", {})] : []),
      ];
    };
    try {
      // 1.5 s of answer, never 1 s without an event: whole.
      handle = paced([chunk({ role: "assistant", content: "" }), ...words.map((word) => chunk({ content: word })), chunk({}, "stop"), "data: [DONE]\n\n"]);
      assert.equal((await callQuietly("openai", true)).message.content, words.join(""));
      handle = paced(anthropicEvents(words));
      assert.equal((await callQuietly("anthropic", true)).message.content, words.join(""));

      // A stream that stops sending, and a server that never answers (streamed or not): given up.
      const cases: [provider: "openai" | "anthropic", stream: boolean, handler: typeof handle][] = [
        ["openai", true, paced([chunk({ role: "assistant", content: "" }), chunk({ content: "Half" })], true)],
        // Quiet after its finish reason, before the usage chunk: not a whole answer without usage.
        ["openai", true, paced([chunk({ role: "assistant", content: "" }), chunk({ content: "Whole" }), chunk({}, "stop")], true)],
        ["anthropic", true, paced(anthropicEvents(["Half"], false), true)],
        ["openai", true, silent],
        ["openai", false, silent],
        ["anthropic", false, silent],
      ];
      for (const [provider, stream, handler] of cases) {
        handle = handler;
        const failure = await rejection(callQuietly(provider, stream));
        assert.equal(failure.message, `${provider} sent nothing for 1 s (execution.llm.idleTimeoutMs), so this attempt was given up.`, `${provider}, ${stream ? "streamed" : "not streamed"}`);
        assert.equal(failure.nonRetryable, false);
        assert.equal(failure.type, FailureType.llmUnavailable);
      }
    } finally {
      for (const response of held) response.destroy();
    }
  });

  test("an error event mid-stream says the server sent it, not that it could not be reached; a cut stream says it broke off", async () => {
    handle = sse([chunk({ role: "assistant", content: "Hal" }), `data: ${JSON.stringify({ error: { message: "upstream model crashed", type: "server_error" } })}\n\n`]);
    const openai = await rejection(call("openai", true));
    assert.equal(openai.message, "openai sent an error in the middle of its streamed answer: upstream model crashed");
    assert.equal(openai.nonRetryable, false);
    const start = ["message_start", { type: "message_start", message: { id: "m", type: "message", role: "assistant", model: "m", content: [], stop_reason: null, usage: { input_tokens: 1, output_tokens: 1 } } }] as [string, unknown];
    handle = sse([start, ["error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }]]);
    const anthropic = await rejection(call("anthropic", true));
    assert.equal(anthropic.message, "anthropic sent an error in the middle of its streamed answer: Overloaded");
    assert.equal(anthropic.nonRetryable, false);

    handle = sse([chunk({ role: "assistant", content: "Half an ans" })], "destroy");
    const cutOpenai = await rejection(call("openai", true));
    assert.match(cutOpenai.message, /^The connection to openai broke off before the answer was complete \(other side closed/);
    handle = sse([start, ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }]], "destroy");
    const cutAnthropic = await rejection(call("anthropic", true));
    assert.match(cutAnthropic.message, /^The connection to anthropic broke off before the answer was complete \(other side closed/);
    for (const failure of [cutOpenai, cutAnthropic]) assert.equal(failure.nonRetryable, false);
  });

  test("a gateway's big HTML error page is named by its title, and a long explanation is cut, in the failure and its cause", async () => {
    const page = `<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>${"<p>upstream padding</p>\n".repeat(40_000)}</body></html>`;
    for (const provider of ["openai", "anthropic"] as const) {
      handle = (_request, _body, response) => {
        response.writeHead(502, { "content-type": "text/html" });
        response.end(page);
      };
      const failure = await rejection(call(provider, false));
      assert.equal(failure.message, `${provider} had a server error (502): an HTML page titled '502 Bad Gateway'`);
      assert.equal(failure.nonRetryable, false);
      assert.ok((failure.cause?.message.length ?? 0) < 1200, `the cause quotes ${failure.cause?.message.length} characters`);
      handle = json({ error: { message: `Invalid request: ${"x".repeat(100_000)}`, type: "invalid_request_error" } }, 400);
      const long = await rejection(call(provider, false));
      assert.match(long.message, new RegExp(`^${provider} rejected the request \\(400\\): Invalid request: x{983}… \\(99017 more characters left out\\)$`));
      assert.ok((long.cause?.message.length ?? 0) < 1200);
    }
  });

  test("a 400 for a conversation longer than the context window says what to change", async () => {
    const bodies400: [provider: "openai" | "anthropic", body: unknown][] = [
      ["openai", { error: { message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 200417 tokens.", type: "invalid_request_error", code: "context_length_exceeded" } }],
      ["anthropic", { type: "error", error: { type: "invalid_request_error", message: "prompt is too long: 208310 tokens > 200000 maximum" } }],
    ];
    for (const [provider, body] of bodies400) {
      handle = json(body, 400);
      const failure = await rejection(call(provider, false));
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, new RegExp(`^${provider} rejected the request \\(400\\): .*tokens.*\\. The conversation is longer than the model's context window: use a model with a larger one, .*execution\\.maxToolResultBytes`));
    }
  });

  test("a 400 for more tools than the model takes says how to offer fewer", async () => {
    handle = json({ error: { message: "Invalid 'tools': array too long. Expected an array with maximum length 128, but got an array with length 516 instead.", type: "invalid_request_error", param: "tools", code: "array_above_max_length" } }, 400);
    const failure = await rejection(call("openai", false));
    assert.equal(failure.nonRetryable, true);
    assert.equal(
      failure.message,
      "openai rejected the request (400): Invalid 'tools': array too long. Expected an array with maximum length 128, but got an array with length 516 instead. " +
        "The agent offers the model more tools than it takes (OpenAI's limit is 128): narrow each server's tools with mcp.servers.<name>.allowedTools, or split the work between agents with fewer servers each.",
    );
    handle = json({ error: { message: "Invalid 'messages': array too long.", type: "invalid_request_error", param: "messages", code: "array_above_max_length" } }, 400);
    assert.doesNotMatch((await rejection(call("openai", false))).message, /allowedTools/);
  });

  test("OpenAI's 429 insufficient_quota is not retried and says why; a plain 429 still is", async () => {
    handle = json({ error: { message: "You exceeded your current quota, please check your plan and billing details.", type: "insufficient_quota", code: "insufficient_quota" } }, 429);
    const quota = await rejection(call("openai", false));
    assert.equal(quota.nonRetryable, true);
    assert.equal(quota.type, FailureType.llmRequestRejected);
    assert.match(quota.message, /^openai refused the request \(429\): You exceeded your current quota, please check your plan and billing details\. The account has no quota left/);
    handle = json({ error: { message: "Rate limit reached for requests", type: "requests", code: "rate_limit_exceeded" } }, 429);
    const limited = await rejection(call("openai", false));
    assert.equal(limited.nonRetryable, false);
  });
});
