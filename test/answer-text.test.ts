/** How a typed answer is read for its question: the CLI's `--value` and prompt, and serve's string answers. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { z } from "zod";
import { answerFromText, answerToQuestion, howToAnswer, questionFor } from "../src/client/answer-text.js";
import { InvalidRunMessage } from "../src/common/invalid-run-message.js";

const schemaOf = (schema: z.ZodType) => z.toJSONSchema(schema) as Record<string, unknown>;

describe("a typed answer, read as its question asks", () => {
  test("a question that takes text gets the text as typed, whatever it looks like", () => {
    for (const schema of [undefined, schemaOf(z.string()), schemaOf(z.enum(["12", "true"]))]) {
      for (const text of ["Lisbon", "12", "true", '{"city": "Lisbon"}', "null"]) assert.equal(answerFromText(text, schema), text);
    }
    assert.equal(answerFromText('"Lisbon"', undefined), "Lisbon", "a quoted JSON string is its contents");
  });

  test("a question that takes numbers, booleans or objects gets JSON", () => {
    assert.equal(answerFromText("12", schemaOf(z.number().int())), 12);
    assert.equal(answerFromText("true", schemaOf(z.boolean())), true);
    assert.deepEqual(answerFromText('{"amount": 12}', schemaOf(z.object({ amount: z.number() }))), { amount: 12 });
    assert.equal(answerFromText("twelve", schemaOf(z.number())), "twelve", "not JSON: as typed, for the run to refuse");
  });

  test("a yes-or-no question takes yes and no as README says, and text questions keep them as text", () => {
    for (const [text, value] of [["yes", true], ["Y", true], [" no ", false], ["n", false], ["false", false]] as const) {
      assert.equal(answerFromText(text, schemaOf(z.boolean())), value, text);
    }
    assert.equal(answerFromText("yes", schemaOf(z.string())), "yes");
    assert.equal(answerFromText("yes", schemaOf(z.union([z.boolean(), z.string()]))), "yes", "a question that also takes text gets the text");
    assert.equal(answerFromText("maybe", schemaOf(z.boolean())), "maybe", "anything else as typed, for the run to refuse");
  });

  test("a union takes JSON of a type it accepts, else the text", () => {
    const zip = schemaOf(z.string().nullable());
    assert.equal(answerFromText("01234", zip), "01234");
    assert.equal(answerFromText("12345", zip), "12345", "a ZIP code stays text");
    assert.equal(answerFromText("null", zip), null);
    const either = schemaOf(z.union([z.number(), z.string()]));
    assert.equal(answerFromText("12", either), 12);
    assert.equal(answerFromText("twelve", either), "twelve");
    assert.equal(answerFromText("1", {}), 1, "a schema that names no type takes any JSON");
  });

  test("text that is not JSON, for a question that takes no text, is refused before it is sent, saying so and how to answer", () => {
    const ask = (schema: z.ZodType) => ({ kind: "input" as const, id: "input-4", prompt: "Budget?", schema: schemaOf(schema) });
    const budget = ask(z.object({ amount: z.number().positive(), currency: z.string().optional() }));
    assert.throws(
      () => answerToQuestion("{bad json", budget),
      (error: unknown) =>
        error instanceof InvalidRunMessage &&
        error.message === 'The answer to input-4 is not valid JSON: "{bad json"; answer as JSON: {"amount": a number above 0, "currency"?: text}.',
    );
    assert.throws(() => answerToQuestion("", ask(z.number().int())), /^InvalidRunMessage: The answer to input-4 is empty; answer with a whole number\.$/);
    assert.deepEqual(answerToQuestion('{"amount": 12}', budget), { amount: 12 });
    assert.equal(answerToQuestion("yes", ask(z.boolean())), true);
    assert.equal(answerToQuestion("{bad json", ask(z.string())), "{bad json", "a question that takes text takes it");
  });

  test("how to answer a question, said in words rather than its JSON Schema", () => {
    assert.equal(howToAnswer(schemaOf(z.number().int().positive())), "answer with a whole number above 0");
    assert.equal(howToAnswer(schemaOf(z.number().min(1).max(10))), "answer with a number of at least 1 and at most 10");
    assert.equal(howToAnswer(schemaOf(z.boolean())), "answer yes or no");
    assert.equal(howToAnswer(schemaOf(z.string())), "answer as text");
    assert.equal(howToAnswer(schemaOf(z.enum(["aisle", "window"]))), 'answer with one of "aisle", "window"');
    assert.equal(howToAnswer(schemaOf(z.array(z.string()))), "answer as JSON: a list of text");
    assert.equal(howToAnswer(schemaOf(z.object({ trip: z.object({ legs: z.array(z.object({ to: z.string() })) }) }))), 'answer as JSON: {"trip": {"legs": a list}}');
  });

  test("the question meant: the one named, or the only one pending", () => {
    const ask = (id: string) => ({ kind: "input" as const, id, prompt: id });
    const approval = { kind: "approval" as const, id: "approval-1", prompt: "p", server: "s", tool: "t", arguments: {} };
    assert.equal(questionFor({ pending: [approval, ask("input-1")] }, undefined)?.id, "input-1");
    assert.equal(questionFor({ pending: [ask("input-1"), ask("input-2")] }, undefined), undefined);
    assert.equal(questionFor({ pending: [ask("input-1"), ask("input-2")] }, "input-2")?.id, "input-2");
    assert.equal(questionFor(undefined, "input-1"), undefined);
  });
});

test("without its question (the status unread: no worker, or mid-deploy), a typed answer the run refuses as text is sent once more, as the question reads once a worker answers, else as its JSON", async () => {
  const { askForBudget, askToProceed } = await import("./fixtures/human-workflows.js");
  const { startScriptedModelServer } = await import("../src/testing/scripted-model-server.js");
  const { memoryEngine, testConfig } = await import("./support/runtime.js");
  const { waitFor } = await import("./support/wait.js");
  const { questionFor, sendTypedAnswer } = await import("../src/client/answer-text.js");
  const model = await startScriptedModelServer([], { quiet: true });
  const engine = memoryEngine(testConfig(model, { modules: [new URL("./fixtures/human-workflows.ts", import.meta.url).pathname] }));
  try {
    const handle = await engine.start({ kind: "workflow", name: "askForBudget", workflow: askForBudget as never }, {});
    await waitFor("the question", async () => ((await handle.status()).pending.length > 0 ? true : undefined));
    const sent: unknown[] = [];
    const send = async (value: unknown) => {
      sent.push(value);
      await handle.answer({ value });
    };
    const unread = async () => undefined;
    // Text that reads as no other JSON is refused once, as the run refuses it.
    await assert.rejects(sendTypedAnswer("maybe", unread, send), InvalidRunMessage);
    assert.deepEqual(sent, ["maybe"]);
    await sendTypedAnswer('{"amount": 12}', unread, send);
    assert.deepEqual(sent, ["maybe", '{"amount": 12}', { amount: 12 }]);
    assert.deepEqual(await handle.result(), { status: "answered", value: { amount: 12, currency: "EUR" } });

    // The twentieth user test's: the answer sent while no worker ran, refused once one came back.
    // That worker answers the status now: the text goes as the question reads it (`yes`, no JSON, as true).
    const again = await engine.start({ kind: "workflow", name: "askToProceed", workflow: askToProceed as never }, {});
    await waitFor("the question", async () => ((await again.status()).pending.length > 0 ? true : undefined));
    const resent: unknown[] = [];
    let reads = 0;
    const readLate = async () => (reads++ === 0 ? undefined : questionFor(await again.status(), undefined));
    await sendTypedAnswer("yes", readLate, async (value) => {
      resent.push(value);
      await again.answer({ value });
    });
    assert.deepEqual(resent, ["yes", true]);
    assert.deepEqual(await again.result(), { status: "answered", value: true });
  } finally {
    await engine.close();
    await model.close();
  }
});
