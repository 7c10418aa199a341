/**
 * Keeps a long tool loop's context in bounds: once a model call's messages pass a size, the
 * results of all but the latest tool calls are replaced by a note saying what was there. A model
 * that needs an old result calls its tool again. Sandbox-safe: the worker applies it to each
 * model call, and an agent run that continues as new applies it to what it hands over.
 */
import { z } from "zod";
import type { ContentPart, Message, ToolMessage } from "./messages.js";

export const ToolResultClearingSchema = z.union([
  z.literal(false),
  z.strictObject({
    /** Clear once the messages pass about this many tokens (four characters a token); 100,000 when absent. */
    aboveTokens: z.number().int().nonnegative().optional(),
    /** The latest tool results the model always sees whole; 5 when absent. */
    keep: z.number().int().nonnegative().optional(),
  }),
]);
export type ToolResultClearing = z.infer<typeof ToolResultClearingSchema>;

/** Past most models' context windows of 128K tokens, with room for the instruction, tools and answer. */
export const toolResultClearingDefaults = { aboveTokens: 100_000, keep: 5 } as const;

const charactersPerToken = 4;
// An image costs a model about this many tokens whatever its bytes; base64 length would overstate it.
const imageTokens = 1_500;

/** About how many tokens the messages take, by characters: cheap enough for every call. */
export function estimatedTokens(messages: readonly Message[]): number {
  let characters = 0;
  let images = 0;
  for (const message of messages) {
    if (typeof message.content === "string") characters += message.content.length;
    else {
      for (const part of message.content) {
        if (part.type === "text") characters += part.text.length;
        else images += 1;
      }
    }
    if (message.role === "assistant") for (const call of message.toolCalls ?? []) characters += call.arguments.length + call.name.length;
  }
  return Math.ceil(characters / charactersPerToken) + images * imageTokens;
}

/**
 * The messages with every tool result but the latest `keep` replaced by a note, when they are over
 * the size; otherwise as they are. Still over, the kept results go too, oldest first, but for the
 * latest turn's: the model must see what it just asked for.
 */
export function clearOldToolResults(messages: Message[], clearing: ToolResultClearing | undefined): Message[] {
  if (clearing === false) return messages;
  const aboveTokens = clearing?.aboveTokens ?? toolResultClearingDefaults.aboveTokens;
  const keep = clearing?.keep ?? toolResultClearingDefaults.keep;
  let tokens = estimatedTokens(messages);
  if (tokens <= aboveTokens) return messages;
  const out = [...messages];
  const results: number[] = [];
  for (let index = 0; index < out.length; index++) {
    const message = out[index]!;
    if (message.role === "tool" && !isNote(message)) results.push(index);
  }
  // The latest turn's results: those after the last model turn.
  let latestTurn = out.length;
  while (latestTurn > 0 && out[latestTurn - 1]!.role === "tool") latestTurn--;
  let cleared = 0;
  for (const [position, index] of results.entries()) {
    const kept = results.length - position <= keep;
    if ((kept && tokens <= aboveTokens) || index >= latestTurn) continue;
    const message = out[index] as ToolMessage;
    const note = clearedResult(message);
    const saved = estimatedTokens([message]) - estimatedTokens([note]);
    // A result shorter than its note stays: clearing it would only lengthen the call.
    if (saved <= 0) continue;
    tokens -= saved;
    out[index] = note;
    cleared += 1;
  }
  return cleared === 0 ? messages : out;
}

/**
 * A model call's messages fitted to the size (`clearToolResults`): old results as notes, then old
 * turns left out. Under the size, as they are, for one estimate: every model call asks.
 */
export function fitToolLoop(messages: Message[], clearing: ToolResultClearing | undefined): Message[] {
  if (clearing === false) return messages;
  const aboveTokens = clearing?.aboveTokens ?? toolResultClearingDefaults.aboveTokens;
  if (estimatedTokens(messages) <= aboveTokens) return messages;
  return leaveOutOldTurns(clearOldToolResults(messages, clearing), aboveTokens);
}

/**
 * The messages with their oldest tool-call turns (a model turn that called tools, and its results)
 * left out while they are still over the size once their results are notes, a system note saying
 * how many stand in their place. A request then stays near the size however long the loop runs;
 * the user's messages, the model's answers and the latest turn stay. Turns go in steps of
 * `turnsLeftOutTogether`, so the start of the conversation changes only every so many turns and a
 * provider's prompt cache holds in between.
 */
function leaveOutOldTurns(messages: Message[], aboveTokens: number): Message[] {
  let tokens = estimatedTokens(messages);
  if (tokens <= aboveTokens) return messages;
  const turns: Array<{ start: number; end: number }> = [];
  for (let index = 0; index < messages.length; index++) {
    const message = messages[index]!;
    if (message.role !== "assistant" || (message.toolCalls?.length ?? 0) === 0) continue;
    let end = index + 1;
    while (end < messages.length && messages[end]!.role === "tool") end++;
    turns.push({ start: index, end });
    index = end - 1;
  }
  // The latest turn's results are what the model just asked for.
  if (turns.length > 0 && turns[turns.length - 1]!.end === messages.length && messages[messages.length - 1]!.role === "tool") turns.pop();
  let count = 0;
  while (count < turns.length && tokens > aboveTokens) {
    const { start, end } = turns[count]!;
    tokens -= estimatedTokens(messages.slice(start, end));
    count += 1;
  }
  if (count === 0) return messages;
  count = Math.min(turns.length, Math.ceil(count / turnsLeftOutTogether) * turnsLeftOutTogether);
  const leftOut = new Set<number>();
  for (const { start, end } of turns.slice(0, count)) for (let index = start; index < end; index++) leftOut.add(index);
  const out: Message[] = [];
  for (const [index, message] of messages.entries()) {
    if (index === turns[0]!.start) out.push(leftOutTurnsNote(count));
    if (!leftOut.has(index)) out.push(message);
  }
  return out;
}

const turnsLeftOutTogether = 16;

function leftOutTurnsNote(count: number): Message {
  return {
    role: "system",
    content: `duragent: ${count} earlier turn${count === 1 ? "" : "s"} of yours (tool calls and their results) are left out here to keep the conversation within the model's context. Call the tools again for anything you need from them.`,
  };
}

/** Every tool result as a note, the latest turn's too: for a conversation that must fit a size whatever it costs the model. */
export function clearAllToolResults(messages: Message[]): Message[] {
  return messages.map((message) => (message.role === "tool" && !isNote(message) ? clearedResult(message) : message));
}

const notePrefix = "[duragent cleared this result";

function isNote(message: ToolMessage): boolean {
  const first = message.content[0];
  return message.content.length === 1 && first?.type === "text" && first.text.startsWith(notePrefix);
}

function clearedResult(message: ToolMessage): ToolMessage {
  return { ...message, content: [{ type: "text", text: `${notePrefix} of ${message.toolName} (${sizeOf(message.content)}) to keep the conversation within the model's context; call the tool again if you need it.]` }] };
}

function sizeOf(content: readonly ContentPart[]): string {
  let characters = 0;
  let images = 0;
  for (const part of content) {
    if (part.type === "text") characters += part.text.length;
    else images += 1;
  }
  const text = characters >= 1_000 ? `${Math.round(characters / 1_000)}K characters` : `${characters} characters`;
  return images > 0 ? `${text} and ${images} image${images === 1 ? "" : "s"}` : text;
}
