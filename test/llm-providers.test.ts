/**
 * The provider layer against the scripted model server, with the real OpenAI and Anthropic SDKs
 * on the wire: exact outbound bodies, response mapping, error classification, the registry.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { ApplicationFailure } from "@temporalio/common";
import { AnthropicProvider } from "../src/activities/llm/anthropic-provider.js";
import { createCallLlm } from "../src/activities/llm/call-llm.js";
import { OpenAIProvider } from "../src/activities/llm/openai-provider.js";
import { createProviderRegistry } from "../src/activities/llm/provider-registry.js";
import { FailureType } from "../src/common/failures.js";
import type { LlmRequest } from "../src/common/llm.js";
import type { Message } from "../src/common/messages.js";
import { startScriptedModelServer } from "../src/testing/scripted-model-server.js";
import type { ScriptedCall, ScriptedModelServer, ScriptedTurn } from "../src/testing/scripted-model-server.js";

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
    });

    queue.turns.push({ text: "Done.", usage: { inputTokens: 50, outputTokens: 2 } });
    const final = await provider.generate(request("openai:gpt-test"), "gpt-test");
    assert.deepEqual(final, {
      message: { role: "assistant", content: "Done." },
      stopReason: "end",
      usage: { inputTokens: 50, outputTokens: 2 },
      model: "gpt-test",
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

  test("a response format becomes a forced tool whose input comes back as text", async () => {
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
    assert.deepEqual(body.tool_choice, { type: "tool", name: "answer" });
    assert.deepEqual(response, {
      message: { role: "assistant", content: '{"city":"Paris"}' },
      stopReason: "end",
      usage: { inputTokens: 9, outputTokens: 4 },
      model: "claude-test",
    });
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

    test(`${provider}: 429 with retry-after is retryable after that delay, in exactly one request`, async () => {
      const callLlm = createCallLlm(createProviderRegistry({ providers: {} }, env()));
      const before = server.requests.length;
      queue.turns.push({ error: { status: 429, message: "slow down", headers: { "retry-after": "3" } } });
      const failure = await rejection(callLlm(request(model)));
      assert.equal(server.requests.length - before, 1, "the SDK must not retry on its own");
      assert.equal(failure.type, FailureType.llmUnavailable);
      assert.equal(failure.nonRetryable, false);
      assert.equal(failure.nextRetryDelay, 3000);
      assert.match(failure.message, /slow down/);
    });

    test(`${provider}: retry-after-ms wins over retry-after`, async () => {
      const callLlm = createCallLlm(createProviderRegistry({ providers: {} }, env()));
      queue.turns.push({ error: { status: 429, message: "slow down", headers: { "retry-after-ms": "1500", "retry-after": "3" } } });
      const failure = await rejection(callLlm(request(model)));
      assert.equal(failure.nextRetryDelay, 1500);
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
