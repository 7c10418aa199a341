/** What `run`, `result` and `watch` say on stderr beside an answer whose text leaves something out. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { resultNote } from "../src/cli/command-output.js";

test("a result's note: a pattern that fell short, in the right number; fields besides the text; nothing for an agent's answer", () => {
  const evaluation = { stopReason: "max-refinements", attempts: 1, bestRating: "poor", minRating: "good" };
  assert.equal(resultNote({ text: "t", evaluation }), "no answer reached the rating 'good' in 1 attempt; this is the best, rated 'poor'.");
  assert.equal(resultNote({ text: "t", evaluation: { ...evaluation, stopReason: "rating-reached" } }), undefined);
  assert.match(resultNote({ text: "t", orchestration: { iterations: 1, complete: false } }) ?? "", /cap of 1 iteration before/);
  assert.equal(resultNote({ text: "t", choices: [1], stop: "x" }), "the result also has choices, stop: add --json to see them.");
  assert.equal(resultNote({ text: "t", messages: [], usage: {} }), undefined);
  assert.equal(resultNote("plain text"), undefined);
});
