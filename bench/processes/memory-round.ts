/**
 * One measured round of the memory-engine comparison, in a process of its own so that its CPU
 * time and peak memory are its own. `direct` is the limit: the OpenAI SDK and the MCP SDK in a
 * loop written by hand, as a user would without duragent. `duragent` is the memory engine running
 * the same agent. Both do three model calls and two tool calls per run against the same servers.
 *
 *   node --import tsx bench/processes/memory-round.ts <direct|direct-v1|duragent> <runs> <inFlight> <modelBaseURL> [warmUpRuns=1000]
 *
 * The warm-up runs come first and are not measured: until V8 has compiled the hot paths, its
 * compiler threads bill each side for its amount of code, not for what a run costs.
 *
 * Prints one JSON line: runs/s, latency percentiles, CPU per run and peak RSS. With
 * `BENCH_CPU_PROFILE=<file>`, also writes a CPU profile of the measured runs alone (no start-up,
 * no warm-up), for Chrome DevTools or `node bench/profile-top.ts`, sampled every
 * `BENCH_CPU_INTERVAL_US` (1000 by default); with `BENCH_HEAP_PROFILE=<file>`, a sampling profile of
 * what they allocate, for the same reader.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { promiseHooks } from "node:v8";
// The compiled package, as users run it.
import { createClient } from "../../dist/client.js";
import { percentile } from "../report.js";
import { everythingBin, openDirectCalls } from "../direct-calls.js";
import { handWrittenLoop, instruction, question } from "../hand-written-loop.js";

const [system, runsText, inFlightText, baseURL, warmUpText = "1000"] = process.argv.slice(2);
const runs = Number(runsText);
const inFlight = Number(inFlightText);

type RunOnce = () => Promise<unknown>;

async function direct(): Promise<{ run: RunOnce; close(): Promise<void> }> {
  // The MCP SDK duragent is built on (v2); `direct-v1` is the same loop on the 1.x SDK.
  const calls = await openDirectCalls(baseURL!, system === "direct-v1" ? "v1" : "v2");
  return { run: () => handWrittenLoop(calls), close: () => calls.close() };
}

async function duragent(): Promise<{ run: RunOnce; close(): Promise<void> }> {
  const client = await createClient({
    config: {
      engine: "memory",
      mcp: { servers: { everything: { command: process.execPath, args: [everythingBin, "stdio"], allowedTools: ["echo"] } } },
      llm: { defaultModel: "openai:bench", providers: { openai: { apiKey: "bench", baseURL } } },
      agents: { bencher: { instruction, servers: ["everything"] } },
      memory: { keepFinishedRuns: Number(process.env.KEEP ?? 1000) },
    },
  });
  return { run: () => client.execute("bencher", question), close: () => client.close() };
}

async function measure(run: RunOnce, count: number, parallel: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      next += 1;
      const started = performance.now();
      await run();
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  return latencies;
}

const subject = system === "duragent" ? await duragent() : await direct();
await measure(subject.run, Number(warmUpText), 1); // connections, JIT, caches
const profileTo = process.env.BENCH_CPU_PROFILE;
const heapTo = process.env.BENCH_HEAP_PROFILE;
const inspector = profileTo || heapTo ? new Session() : undefined;
inspector?.connect();
if (profileTo) {
  await inspector!.post("Profiler.enable");
  // Finer than the 1 ms default when asked: a run's own work is a few ms.
  if (process.env.BENCH_CPU_INTERVAL_US) await inspector!.post("Profiler.setSamplingInterval", { interval: Number(process.env.BENCH_CPU_INTERVAL_US) });
  await inspector!.post("Profiler.start");
}
if (heapTo) {
  await inspector!.post("HeapProfiler.enable");
  await inspector!.post("HeapProfiler.startSampling", { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
const cpu = process.cpuUsage();
const started = performance.now();
const latencies = await measure(subject.run, runs, inFlight);
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
if (profileTo) writeFileSync(profileTo, JSON.stringify((await inspector!.post("Profiler.stop")).profile));
if (heapTo) writeFileSync(heapTo, JSON.stringify((await inspector!.post("HeapProfiler.stopSampling")).profile));
// After the timed runs, since counting slows every promise: the promises a run makes, a figure
// the machine's load cannot move. The SDK calls make most of them; the rest are the loop's own.
let promises = 0;
const stopCounting = promiseHooks.onInit(() => void (promises += 1));
await measure(subject.run, 50, 1);
stopCounting();
const result = {
  system,
  runs,
  inFlight,
  runsPerSecond: runs / seconds,
  p50: percentile(latencies, 50),
  p95: percentile(latencies, 95),
  cpuPerRunMs: (used.user + used.system) / 1000 / runs,
  peakRssMB: process.resourceUsage().maxRSS / 1024,
  promisesPerRun: promises / 50,
};
await subject.close();
console.log(JSON.stringify(result));
process.exit(0);
