/**
 * What a V8 heap snapshot holds, by kind of object (`Object`, `Array`, closures, strings...):
 * count and self size of each, largest first. Given two snapshots, what the second holds beyond
 * the first; given a run count too, that growth per run.
 *
 *   node --import tsx bench/heap-top.ts <snapshot> [<later snapshot> [runs]] [--top=25]
 */
import { readFileSync } from "node:fs";

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

type Totals = Map<string, { count: number; bytes: number }>;

function totals(file: string): Totals {
  const heap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const fields = heap.snapshot.meta.node_fields;
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((field) => fields.indexOf(field)) as [number, number, number];
  const types = heap.snapshot.meta.node_types[0];
  const result: Totals = new Map();
  for (let index = 0; index < heap.nodes.length; index += width) {
    const type = types[heap.nodes[index + typeAt]!]!;
    // Strings and code are grouped by type alone: their names are their contents.
    const name = type === "object" || type === "closure" || type === "native" ? heap.strings[heap.nodes[index + nameAt]!]! : "";
    const key = name ? `${type} ${name.slice(0, 60)}` : `(${type})`;
    const entry = result.get(key) ?? { count: 0, bytes: 0 };
    entry.count += 1;
    entry.bytes += heap.nodes[index + sizeAt]!;
    result.set(key, entry);
  }
  return result;
}

const args = process.argv.slice(2).filter((arg) => !arg.startsWith("--"));
const top = Number(/--top=(\d+)/.exec(process.argv.join(" "))?.[1] ?? 25);
const [first, second, runsText] = args;
if (!first) {
  console.error("usage: bench/heap-top.ts <snapshot> [<later snapshot> [runs]] [--top=25]");
  process.exit(2);
}
const base = totals(first);
const later = second ? totals(second) : undefined;
const runs = Number(runsText ?? 0);
const rows = [...(later ?? base)].map(([key, entry]) => {
  const before = later ? base.get(key) : undefined;
  return { key, count: entry.count - (before?.count ?? 0), bytes: entry.bytes - (before?.bytes ?? 0) };
});
const sum = rows.reduce((total, row) => total + row.bytes, 0);
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
console.log(`${later ? "growth" : "total"}: ${mb(sum)} MB${runs ? `, ${(sum / 1024 / runs).toFixed(0)} KB per run` : ""}`);
for (const row of rows.sort((a, b) => b.bytes - a.bytes).slice(0, top)) {
  const perRun = runs ? `${(row.bytes / 1024 / runs).toFixed(1).padStart(7)} KB/run` : "";
  console.log(`${mb(row.bytes).padStart(8)} MB ${String(row.count).padStart(9)}  ${perRun}  ${row.key}`);
}
