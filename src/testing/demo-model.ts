/**
 * The scripted model duragent ships: what answers a project that has no API key
 * (`llm.withoutApiKey: scripted`), and a script for the scripted model server in examples and
 * tests. It behaves as a file-reading agent would, and never invents an answer: asked about a
 * file, it reads it with the agent's `*read_text_file` (or `*read_file`) tool and answers with the
 * file's first sentences; asked anything else with a `*list_directory` tool at hand, it lists the
 * folder and answers with the listing. Without such tools it says what it is.
 */
import { textOf } from "../common/messages.js";
import type { ScriptedCall, ScriptedTurn } from "./scripted-model-server.js";

export function demoModel(call: ScriptedCall): ScriptedTurn {
  const toolResult = call.messages.at(-1)?.role === "tool" ? call.messages.at(-1) : undefined;
  if (toolResult?.role === "tool") {
    const text = textOf(toolResult.content);
    if (toolResult.isError) return { text: `I could not use ${toolResult.toolName}: ${text}` };
    // A file is prose to summarise; anything else (a listing, a search) is shown as it came.
    return { text: /(^|_)read_(text_)?file$/.test(toolResult.toolName) ? firstSentences(text, 2) : text.trim().slice(0, 4000) };
  }
  const question = textOf(call.messages.findLast((message) => message.role === "user")?.content ?? "");
  const file = /[\w./-]+\.[A-Za-z0-9]+/.exec(question)?.[0];
  const reader = call.tools.find((name) => /(^|_)read_text_file$/.test(name)) ?? call.tools.find((name) => /(^|_)read_file$/.test(name));
  if (file && reader) return { toolCalls: [{ name: reader, arguments: { path: file } }] };
  const lister = call.tools.find((name) => /(^|_)list_directory$/.test(name));
  if (lister) return { toolCalls: [{ name: lister, arguments: { path: "." } }] };
  return {
    text: `I am duragent's scripted model, standing in for a real one (no API key is set), and I have no tool to answer with. You asked: ${question}`,
  };
}

/** The first sentences of a text's prose, leaving out markdown headings, code and lists. */
function firstSentences(text: string, count: number): string {
  const prose = text
    .split("\n")
    .filter((line) => line.trim() !== "" && !/^\s*(#|```|[-*|>]|\d+\.|    )/.test(line))
    .join(" ")
    .replace(/`/g, "")
    .replace(/\s+/g, " ")
    .trim();
  if (prose === "") return text.trim().split("\n").slice(0, 10).join("\n");
  const sentences = prose.match(/[^.!?]+[.!?]/g) ?? [prose];
  return sentences
    .slice(0, count)
    .map((sentence) => sentence.trim())
    .join(" ");
}
