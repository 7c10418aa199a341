/**
 * The agent loop a user writes by hand without duragent, for the bench's limits. It imports only
 * types, so a Temporal workflow can run it with activities as its calls.
 */
import type OpenAI from "openai";

export const instruction = "You echo things with the echo tool, twice, then say you are done.";
export const question = "Echo twice, please.";

export type Message = OpenAI.Chat.ChatCompletionMessageParam;
export type AssistantMessage = OpenAI.Chat.ChatCompletionMessage;

export interface Calls {
  model(messages: Message[]): Promise<AssistantMessage>;
  tool(name: string, argumentsJson: string): Promise<string>;
}

/** The agent loop, written by hand. `calls` is the calls themselves or activities that make them. */
export async function handWrittenLoop(calls: Calls): Promise<string | null> {
  const messages: Message[] = [
    { role: "system", content: instruction },
    { role: "user", content: question },
  ];
  for (let turn = 0; turn < 10; turn++) {
    const message = await calls.model(messages);
    messages.push(message);
    if (!message.tool_calls?.length) return message.content;
    for (const call of message.tool_calls) {
      if (call.type !== "function") continue;
      messages.push({ role: "tool", tool_call_id: call.id, content: await calls.tool(call.function.name, call.function.arguments) });
    }
  }
  throw new Error("no answer");
}
