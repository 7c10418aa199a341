/**
 * A stand-in for a real model, so the demo runs with no API key and no network: it reads the file
 * the question names through the filesystem tool, then answers with that file's first sentences.
 * Every word of the answer comes from the tool result, so the tool path is really exercised.
 */
import { textOf } from "../../src/common/messages.js";
import type { ScriptedCall, ScriptedTurn } from "../../src/testing/scripted-model-server.js";

export function finderOfflineModel(call: ScriptedCall): ScriptedTurn {
  const toolResult = call.messages.findLast((message) => message.role === "tool");
  if (!toolResult) {
    const question = textOf(call.messages.findLast((message) => message.role === "user")?.content ?? "");
    const path = /[\w./-]+\.\w+/.exec(question)?.[0] ?? "README.md";
    return { toolCalls: [{ name: "filesystem_read_text_file", arguments: { path } }] };
  }
  if (toolResult.isError) return { text: `I could not read the file: ${textOf(toolResult.content)}` };
  return { text: firstSentences(textOf(toolResult.content), 2) };
}

function firstSentences(markdown: string, count: number): string {
  const prose = markdown
    .split("\n")
    .filter((line) => line.trim() !== "" && !/^\s*(#|```|[-*|>]|\d+\.|    )/.test(line))
    .join(" ")
    .replace(/`/g, "")
    .replace(/\s+/g, " ");
  const sentences = prose.match(/[^.!?]+[.!?]/g) ?? [prose];
  return sentences.slice(0, count).map((sentence) => sentence.trim()).join(" ");
}
