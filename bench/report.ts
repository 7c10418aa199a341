/**
 * The bench's one table: every figure beside the limit it is held to, where the limit is either a
 * fixed target or a reference measured in the same run (a hand-written loop, an empty workflow).
 * Results also go to bench/results/<date>.json, so runs can be compared.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface Figure {
  section: string;
  /** What was measured, e.g. `duragent --help`. */
  name: string;
  value: number;
  unit: "ms" | "s" | "runs/s" | "MB" | "KiB" | "x" | "cores" | "";
  /** The limit the figure is held to; absent for figures shown for information. */
  limit?: { value: number; label: string; higherIsBetter?: boolean };
  /** How it was measured, or what it is compared with. */
  note?: string;
}

export function verdict(figure: Figure): string {
  if (!figure.limit) return "";
  const within = figure.limit.higherIsBetter ? figure.value >= figure.limit.value : figure.value <= figure.limit.value;
  return within ? "ok" : "OVER";
}

function show(value: number, unit: Figure["unit"]): string {
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)}${unit === "" ? "" : ` ${unit}`}`;
}

export function formatFigures(figures: Figure[]): string {
  const header = ["section", "figure", "value", "limit", "", "note"];
  const rows = figures.map((figure) => [
    figure.section,
    figure.name,
    show(figure.value, figure.unit),
    figure.limit?.label ?? "",
    verdict(figure),
    figure.note ?? "",
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const render = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  return [render(header), render(widths.map((width) => "-".repeat(width))), ...rows.map(render)].join("\n");
}

/** Writes the figures (and anything else worth keeping) as JSON; returns the file. */
export function saveResults(results: Record<string, unknown>): string {
  const dir = fileURLToPath(new URL("./results/", import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  return file;
}

/** The median of some samples. */
export function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The p-th percentile (0-100) of some samples, nearest rank. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
