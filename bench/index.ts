/**
 * `npm run bench`: duragent's speed and size figures, each beside its limit, in one table, on a
 * Temporal dev server and a scripted model this run starts itself. `BENCH_QUICK=1` runs fewer
 * samples and a shorter chat (under 2 minutes on 2 cores); `BENCH_TURNS=<n>` sets the chat's turns;
 * `BENCH_SCALE=<n>` the number of waiting runs (`BENCH_SCALE=10000` for the full target), and
 * `BENCH_WORKER_CONFIG='{ maxCachedWorkflows: 1000 }'` the `worker:` settings of duragent's worker there;
 * `BENCH_SECTIONS=memory,temporal,start-up,recovery,scale,history,streaming` picks sections.
 * Results also go to bench/results/.
 */
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { startDevServer } from "../src/temporal/dev-server.js";
import { formatHistoryGrowth, historyFigures, measureHistoryGrowth } from "./history-growth.js";
import { formatFigures, saveResults, type Figure } from "./report.js";
import { measureMemoryEngine } from "./memory-engine.js";
import { measureRecovery } from "./recovery.js";
import { measureScale } from "./scale.js";
import { measureStartup } from "./startup.js";
import { measureStreaming } from "./streaming.js";
import { measureTemporalEngine } from "./temporal-engine.js";

/** A bad BENCH_* setting: its message says all, no stack. */
class BenchInputError extends Error {}

async function main(): Promise<void> {
  const quick = process.env.BENCH_QUICK === "1";
  const turns = Number(process.env.BENCH_TURNS ?? (quick ? 10 : 100));
  if (!Number.isInteger(turns) || turns < 1) throw new BenchInputError(`BENCH_TURNS must be a positive whole number, not "${process.env.BENCH_TURNS}".`);
  const known = ["memory", "temporal", "start-up", "recovery", "scale", "history", "streaming"];
  const sections = new Set((process.env.BENCH_SECTIONS ?? known.join(",")).split(",").map((name) => name.trim()));
  const unknown = [...sections].filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new BenchInputError(`BENCH_SECTIONS names no section "${unknown.join('", "')}"; the sections are ${known.join(", ")}.`);
  // The runs without references pass Temporal's 512 KiB payload warning by design; the worker's
  // native side would print each time, so only its errors are shown.
  Runtime.install({ logger: new DefaultLogger("ERROR"), telemetryOptions: { logging: { filter: "error", forward: {} } } });
  console.error("Starting a Temporal dev server...");
  const server = await startDevServer({ ui: false });
  const figures: Figure[] = [];
  const details: Record<string, unknown> = {};
  const log = (line: string) => console.error(line);
  // Each chosen section, with its own time, so BENCH_QUICK can be kept short.
  const section = async (name: string, title: string, measure: () => Promise<void>) => {
    if (!sections.has(name)) return;
    const started = Date.now();
    log(title);
    await measure();
    log(`  (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  };
  const scaleRuns = Number(process.env.BENCH_SCALE ?? (quick ? 100 : 1000));
  try {
    await section("memory", "Memory engine against a hand-written loop", async () => {
      const { figures: memory, rounds } = await measureMemoryEngine({ quick, log });
      figures.push(...memory);
      details.memoryRounds = rounds;
    });
    await section("temporal", "Temporal engine against a plain workflow of no-op activities", async () => {
      const { figures: temporal, rounds } = await measureTemporalEngine({ address: server.address, quick, log });
      figures.push(...temporal);
      details.temporalRounds = rounds;
    });
    await section("start-up", "Start-up", async () => {
      figures.push(...(await measureStartup({ address: server.address, quick, log })));
    });
    await section("recovery", "Crash recovery", async () => {
      const { figures: recovery, samples } = await measureRecovery({ address: server.address, quick, log });
      figures.push(...recovery);
      details.recoveryMs = samples;
    });
    await section("scale", `Waiting runs at scale: ${scaleRuns}`, async () => {
      const { figures: scale, results } = await measureScale({ address: server.address, runs: scaleRuns, log, serverPid: server.process.pid! });
      figures.push(...scale);
      details.scale = results;
    });
    await section("streaming", "Streaming: first text against the whole answer", async () => {
      figures.push(...(await measureStreaming({ address: server.address, quick, log })));
    });
    await section("history", `History growth: chats of ${turns} turns`, async () => {
      const rows = await measureHistoryGrowth({ address: server.address, turns, log });
      figures.push(...historyFigures(rows));
      details.history = rows;
      details.historyTable = formatHistoryGrowth(rows);
    });
  } finally {
    await server.stop();
  }
  console.log(`\n${formatFigures(figures)}\n`);
  if (typeof details.historyTable === "string") console.log(`History after ${turns} chat turns, in detail:\n\n${details.historyTable}\n`);
  const file = saveResults({ date: new Date().toISOString(), quick, node: process.version, figures, ...details });
  console.log(`Results: ${file}`);
  // The runtime forwards its native logs, which keeps the process alive until it is shut down.
  await Runtime.instance().shutdown();
}

main().catch((error: unknown) => {
  console.error(error instanceof BenchInputError ? error.message : error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
