/**
 * The top entries of a CPU profile (`node --cpu-prof`, or `BENCH_CPU_PROFILE` of the memory
 * rounds), by self time: idle time left out, each entry with its share of the busy time.
 *
 *   node --import tsx bench/profile-top.ts <file.cpuprofile> [count=15] [by=function|file]
 */
import { readFileSync } from "node:fs";

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

const [file, countText = "15", by = "function"] = process.argv.slice(2);
if (!file) {
  console.error("usage: bench/profile-top.ts <file.cpuprofile> [count] [function|file]");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
const selfMs = new Map<string, number>();
let busy = 0;
profile.samples.forEach((id, index) => {
  const frame = frames.get(id)!;
  if (frame.functionName === "(idle)") return;
  const ms = (profile.timeDeltas[index] ?? 0) / 1000;
  const url = frame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(dist|src|bench)\//, "$1/");
  const key = by === "file" ? url || frame.functionName : `${frame.functionName || "(anonymous)"} ${url}${url ? `:${frame.lineNumber + 1}` : ""}`;
  selfMs.set(key, (selfMs.get(key) ?? 0) + ms);
  busy += ms;
});
console.log(`busy ${busy.toFixed(0)} ms`);
for (const [key, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, Number(countText))) {
  console.log(`${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)}%  ${key}`);
}
