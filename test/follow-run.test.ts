/**
 * How `run` and `watch` follow a run on the terminal, against a run handle that reports what a
 * test tells it to (the engines' own statuses are tested with the engines).
 * Run: node --import tsx --test test/follow-run.test.ts
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { answerUntil, followRun, type LineReader } from "../src/cli/follow-run.js";
import { InvalidRunMessage, type RunHandle } from "../src/client/engine.js";
import type { Answer, QuestionRequest, RunStatus } from "../src/common/run-status.js";

test("a status notice is printed again only when it says something new, not each time its 'last seen' age grows", async () => {
  const notice = (who: string, seconds: number) =>
    `${who} polled task queue 'q' (last seen ${seconds} s ago), but none answered within 3 s: busy, stopped since, or without this run's workflow`;
  const partials = [notice("a worker", 3), notice("a worker", 6), notice("a worker", 9), notice("2 workers", 12), notice("2 workers", 15)];
  let reads = 0;
  let finish!: (value: unknown) => void;
  const result = new Promise((resolve) => (finish = resolve));
  const handle = {
    runId: "r-1",
    result: () => result,
    status: async (): Promise<RunStatus> => {
      const partial = partials[Math.min(reads, partials.length - 1)]!;
      // The run ends once every notice has been read, and is read once more after.
      if (++reads === partials.length) finish("done");
      return { runId: "r-1", phase: "running", stepCount: 0, pending: [], usage: {}, partial };
    },
  } as unknown as RunHandle;
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    assert.equal(await followRun(handle, { interactive: false, verbose: true, pollMs: 1 }), "done");
  } finally {
    process.stderr.write = write;
  }
  const shown = written.join("").split("\n").filter((line) => line.includes("polled task queue"));
  assert.deepEqual(shown, [`  (${notice("a worker", 3)})`, `  (${notice("2 workers", 12)})`]);
});

/** A run with one pending question that takes the answers a test allows, and the lines a person types. */
async function askAtPrompt(question: QuestionRequest, lines: string[], accepts: (answer: Answer) => boolean) {
  const sent: Answer[] = [];
  let answered = false;
  let finish!: () => void;
  const until = new Promise<void>((resolve) => (finish = resolve));
  const handle = {
    runId: "r-1",
    status: async (): Promise<RunStatus> => ({ runId: "r-1", phase: "waiting_input", stepCount: 1, pending: answered ? [] : [question], usage: {} }),
    answer: async (answer: Answer) => {
      sent.push(answer);
      // As the run refuses an answer that does not fit: the person is asked again.
      if (!accepts(answer)) throw new InvalidRunMessage(`The answer to ${question.id} is invalid.`);
      answered = true;
      finish();
    },
  } as unknown as RunHandle;
  const prompts: string[] = [];
  const input: LineReader = {
    ask: async (prompt) => (prompts.push(prompt), lines.shift()),
    abandon: () => undefined,
    onEnd: () => undefined,
    close: () => undefined,
    interrupted: false,
  };
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const outcome = await answerUntil(handle, until, input, { answeredOnlyHere: true, pollMs: 1 });
    return { outcome, sent, prompts, stderr: written.join("") };
  } finally {
    process.stderr.write = write;
  }
}

test("at the answer prompt, an MCP server's question may be declined or cancelled, and the prompt says how; the run's own question takes /decline as text", async () => {
  const elicitation: QuestionRequest = {
    kind: "input",
    id: "input-1",
    prompt: "Your name?",
    schema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
    origin: { server: "everything", tool: "trigger-elicitation-request", kind: "elicitation" },
  };
  for (const [typed, action] of [["/decline", "decline"], [" /Cancel ", "cancel"]] as const) {
    const asked = await askAtPrompt(elicitation, [typed], () => true);
    assert.equal(asked.outcome, "settled");
    assert.deepEqual(asked.sent, [{ requestId: "input-1", value: undefined, action }]);
    assert.deepEqual(asked.prompts, ["answer, /decline or /cancel> "]);
  }
  // A bare answer still goes as the form's field.
  const named = await askAtPrompt(elicitation, ["Ada"], () => true);
  assert.deepEqual(named.sent, [{ requestId: "input-1", value: { name: "Ada" } }]);

  const own: QuestionRequest = { kind: "input", id: "input-1", prompt: "Which city?" };
  const city = await askAtPrompt(own, ["/decline", "Porto"], (answer) => answer.value === "Porto");
  assert.deepEqual(city.sent, [{ requestId: "input-1", value: "/decline" }, { requestId: "input-1", value: "Porto" }]);
  assert.deepEqual(city.prompts, ["answer> ", "answer> "]);
  assert.match(city.stderr, /not accepted: The answer to input-1 is invalid\./);
});
