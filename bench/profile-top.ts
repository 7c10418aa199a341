/**
 * The top entries of a CPU profile (`node --cpu-prof`, or `BENCH_CPU_PROFILE` of the memory
 * rounds), by self time: idle time left out, each entry with its share of the busy time. Given a
 * sampling heap profile instead (`BENCH_HEAP_PROFILE` of the memory rounds), the top entries by
 * bytes allocated.
 *
 *   node --import tsx bench/profile-top.ts <file> [count=15] [by=function|file]
 */
import { readFileSync } from "node:fs";

interface HeapNode {
  callFrame: Profile["nodes"][number]["callFrame"];
  selfSize: number;
  children: HeapNode[];
}

interface Profile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

const [file, countText = "15", by = "function"] = process.argv.slice(2);
if (!file) {
  console.error("usage: bench/profile-top.ts <file.cpuprofile|heap profile> [count] [function|file]");
  process.exit(2);
}
const keyOf = (frame: Profile["nodes"][number]["callFrame"]): string => {
  const url = frame.url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*?\/(dist|src|bench)\//, "$1/");
  return by === "file" ? url || frame.functionName : `${frame.functionName || "(anonymous)"} ${url}${url ? `:${frame.lineNumber + 1}` : ""}`;
};
const parsed = JSON.parse(readFileSync(file, "utf8")) as Profile | { head: HeapNode };
if ("head" in parsed) {
  const bytes = new Map<string, number>();
  let total = 0;
  const visit = (node: HeapNode): void => {
    bytes.set(keyOf(node.callFrame), (bytes.get(keyOf(node.callFrame)) ?? 0) + node.selfSize);
    total += node.selfSize;
    node.children.forEach(visit);
  };
  visit(parsed.head);
  console.log(`allocated ${(total / 1e6).toFixed(1)} MB (sampled)`);
  for (const [key, size] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, Number(countText))) {
    console.log(`${(size / 1e6).toFixed(2).padStart(7)} MB ${((100 * size) / total).toFixed(1).padStart(5)}%  ${key}`);
  }
  process.exit(0);
}
const profile = parsed;
const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
const selfMs = new Map<string, number>();
let busy = 0;
profile.samples.forEach((id, index) => {
  const frame = frames.get(id)!;
  if (frame.functionName === "(idle)") return;
  const ms = (profile.timeDeltas[index] ?? 0) / 1000;
  const key = keyOf(frame);
  selfMs.set(key, (selfMs.get(key) ?? 0) + ms);
  busy += ms;
});
console.log(`busy ${busy.toFixed(0)} ms`);
for (const [key, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, Number(countText))) {
  console.log(`${ms.toFixed(0).padStart(7)} ms ${((100 * ms) / busy).toFixed(1).padStart(5)}%  ${key}`);
}
