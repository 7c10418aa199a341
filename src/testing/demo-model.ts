/**
 * The scripted model duragent ships: what answers a project that has no API key
 * (`llm.withoutApiKey: scripted`), and a script for the scripted model server in examples and
 * tests. It behaves as a file-reading agent would, and never invents an answer: asked about a
 * file, it reads it with the agent's `*read_text_file` (or `*read_file`) tool and answers with the
 * file's first sentences; asked anything else with a `*list_directory` tool at hand, it lists the
 * folder and answers with the listing. Asked to combine results (an orchestrator's synthesis, a
 * parallel fan-in), it gives them as shown. Otherwise it says what it is.
 */
import { textOf } from "../common/messages.js";
import type { ScriptedCall, ScriptedTurn } from "./scripted-model-server.js";

export function demoModel(call: ScriptedCall): ScriptedTurn {
  // Asked for structured output (a router's choice, a plan, a rating), it gives the schema's first
  // choices: enough for a pattern to run its course offline, never an invented judgement.
  if (call.responseSchema) {
    // The names a prompt offers as `- name: description` lines (a router's candidates, an orchestrator's workers).
    const prompt = [call.system ?? "", ...call.messages.filter((message) => message.role === "user").map((message) => textOf(message.content))].join("\n");
    const offered = [...prompt.matchAll(/^- ([\w.-]+):/gm)].map((match) => match[1]!);
    // Text fields repeat the request; a yes or no is yes once earlier results are shown (a plan is then complete).
    const request = /^(?:Objective|Request):[ \t]*\n?(.+)$/m.exec(prompt)?.[1]?.trim() ?? "scripted";
    const decided = /^\s*Result: /m.test(prompt);
    return { text: JSON.stringify(firstChoices(call.responseSchema, { root: call.responseSchema, offered, request, decided })) };
  }
  const toolResult = call.messages.at(-1)?.role === "tool" ? call.messages.at(-1) : undefined;
  if (toolResult?.role === "tool") {
    const text = textOf(toolResult.content);
    if (toolResult.isError) return { text: `I could not use ${toolResult.toolName}: ${text}` };
    // A file is prose to summarise; anything else (a listing, a search) is shown as it came.
    return { text: /(^|_)read_(text_)?file$/.test(toolResult.toolName) ? firstSentences(text, 2) : text.trim().slice(0, 4000) };
  }
  const question = textOf(call.messages.findLast((message) => message.role === "user")?.content ?? "");
  const combined = resultsToCombine(question);
  if (combined.length > 0) return { text: combined.join("\n") };
  const file = /[\w./-]+\.[A-Za-z0-9]+/.exec(question)?.[0];
  const reader = call.tools.find((name) => /(^|_)read_text_file$/.test(name)) ?? call.tools.find((name) => /(^|_)read_file$/.test(name));
  if (file && reader) return { toolCalls: [{ name: reader, arguments: { path: file } }] };
  const lister = call.tools.find((name) => /(^|_)list_directory$/.test(name));
  if (lister) return { toolCalls: [{ name: lister, arguments: { path: "." } }] };
  return {
    text: `I am duragent's scripted model, standing in for a real one (no API key is set), and I have no tool to answer with. You asked: ${question}`,
  };
}

/**
 * The results a prompt asks to be combined into one answer, as `name: text`: an orchestrator's
 * `[worker] task` / `Result:` lines, a parallel fan-in's `<result name>` blocks. Failed ones are
 * left out. None when the prompt asks for anything else, such as a worker's task.
 */
function resultsToCombine(prompt: string): string[] {
  if (/Synthesize the final answer/.test(prompt)) {
    return [...prompt.matchAll(/^\s*- \[([^\]]+)\].*\n\s*Result: ([\s\S]*?)(?=\n\s*- \[|\nStep \d+:|\n\n|(?![\s\S]))/gm)].map(([, worker, result]) => `${worker}: ${result!.trim()}`);
  }
  if (/Combine them into one answer/.test(prompt)) {
    return [...prompt.matchAll(/<result name="([^"]+)">\n([\s\S]*?)\n<\/result>/g)].map(([, name, result]) => `${name}: ${result!.trim()}`);
  }
  return [];
}

type Schema = Record<string, unknown>;

/**
 * The simplest value a JSON Schema accepts: each enum's first value, each object's properties, the
 * least items; a `name` or `worker` the first name the prompt offered, as a model would pick one;
 * text the request itself.
 */
function firstChoices(schema: Schema, context: { root: Schema; offered: string[]; request: string; decided: boolean }, depth = 0, key = ""): unknown {
  if (depth > 20) return null;
  const { root } = context;
  const next = (inner: unknown, innerKey = key) => (typeof inner === "object" && inner !== null ? firstChoices(inner as Schema, context, depth + 1, innerKey) : null);
  if (typeof schema.$ref === "string") {
    const target = schema.$ref.replace(/^#\//, "").split("/").reduce<unknown>((node, key) => (node as Schema | undefined)?.[key], root);
    return next(target);
  }
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const key of ["anyOf", "oneOf", "allOf"] as const) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) return next(options.find((option) => (option as Schema).type !== "null") ?? options[0]);
  }
  const type = Array.isArray(schema.type) ? schema.type.find((candidate) => candidate !== "null") : schema.type;
  switch (type) {
    case "object": {
      const properties = (schema.properties ?? {}) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(properties).map(([property, inner]) => [property, next(inner, property)]));
    }
    case "array":
      return Array.from({ length: typeof schema.minItems === "number" ? Math.max(schema.minItems, 1) : 1 }, () => next(schema.items, ""));
    case "string": {
      if ((key === "name" || key === "worker") && context.offered.length > 0) return context.offered[0];
      const text = context.request;
      return typeof schema.minLength === "number" && schema.minLength > text.length ? text.padEnd(schema.minLength, ".") : text;
    }
    case "integer":
    case "number":
      return typeof schema.minimum === "number" ? schema.minimum : typeof schema.exclusiveMinimum === "number" ? schema.exclusiveMinimum + 1 : 0;
    case "boolean":
      return context.decided;
    default:
      return null;
  }
}

/** The first sentences of a text's prose, leaving out markdown headings, code and lists. */
function firstSentences(text: string, count: number): string {
  const prose = text
    .split("\n")
    .filter((line) => line.trim() !== "" && !/^\s*(#|```|[-*|>]|\d+\.|    )/.test(line))
    .join(" ")
    .replace(/`/g, "")
    // A markdown link reads as its text.
    .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
    .replace(/\s+/g, " ")
    .trim();
  if (prose === "") return text.trim().split("\n").slice(0, 10).join("\n");
  // A sentence ends at a stop followed by a space or the end, not inside `1.0.0` or `www.npmjs.com`.
  const sentences = prose.match(/.+?[.!?](?=\s|$)/g) ?? [prose];
  return sentences
    .slice(0, count)
    .map((sentence) => sentence.trim())
    .join(" ");
}
