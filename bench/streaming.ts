/**
 * Streaming: how soon a watcher sees a model's first words against how long the whole answer
 * takes, on both engines. The scripted model sends a 60-word answer a word every 20 ms (about
 * 1.2 s in all); the watcher is `handle.events()`, as `duragent run` and `watch` use it.
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { createClient } from "../dist/client.js";
import { startScriptedModelServer } from "../dist/testing/scripted-model-server.js";
import { createWorker } from "../dist/worker.js";
import { startDevServer } from "../dist/temporal/dev-server.js";
import { OpenAIProvider } from "../dist/activities/llm/openai-provider.js";
import { startModelProcess } from "./memory-engine.js";
import { median, type Figure } from "./report.js";

const words = Array.from({ length: 60 }, (_, index) => `word${index}`).join(" ");

/** In a process of its own: the bench's Temporal runtime is set up for its other sections. */
export async function measureStreaming(options: { address: string; quick: boolean; log: (line: string) => void }): Promise<Figure[]> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), options.address, options.quick ? "quick" : "full"], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`the streaming bench exited with ${String(code)}`);
  return JSON.parse(out.trim().split("\n").at(-1)!) as Figure[];
}

async function measureInProcess(options: { address: string; quick: boolean; log: (line: string) => void }): Promise<Figure[]> {
  const samples = options.quick ? 2 : 5;
  const model = await startScriptedModelServer(() => ({ text: words, chunkDelayMs: 20 }), { quiet: true });
  // A dev server of its own: beside the bench's runtime, the shared one was seen to stop mid-section.
  const server = await startDevServer({ ui: false });
  options = { ...options, address: server.address };
  const config = (engine: "memory" | "temporal") => ({
    engine,
    temporal: { address: options.address, taskQueue: `bench-streaming-${randomUUID()}` },
    llm: { defaultModel: "openai:bench", providers: { openai: { apiKey: "bench", baseURL: model.openaiBaseURL } } },
    agents: { talker: { instruction: "Talk.", servers: [] } },
  });
  const figures: Figure[] = [];
  try {
    for (const engine of ["temporal", "memory"] as const) {
      const settings = config(engine);
      const worker = engine === "temporal" ? await createWorker({ config: settings }) : undefined;
      const running = worker?.run();
      const client = await createClient({ config: settings });
      const first: number[] = [];
      const whole: number[] = [];
      try {
        for (let index = 0; index <= samples; index++) {
          const started = performance.now();
          const handle = await client.start("talker", "Talk, please.");
          let firstText: number | undefined;
          for await (const event of handle.events()) {
            if (event.type === "text" && firstText === undefined) firstText = performance.now() - started;
          }
          // The first round warms up connections and caches.
          if (index === 0) continue;
          first.push(firstText ?? Number.NaN);
          whole.push(performance.now() - started);
        }
      } finally {
        await client.close();
        if (worker?.worker.getState() === "RUNNING") worker.worker.shutdown();
        await running;
      }
      const section = `Streaming, ${engine} engine`;
      const wholeP50 = median(whole);
      options.log(`  ${engine}: first text ${median(first).toFixed(0)} ms, whole answer ${wholeP50.toFixed(0)} ms`);
      figures.push(
        { section, name: "time to first text (p50)", value: median(first), unit: "ms", limit: { value: wholeP50, label: `< whole answer ${wholeP50.toFixed(0)} ms` }, note: "60 words, one every 20 ms" },
        { section, name: "time to whole answer (p50)", value: wholeP50, unit: "ms" },
      );
    }
  } finally {
    await model.close();
    await server.stop();
  }
  return [...figures, ...(await streamingCpu(options))];
}

/**
 * What streaming costs the process that makes the call, the worker on Temporal: CPU per model call
 * of a 500-word answer, streamed and plain, alternating in batches, against a model in a process
 * of its own. A run nobody watches makes the plain request.
 */
async function streamingCpu(options: { quick: boolean; log: (line: string) => void }): Promise<Figure[]> {
  const model = await startModelProcess(["words", "500"]);
  try {
    const provider = new OpenAIProvider({ apiKey: "bench", baseURL: model.baseURL });
    const request = { model: "openai:bench", messages: [{ role: "user" as const, content: "Talk, please." }] };
    const call = (streamed: boolean) => provider.generate(request, "bench", undefined, streamed ? () => undefined : undefined);
    const batches = options.quick ? 4 : 10;
    const calls = options.quick ? 30 : 100;
    for (let index = 0; index < calls; index++) await Promise.all([call(true), call(false)]);
    const cpu = { streamed: [] as number[], plain: [] as number[] };
    for (let index = 0; index < batches; index++) {
      for (const streamed of [true, false]) {
        const before = process.cpuUsage();
        for (let made = 0; made < calls; made++) await call(streamed);
        const used = process.cpuUsage(before);
        cpu[streamed ? "streamed" : "plain"].push((used.user + used.system) / 1000 / calls);
      }
    }
    const [streamed, plain] = [median(cpu.streamed), median(cpu.plain)];
    options.log(`  CPU per model call of 500 words: streamed ${streamed.toFixed(2)} ms, plain ${plain.toFixed(2)} ms`);
    const section = "Streaming, CPU of the calling process";
    return [
      { section, name: "model call of 500 words, streamed", value: streamed, unit: "ms", note: `${batches} batches of ${calls}, alternating` },
      { section, name: "the same call, plain", value: plain, unit: "ms", note: "what a run nobody watches makes (`execute`)" },
    ];
  } finally {
    await model.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [address, mode] = process.argv.slice(2);
  const figures = await measureInProcess({ address: address!, quick: mode === "quick", log: (line) => console.error(line) });
  console.log(JSON.stringify(figures));
  process.exit(0);
}
