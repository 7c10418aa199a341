/**
 * What an agent run that continues as new in the middle of its tool loop hands to the next: its
 * conversation, in the one payload of a continue-as-new. Past `messagesPayloadBytes`, all but the
 * latest tool results become notes (as the worker sends them to the model anyway once a call is
 * large), then the latest too, and past that again the oldest turns go, the user's message and a
 * note staying first.
 */
import type { Message } from "../../common/messages.js";
import { clearAllToolResults, clearOldToolResults, toolResultClearingDefaults, type ToolResultClearing } from "../../common/tool-result-clearing.js";
import { fitInOnePayload, jsonBytes, messagesPayloadBytes } from "../../common/transcript-reference.js";

/** `leftOutBefore`: what earlier hand-overs left out, so the model's note counts them too. */
export function messagesToHandOver(messages: Message[], clearing: ToolResultClearing | undefined, leftOutBefore = 0): { messages: Message[]; leftOut: number } {
  if (fitInOnePayload(messages)) return { messages, leftOut: 0 };
  // Even an agent that sends every result whole cannot hand over more than a payload holds.
  const keep = (clearing === false ? undefined : clearing?.keep) ?? toolResultClearingDefaults.keep;
  // The worker's own clearing, bounded by a payload (as many tokens as it holds characters, four
  // to a token): past that, clearing takes kept results too, but for the latest turn's.
  const cleared = clearOldToolResults(messages, { aboveTokens: messagesPayloadBytes / 4, keep });
  if (fitInOnePayload(cleared)) return { messages: cleared, leftOut: 0 };
  // Results too big to hand on even the latest few (a turn's can pass the payload alone): all go,
  // the model keeping its own turns and calling the tools again for what it needs.
  const allCleared = clearAllToolResults(messages);
  if (fitInOnePayload(allCleared)) return { messages: allCleared, leftOut: 0 };
  const [first, ...others] = allCleared;
  // An earlier hand-over's note gives way to this one's.
  const rest = others.filter((message) => !(message.role === "system" && message.content.startsWith(notePrefix)));
  // The latest turns that fit, each from a model turn on, so every tool result keeps its call.
  const room = messagesPayloadBytes - jsonBytes(first) - noteBytes;
  let start = rest.length;
  for (let index = rest.length - 1, bytes = 0; index >= 0; index--) {
    bytes += jsonBytes(rest[index]);
    if (bytes > room && start < rest.length) break;
    if (rest[index]!.role === "assistant") start = index;
  }
  const leftOut = start;
  return { messages: [first!, leftOutNote(leftOutBefore + leftOut), ...rest.slice(start)], leftOut };
}

const noteBytes = 512;
const notePrefix = "duragent: ";

/** The model is told that it no longer sees everything, rather than left to think it does. */
function leftOutNote(leftOut: number): Message {
  return {
    role: "system",
    content: `${notePrefix}${leftOut} earlier messages of this task (your turns and their tool results) are left out of what you see, to keep the conversation within what one workflow run may hand to the next. Call the tools again for anything you need from them.`,
  };
}
