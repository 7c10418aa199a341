/**
 * `npm run demo`: starts a Temporal dev server (with its Web UI) and a worker through
 * `duragent dev`, runs the finder agent through `duragent run --engine temporal`, prints the
 * answer and the Web UI link, and shuts everything down.
 *
 * With OPENAI_API_KEY set, the real model answers; without it, an offline scripted model does.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { demoModel } from "../src/testing/demo-model.js";
import { freePort } from "../src/temporal/dev-server.js";
import { startScriptedModelServer, type ScriptedModelServer } from "../src/testing/scripted-model-server.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const exampleDir = fileURLToPath(new URL("../examples/finder/", import.meta.url));
const cli = fileURLToPath(new URL("../bin/duragent.js", import.meta.url));
const question = process.argv[2] ?? "Summarize README.md in two sentences.";

async function main(): Promise<number> {
  let model: ScriptedModelServer | undefined;
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (!env.OPENAI_API_KEY) {
    model = await startScriptedModelServer(demoModel);
    Object.assign(env, { OPENAI_API_KEY: "offline", OPENAI_BASE_URL: model.openaiBaseURL });
    console.log("No OPENAI_API_KEY: an offline scripted model stands in for the LLM.");
  }
  const [port, uiPort] = [await freePort(), await freePort()];
  Object.assign(env, { TEMPORAL_ADDRESS: `127.0.0.1:${port}`, DURAGENT_TEMPORAL_UI: `http://127.0.0.1:${uiPort}` });

  const dev = spawn(process.execPath, [cli, "dev", "--json", "--port", `${port}`, "--ui-port", `${uiPort}`, "--db-file", `${root}/.duragent/demo.db`], {
    cwd: exampleDir,
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const ready = await waitForReady(dev);
    console.log(`Temporal dev server on ${ready.address}, Web UI at ${ready.uiUrl}, worker ready.`);
    console.log(`\n$ duragent run finder --engine temporal --input "${question}"`);
    const run = spawn(process.execPath, [cli, "run", "finder", "--engine", "temporal", "--input", question], {
      cwd: exampleDir,
      env,
      stdio: "inherit",
    });
    const [code] = (await once(run, "exit")) as [number | null];
    return code ?? 1;
  } finally {
    dev.kill("SIGINT");
    if (dev.exitCode === null) await once(dev, "exit");
    await model?.close();
  }
}

async function waitForReady(dev: ChildProcess): Promise<{ address: string; uiUrl: string }> {
  const lines = createInterface({ input: dev.stdout! });
  const exited = once(dev, "exit").then(([code]) => {
    throw new Error(`duragent dev exited (code ${code}) before it was ready`);
  });
  const ready = (async () => {
    for await (const line of lines) {
      if (line.startsWith("{")) return JSON.parse(line) as { address: string; uiUrl: string };
    }
    throw new Error("duragent dev closed its output before it was ready");
  })();
  return Promise.race([ready, exited]);
}

process.exitCode = await main();
