/**
 * Big data: a tool result over the run's limit is cut on the worker, with a note to the model,
 * before it enters history, so no payload nears Temporal's limits (2 MB per payload). A transcript
 * over 2 MB, which no single query answer may carry, is still read whole, a page at a time.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { limitToolResult, utf8Bytes } from "../src/activities/result-limits.js";
import { textOf, type Message } from "../src/common/messages.js";
import { RunMessages } from "../src/common/run-status.js";
import { fitInOnePayload, jsonBytesBound, messagesPayloadBytes } from "../src/common/transcript-reference.js";
import { historyLimitDefaults } from "../src/common/run-settings.js";
import type { RunTarget } from "../src/client/run-targets.js";
import type { AgentRunResult } from "../src/workflows/builtin-workflows.js";
import { historyStats } from "../src/testing/history-stats.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { filesystemServer } from "./support/mcp-servers.js";
import { memoryEngine, testConfig, withTemporalWorker } from "./support/runtime.js";
import { startTestTemporal } from "./support/temporal.js";

const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-big-")));
const bigFile = join(dir, "big.log");
// The filesystem server sends the text twice (content and structuredContent): a 10.5 MB message,
// over the MCP SDK's default stdio limit, which the pool raises.
const fiveMegabytes = 5 * 1024 * 1024;
const line = `2026-11-24T01:00:00Z INFO ${"something happened, as it does, again and again; ".repeat(3)}\n`;
writeFileSync(bigFile, line.repeat(Math.ceil(fiveMegabytes / line.length)).slice(0, fiveMegabytes));

const reader: RunTarget = {
  kind: "agent",
  name: "reader",
  // Every result whole, whatever the size: what these tests measure is the transcript at its biggest.
  agent: { name: "reader", instruction: "Read files.", servers: ["fs"], clearToolResults: false },
};

/** Reads the big file, then says how much of it arrived. */
function readScript(call: ScriptedCall): ScriptedTurn {
  const result = call.messages.findLast((message) => message.role === "tool");
  if (!result) return { toolCalls: [{ name: "fs_read_text_file", arguments: { path: bigFile } }] };
  return { text: `got ${textOf(result.content).length} characters` };
}

// Many results under the cut, read at once: together they pass 2 MB.
const mediumFile = join(dir, "medium.log");
const parallelReads = 40;
writeFileSync(mediumFile, line.repeat(Math.ceil(60_000 / line.length)).slice(0, 60_000));

/** Reads the medium file many times in one turn, then says how many whole copies arrived. */
function readManyScript(call: ScriptedCall): ScriptedTurn {
  const results = call.messages.filter((message) => message.role === "tool");
  if (results.length === 0) return { toolCalls: Array.from({ length: parallelReads }, () => ({ name: "fs_read_text_file", arguments: { path: mediumFile } })) };
  return { text: `got ${results.filter((result) => textOf(result.content).length === 60_000).length} whole copies` };
}

/** The tool message as the model received it (OpenAI wire: text content). */
function toolMessageSeen(requests: { body: unknown }[]): string {
  const messages = (requests[1]!.body as { messages: { role: string; content: string }[] }).messages;
  return messages.find((message) => message.role === "tool")!.content;
}

function assertCutWithNote(seen: string) {
  const limit = historyLimitDefaults.maxToolResultBytes;
  assert.ok(utf8Bytes(seen) <= limit, `the model got ${utf8Bytes(seen)} bytes, over the ${limit}-byte limit`);
  assert.ok(seen.startsWith(line), "the beginning of the file is kept");
  assert.match(seen, new RegExp(`Cut by duragent: this tool result was ${fiveMegabytes} bytes, over the ${limit}-byte limit`));
  assert.match(seen, /Ask for a smaller piece/);
}

describe("tool results are cut before they enter history", () => {
  test("limitToolResult keeps small results, drops a big structured copy first, cuts on a character boundary, drops oversized images", () => {
    const small = { content: [{ type: "text" as const, text: "hi" }], isError: false, structuredContent: { content: "hi" } };
    assert.equal(limitToolResult(small, 1000), small);

    const text = "x".repeat(900);
    const withCopy = limitToolResult({ content: [{ type: "text", text }], isError: false, structuredContent: { content: text } }, 1000);
    assert.deepEqual(withCopy, { content: [{ type: "text", text }], isError: false }, "only the structured copy goes");

    const euros = "€".repeat(1000); // 3 bytes each
    const cut = limitToolResult({ content: [{ type: "text", text: euros }, { type: "image", data: "A".repeat(5000), mimeType: "image/png" }], isError: true }, 1000);
    assert.equal(cut.isError, true);
    const [kept, note] = [cut.content[0]!, cut.content.at(-1)!];
    assert.equal(cut.content.length, 2, "the image is left out whole");
    assert.ok(kept.type === "text" && /^€+$/.test(kept.text), "no character is split");
    assert.ok(note.type === "text" && /left out whole: an image \(image\/png, 4 KB\)/.test(note.text), JSON.stringify(note));
    assert.ok(cut.content.reduce((sum, part) => sum + (part.type === "text" ? utf8Bytes(part.text) : 0), 0) <= 1000);
  });

  test("a 5 MB file read in memory reaches the model cut, with a note", async () => {
    const model = await startScriptedModelServer(readScript, { quiet: true });
    const engine = memoryEngine(testConfig(model, { mcp: { servers: { fs: filesystemServer(dir) } } }));
    try {
      const handle = await engine.start(reader, "read the log");
      const result = (await handle.result()) as { text: string };
      assert.match(result.text, /^got \d+ characters$/);
      assertCutWithNote(toolMessageSeen(model.requests));
    } finally {
      await engine.close();
      await model.close();
    }
  });
});

describe("images a tool returns", () => {
  // The filesystem server sends an image as an image part and again, base64 and all, as its structured output.
  const images = join(dir, "images");
  mkdirSync(images);
  writeFileSync(join(images, "small.png"), Buffer.alloc(3_000, 7));
  writeFileSync(join(images, "big.png"), Buffer.alloc(200_000, 9));
  writeFileSync(join(images, "drawing.svg"), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  const viewer = (model: string): RunTarget => ({ kind: "agent", name: "viewer", agent: { name: "viewer", instruction: "Look at images.", servers: ["fs"], model } });
  /** Reads each image in one turn, then answers. */
  function viewScript(call: ScriptedCall): ScriptedTurn {
    if (call.messages.some((message) => message.role === "tool")) return { text: "seen" };
    return { toolCalls: ["small.png", "big.png", "drawing.svg"].map((name) => ({ name: "fs_read_media_file", arguments: { path: join(images, name) } })) };
  }

  test("reach the model once, as images; one over the limit and one of a type models refuse are named in a note", async () => {
    const model = await startScriptedModelServer(viewScript, { quiet: true });
    const engine = memoryEngine(testConfig(model, { mcp: { servers: { fs: filesystemServer(dir) } } }));
    try {
      for (const wire of ["openai", "anthropic"] as const) {
        const handle = await engine.start(viewer(`${wire}:vision-test`), "look");
        assert.equal(((await handle.result()) as AgentRunResult).text, "seen");
        const sent = JSON.stringify(model.requests.at(-1)!.body);
        const small = Buffer.alloc(3_000, 7).toString("base64");
        assert.equal(sent.split(small).length - 1, 1, `${wire}: the small image is sent once, not again as text`);
        assert.ok(sent.includes(wire === "openai" ? `data:image/png;base64,${small}` : '"media_type":"image/png"'), `${wire}: as an image`);
        assert.match(sent, /left out whole: an image \(image\/png, 195 KB\)\. An image is shown whole or not at all/);
        assert.doesNotMatch(sent, /Ask for a smaller piece/, "no advice for text that was not cut");
        assert.match(sent, /An image of type image\/svg\+xml was left out: the model takes PNG, JPEG, GIF or WebP images only/);
        assert.doesNotMatch(sent, /svg\+xml;base64|"media_type":"image\/svg/);
      }
    } finally {
      await engine.close();
      await model.close();
    }
  });
});

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startTestTemporal();
});
after(async () => {
  await env?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

describe("big data on Temporal", () => {
  test("a 5 MB file read through the filesystem server: the run completes and no payload nears the limit", async () => {
    const model = await startScriptedModelServer(readScript, { quiet: true });
    try {
      await withTemporalWorker(env, testConfig(model, { mcp: { servers: { fs: filesystemServer(dir) } } }), async (engine) => {
        const handle = await engine.start(reader, "read the log");
        const result = (await handle.result()) as { text: string };
        assert.match(result.text, /^got \d+ characters$/);
        assertCutWithNote(toolMessageSeen(model.requests));

        const stats = await historyStats(engine.client, handle.runId);
        // The cut result is stored once (the tool's activity result and the run's result); the
        // model call after it refers to the transcript instead of repeating it.
        assert.ok(stats.largestPayloadBytes < 128 * 1024, `the largest payload is ${stats.largestPayloadBytes} bytes (${stats.largestPayloadIn})`);
        assert.ok(stats.bytes < 512 * 1024, `the whole history is ${stats.bytes} bytes`);
        // The first model call carries the tool specs (under the reference threshold); none carries the file.
        const largestInput = stats.largestPayloadByEvent.activityTaskScheduledEventAttributes ?? 0;
        assert.ok(largestInput < 16 * 1024, `an activity input of ${largestInput} bytes`);
      });
    } finally {
      await model.close();
    }
  });

  test("a transcript over the 2 MB a query answer may carry: model calls resolve it and the client reads it whole", async () => {
    const model = await startScriptedModelServer(readManyScript, { quiet: true });
    // Forty activities in flight at once are normal work, not a leak to warn of.
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on("warning", onWarning);
    try {
      await withTemporalWorker(env, testConfig(model, { mcp: { servers: { fs: filesystemServer(dir) } } }), async (engine) => {
        const handle = await engine.start(reader, "read the medium log, many times");
        // The second model call refers to all the results, which its worker fetches from the run.
        const result = (await handle.result()) as AgentRunResult;
        assert.equal(result.text, `got ${parallelReads} whole copies`);
        // A result that carried them all would be one Temporal refuses, and the run would never end.
        assert.deepEqual([result.messages, result.messagesLeftOut], [[], 1 + 1 + parallelReads + 1]);
        const transcript = await handle.transcript();
        assert.equal(transcript.length, 1 + 1 + parallelReads + 1);
        const bytes = utf8Bytes(JSON.stringify(transcript));
        assert.ok(bytes > 2 * 1024 * 1024, `the transcript is ${bytes} bytes, under the limit the test is about`);
        assert.equal(transcript.filter((message) => message.role === "tool" && textOf(message.content).length === 60_000).length, parallelReads);
        // What the Web UI's query shows: the latest messages that fit, after a note of the rest.
        const shown = await engine.client.workflow.getHandle(handle.runId).query<Message[]>(RunMessages.transcript);
        const [note, ...latest] = shown;
        // The same messages, without the agent the client adds to each.
        const tail = transcript.slice(transcript.length - latest.length);
        assert.ok(tail.every((message) => message.agent === "reader"));
        assert.deepEqual(latest, tail.map(({ agent, ...message }) => message));
        assert.ok(latest.length > 1 && latest.length < parallelReads, `${latest.length} of the messages shown`);
        // Under the 512 KB past which the worker warns of a large payload, not only Temporal's 2 MB.
        assert.ok(utf8Bytes(JSON.stringify(shown)) < 512 * 1024, `the answer is ${utf8Bytes(JSON.stringify(shown))} bytes`);
        assert.equal(note?.role, "system");
        assert.match(textOf(note.content), new RegExp(`^duragent: the first ${transcript.length - latest.length} of ${transcript.length} messages are left out .*\`duragent history ${handle.runId}\``));
      });
      assert.deepEqual(warnings.filter((warning) => warning.startsWith("MaxListenersExceededWarning")), []);
    } finally {
      process.off("warning", onWarning);
      await model.close();
    }
  });
});

describe("whether a transcript fits in one payload", () => {
  // Seeded, so a failure repeats: strings of plain, escaped and multi-byte characters.
  let seed = 7;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const pieces = ["a", "word ", '"', "\\", "\n", "\u0001", "é", "€", "😀", "\ud800"];
  const text = (length: number) => Array.from({ length }, () => pieces[Math.floor(random() * pieces.length)]).join("");
  const message = (length: number): Message =>
    random() < 0.5
      ? { role: "assistant", content: text(length), toolCalls: [{ id: `call_${length}`, name: "fs_read", arguments: JSON.stringify({ path: text(8), depth: Math.floor(random() * 1e6) / 7 }) }] }
      : { role: "tool", toolCallId: "call_1", toolName: "fs_read", content: [{ type: "text", text: text(length) }], isError: random() < 0.5 };

  test("the bound is never under the JSON's UTF-8 bytes", () => {
    for (let index = 0; index < 300; index++) {
      const messages = Array.from({ length: 1 + Math.floor(random() * 6) }, () => message(Math.floor(random() * 200)));
      const bytes = utf8Bytes(JSON.stringify(messages));
      assert.ok(jsonBytesBound(messages, Infinity) >= bytes, `${jsonBytesBound(messages, Infinity)} < ${bytes} for ${JSON.stringify(messages)}`);
    }
    // Each kind of character alone, where the bound is tightest: as string and as key.
    for (const piece of pieces) {
      for (const value of [piece.repeat(50), { [piece.repeat(50)]: -1.7976931348623157e308 }]) {
        const bytes = utf8Bytes(JSON.stringify(value));
        assert.ok(jsonBytesBound(value, Infinity) >= bytes, `${jsonBytesBound(value, Infinity)} < ${bytes} for ${JSON.stringify(value)}`);
      }
    }
    // The longest numbers JSON writes, many of them, where the separators leave no slack.
    for (const numbers of [Array.from({ length: 1000 }, () => -0.0000012345678901234567), Array.from({ length: 1000 }, () => -1.7976931348623157e308)]) {
      assert.ok(jsonBytesBound(numbers, Infinity) >= utf8Bytes(JSON.stringify(numbers)));
    }
    // What it cannot walk, it does not bound.
    for (const value of [[{ at: new Date(0) }], [new Number(1e300)], [new Boolean(false)], { big: 1n }]) assert.equal(jsonBytesBound(value, Infinity), Infinity);
    // Under a budget it stops, never with a number below the size.
    for (let index = 0; index < 100; index++) {
      const messages = Array.from({ length: 1 + Math.floor(random() * 6) }, () => message(Math.floor(random() * 200)));
      const bytes = utf8Bytes(JSON.stringify(messages));
      for (const budget of [bytes - 1, Math.floor(bytes / 2), bytes, bytes * 7]) {
        const bound = jsonBytesBound(messages, budget);
        assert.ok(bound === Infinity || (bound >= bytes && bound <= budget), `${bound} for ${bytes} bytes under a budget of ${budget}`);
      }
    }
  });

  test("it says what the exact count says, on both sides of the limit", () => {
    // The bound passes the budget here, so the answer comes from the JSON itself.
    const near = (bytes: number): Message[] => [{ role: "user", content: "é".repeat(Math.floor((bytes - 30) / 2)) }];
    for (const bytes of [messagesPayloadBytes - 40, messagesPayloadBytes + 40]) {
      const messages = near(bytes);
      assert.equal(jsonBytesBound(messages, messagesPayloadBytes), Infinity);
      assert.equal(fitInOnePayload(messages), utf8Bytes(JSON.stringify(messages)) <= messagesPayloadBytes, `${bytes} bytes`);
    }
    assert.equal(fitInOnePayload([message(100), message(100)]), true);
  });
});
