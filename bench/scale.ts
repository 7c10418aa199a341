/**
 * Runs waiting for a person, at scale, on one worker: each run makes one model call and then asks
 * a question, and waits. The worker runs in a process of its own and its RSS is sampled all
 * along; the figures are its peak, the time from the first answer sent to the last run completed,
 * and the cores the dev server and the worker kept busy meanwhile (near all of the machine's, the
 * machine is the bottleneck, whoever's code runs). The limit beside them: a plain Temporal
 * workflow that runs one no-op activity and waits for a signal, on a plain worker with Temporal's
 * defaults. `BENCH_SCALE` sets the number
 * of runs (1,000 by default). The memory engine holds the same number in one process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Client, Connection } from "@temporalio/client";
import { createClient } from "../dist/client.js";
import { startScriptedModelServer } from "../src/testing/scripted-model-server.js";
import type { Figure } from "./report.js";

const cli = fileURLToPath(new URL("../bin/duragent.js", import.meta.url));
const duragentModule = fileURLToPath(new URL("./scale/duragent-waiting.ts", import.meta.url));
const plainWorkerScript = fileURLToPath(new URL("./scale/plain-worker.ts", import.meta.url));

export interface ScaleResult {
  system: string;
  runs: number;
  idleMB: number;
  peakMB: number;
  waitingMB: number;
  startSeconds: number;
  answerSeconds: number;
  /** Cores the dev server and the worker kept busy while the answers went through (Temporal only). */
  answerCores?: { server: number; worker: number };
}

/** VmRSS of a process, in MB. */
function rssMB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : 0;
}

/** CPU seconds a process (all its threads) has used: utime and stime of /proc/<pid>/stat, in USER_HZ ticks. */
function cpuSeconds(pid: number): number {
  // The command name, in parentheses, may hold spaces: the fields are counted after it.
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** How long `work` took, and how many cores each process kept busy meanwhile: whether the server or the worker was the bottleneck. */
async function timeWithCores(pids: { server: number; worker: number }, work: () => Promise<void>): Promise<{ seconds: number; cores: { server: number; worker: number } }> {
  const started = Date.now();
  const before = { server: cpuSeconds(pids.server), worker: cpuSeconds(pids.worker) };
  await work();
  const seconds = (Date.now() - started) / 1000;
  return { seconds, cores: { server: (cpuSeconds(pids.server) - before.server) / seconds, worker: (cpuSeconds(pids.worker) - before.worker) / seconds } };
}

/** Samples a process's RSS until stopped; `peak` is the largest seen. */
function sampleRss(pid: number): { peak(): number; stop(): void } {
  let peak = rssMB(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMB(pid));
    } catch {
      // The process is gone.
    }
  }, 100);
  return { peak: () => peak, stop: () => clearInterval(timer) };
}

/** Runs `count` jobs, `parallel` at a time. */
async function inParallel(count: number, parallel: number, job: (index: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForLine(child: ChildProcess, stream: "stdout" | "stderr", test: (line: string) => boolean): Promise<void> {
  for await (const line of createInterface({ input: child[stream]! })) if (test(line)) return;
  throw new Error("the worker exited");
}

/** The heap limit both workers get, as a deployment would set one (`BENCH_WORKER_HEAP_MB`). */
const workerHeapMB = Number(process.env.BENCH_WORKER_HEAP_MB ?? 768);

export async function measureScale(options: { address: string; runs: number; log: (line: string) => void; serverPid: number }): Promise<{ figures: Figure[]; results: ScaleResult[] }> {
  const { address, runs } = options;
  // Time for the last workflow tasks and collections after starting, before RSS is read.
  const afterStartMs = runs < 1000 ? 500 : 2000;
  const results: ScaleResult[] = [];
  const connection = await Connection.connect({ address });
  const temporal = new Client({ connection });
  const modelCalls = { count: 0 };
  const model = await startScriptedModelServer(() => {
    modelCalls.count += 1;
    return { text: "ready", usage: { inputTokens: 5, outputTokens: 1 } };
  }, { quiet: true });
  const project = mkdtempSync(join(tmpdir(), "duragent-bench-scale-"));
  try {
    // The limit: a plain worker and workflow.
    {
      options.log(`  plain Temporal workflow: ${runs} runs`);
      const taskQueue = `bench-scale-plain-${Date.now()}`;
      // The same heap limit as duragent's worker below, so both collect alike.
      const worker = spawn(process.execPath, [`--max-old-space-size=${workerHeapMB}`, "--import", "tsx", plainWorkerScript, address, taskQueue], { stdio: ["ignore", "pipe", "inherit"] });
      let calls = 0;
      const lines = createInterface({ input: worker.stdout! });
      const served = new Promise<void>((resolve) =>
        lines.on("line", (line) => {
          if (line === "serving") resolve();
          const match = /^noop (\d+)$/.exec(line);
          if (match) calls = Number(match[1]);
        }),
      );
      await served;
      await settle(1000);
      const idleMB = rssMB(worker.pid!);
      const rss = sampleRss(worker.pid!);
      const started = Date.now();
      const ids = Array.from({ length: runs }, (_, index) => `plain-${taskQueue}-${index}`);
      await inParallel(runs, 100, (index) => temporal.workflow.start("plainWaiting", { taskQueue, workflowId: ids[index]! }));
      while (calls < runs - (runs % 100)) await settle(200);
      await settle(afterStartMs);
      const startSeconds = (Date.now() - started) / 1000;
      const waitingMB = rssMB(worker.pid!);
      const { seconds: answerSeconds, cores: answerCores } = await timeWithCores({ server: options.serverPid, worker: worker.pid! }, async () => {
        await inParallel(runs, 200, (index) => temporal.workflow.getHandle(ids[index]!).signal("go", "yes"));
        await inParallel(runs, 200, (index) => temporal.workflow.getHandle(ids[index]!).result());
      });
      rss.stop();
      results.push({ system: "plain", runs, idleMB, peakMB: rss.peak(), waitingMB, startSeconds, answerSeconds, answerCores });
      worker.kill("SIGINT");
      await new Promise((resolve) => worker.once("exit", resolve));
    }

    // duragent's worker, as `duragent worker` runs it.
    {
      options.log(`  duragent worker: ${runs} runs`);
      writeFileSync(
        join(project, "duragent.config.yaml"),
        [
          "engine: temporal",
          `temporal: { address: "${address}", taskQueue: bench-scale-duragent-${Date.now()} }`,
          "llm: { defaultModel: openai:bench }",
          `modules: [${JSON.stringify(duragentModule)}]`,
          // BENCH_WORKER_CONFIG='{ maxCachedWorkflows: 1000 }': the config's `worker:` settings, to compare values.
          ...(process.env.BENCH_WORKER_CONFIG ? [`worker: ${process.env.BENCH_WORKER_CONFIG}`] : []),
          "",
        ].join("\n"),
      );
      // With the heap limit, V8 collects evicted runs instead of growing.
      const env = { ...process.env, OPENAI_API_KEY: "bench", OPENAI_BASE_URL: model.openaiBaseURL, DURAGENT_LOG_LEVEL: "error", NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --max-old-space-size=${workerHeapMB}`.trim() };
      // BENCH_WORKER_PROFILE=<dir>: a CPU profile of the worker (each of its threads) into that folder.
      const profile = process.env.BENCH_WORKER_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_WORKER_PROFILE}`] : [];
      // BENCH_WORKER_HEAP=<dir>: heap snapshots of the worker, idle and with every run waiting, for
      // `node --import tsx bench/heap-top.ts <idle> <waiting> <runs>` (its peak RSS then counts them too).
      const heapDir = process.env.BENCH_WORKER_HEAP;
      const heap = heapDir ? ["--heapsnapshot-signal=SIGWINCH", `--diagnostic-dir=${heapDir}`] : [];
      const snapshot = async (name: string) => {
        if (!heapDir) return;
        const before = new Set(readdirSync(heapDir));
        // Not SIGUSR2: Temporal's runtime shuts the worker down on it.
        worker.kill("SIGWINCH");
        // Written once the worker's main thread gets to it; complete when its size stops changing.
        for (let last = -1; ; await settle(500)) {
          const file = readdirSync(heapDir).find((entry) => entry.endsWith(".heapsnapshot") && !before.has(entry));
          const size = file ? statSync(join(heapDir, file)).size : -1;
          if (file && size > 0 && size === last) {
            renameSync(join(heapDir, file), join(heapDir, `${name}.heapsnapshot`));
            options.log(`    heap snapshot: ${join(heapDir, `${name}.heapsnapshot`)}`);
            return;
          }
          last = size;
        }
      };
      // Workflows run in a thread of their own, whose heap the signal does not write: TEMPORAL_DEBUG
      // runs them on the main thread instead, in the same kind of V8 context.
      const worker = spawn(process.execPath, [...profile, ...heap, cli, "worker"], { cwd: project, env: heapDir ? { ...env, TEMPORAL_DEBUG: "1" } : env, stdio: ["ignore", "ignore", "pipe"] });
      await waitForLine(worker, "stderr", (line) => line.includes("serving task queue"));
      await settle(1000);
      await snapshot("idle");
      const idleMB = rssMB(worker.pid!);
      const rss = sampleRss(worker.pid!);
      const client = await createClient({ config: join(project, "duragent.config.yaml") });
      const started = Date.now();
      const handles: Awaited<ReturnType<typeof client.start>>[] = [];
      modelCalls.count = 0;
      await inParallel(runs, 100, async () => handles.push(await client.start("askAfterOneCall", {})));
      while (modelCalls.count < runs) await settle(200);
      await settle(afterStartMs);
      const startSeconds = (Date.now() - started) / 1000;
      const waitingMB = rssMB(worker.pid!);
      await snapshot("waiting");
      const { seconds: answerSeconds, cores: answerCores } = await timeWithCores({ server: options.serverPid, worker: worker.pid! }, async () => {
        await inParallel(runs, 200, (index) => handles[index]!.answer({ value: "yes" }));
        await inParallel(runs, 200, (index) => handles[index]!.result());
      });
      rss.stop();
      results.push({ system: "duragent", runs, idleMB, peakMB: rss.peak(), waitingMB, startSeconds, answerSeconds, answerCores });
      await client.close();
      worker.kill("SIGINT");
      await new Promise((resolve) => worker.once("exit", resolve));
    }

    // The memory engine, in this process.
    {
      options.log(`  memory engine: ${runs} runs`);
      const client = await createClient({
        config: {
          engine: "memory",
          llm: { defaultModel: "openai:bench", providers: { openai: { apiKey: "bench", baseURL: model.openaiBaseURL } } },
          modules: [duragentModule],
        },
      });
      (globalThis as { gc?: () => void }).gc?.();
      const idleMB = process.memoryUsage().rss / 1024 / 1024;
      const rss = sampleRss(process.pid);
      const started = Date.now();
      const handles = await Promise.all(Array.from({ length: runs }, () => client.start("askAfterOneCall", {})));
      for (const handle of handles) while ((await handle.status()).phase !== "waiting_input") await settle(20);
      const startSeconds = (Date.now() - started) / 1000;
      const waitingMB = process.memoryUsage().rss / 1024 / 1024;
      const answered = Date.now();
      await Promise.all(handles.map((handle) => handle.answer({ value: "yes" })));
      await Promise.all(handles.map((handle) => handle.result()));
      const answerSeconds = (Date.now() - answered) / 1000;
      rss.stop();
      results.push({ system: "memory", runs, idleMB, peakMB: rss.peak(), waitingMB, startSeconds, answerSeconds });
      await client.close();
    }
  } finally {
    await model.close();
    await connection.close();
    rmSync(project, { recursive: true, force: true });
  }
  const of = (system: string) => results.find((result) => result.system === system)!;
  const plain = of("plain");
  const duragent = of("duragent");
  const memory = of("memory");
  const section = `${runs} waiting runs`;
  const cores = (value: number) => value.toFixed(2);
  const perRun = (result: ScaleResult) => (((result.waitingMB - result.idleMB) * 1024) / runs).toFixed(0);
  const figures: Figure[] = [
    {
      section,
      name: "worker peak RSS",
      value: duragent.peakMB,
      unit: "MB",
      limit: { value: 1024, label: "1 GiB" },
      note: `idle ${duragent.idleMB.toFixed(0)} MB, ${perRun(duragent)} KB per waiting run; plain workflow: peak ${plain.peakMB.toFixed(0)} MB, ${perRun(plain)} KB per run`,
    },
    {
      section,
      name: "answer all, until all completed",
      value: duragent.answerSeconds,
      unit: "s",
      // Two significant digits: 100 runs' limit is 0.6 s, which whole seconds would show as 1 s.
      limit: { value: (60 * runs) / 10_000, label: `${Number(((60 * runs) / 10_000).toPrecision(2))} s (60 s per 10,000)` },
      note: `plain workflow: ${plain.answerSeconds.toFixed(1)} s; starting them took ${duragent.startSeconds.toFixed(1)} s (plain ${plain.startSeconds.toFixed(1)} s)`,
    },
    {
      section,
      name: "cores busy while answering",
      value: duragent.answerCores!.server + duragent.answerCores!.worker,
      unit: "cores",
      // Near all of them, the machine is the bottleneck; the server's share says whose work it is.
      note: `of ${availableParallelism()}: dev server ${cores(duragent.answerCores!.server)}, worker ${cores(duragent.answerCores!.worker)}; plain workflow: ${cores(plain.answerCores!.server)} and ${cores(plain.answerCores!.worker)}`,
    },
    {
      section,
      name: "memory engine: RSS while all wait",
      value: memory.waitingMB,
      unit: "MB",
      note: `${perRun(memory)} KB per waiting run; answering all took ${memory.answerSeconds.toFixed(1)} s`,
    },
  ];
  return { figures, results };
}
