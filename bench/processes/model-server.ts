/**
 * The bench's model: a scripted OpenAI-compatible server in a process of its own, so the CPU it
 * spends is not counted against the client being measured. It plays an agent that calls the
 * echo tool twice, then answers: three model calls and two tool calls per run. With
 * `words <n>`, it answers every call with n words instead. It prints its base URL, then serves
 * until its stdin closes.
 */
import { textOf } from "../../src/common/messages.js";
import { startScriptedModelServer } from "../../src/testing/scripted-model-server.js";

const words = process.argv[2] === "words" ? Array.from({ length: Number(process.argv[3]) }, (_, index) => `word${index}`).join(" ") : undefined;
const server = await startScriptedModelServer(
  (call) => {
    if (words) return { text: words, usage: { inputTokens: 10, outputTokens: Number(process.argv[3]) } };
    const results = call.messages.filter((message) => message.role === "tool");
    const echo = call.tools.find((name) => name.endsWith("echo"));
    if (echo && results.length < 2) return { toolCalls: [{ name: echo, arguments: { message: `step ${results.length + 1}` } }], usage: { inputTokens: 50, outputTokens: 10 } };
    return { text: `done: ${results.map((result) => textOf(result.content)).join(", ")}`, usage: { inputTokens: 80, outputTokens: 12 } };
  },
  { quiet: true },
);
console.log(server.openaiBaseURL);
process.stdin.resume();
process.stdin.on("end", () => void server.close().then(() => process.exit(0)));
