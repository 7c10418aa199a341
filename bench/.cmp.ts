import { textOf } from "../src/common/messages.js";
import { startScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { spawn } from "node:child_process";
const server = await startScriptedModelServer(
  (call) => {
    const results = call.messages.filter((message) => message.role === "tool");
    const echo = call.tools.find((name) => name.endsWith("echo"));
    if (echo && results.length < 2) return { toolCalls: [{ name: echo, arguments: { message: `step ${results.length + 1}` } }], usage: { inputTokens: 50, outputTokens: 10 } };
    return { text: `done: ${results.map((result) => textOf(result.content)).join(", ")}`, usage: { inputTokens: 80, outputTokens: 12 } };
  },
  { quiet: true },
);
for (const system of ["direct", "duragent"]) {
  const before = server.requests.length;
  await new Promise((resolve) => spawn(process.execPath, ["--import", "tsx", "bench/processes/memory-round.ts", system, "1", "1", server.openaiBaseURL, "0"], { stdio: "ignore" }).once("exit", resolve));
  const reqs = server.requests.slice(before);
  console.log(system, reqs.length, reqs.map((r) => JSON.stringify(r.body).length));
  console.log(JSON.stringify(reqs.at(-1)!.body).slice(0, 1500));
  console.log(JSON.stringify((reqs.at(-1) as any).headers ?? {}).slice(0, 800));
}
await server.close();
