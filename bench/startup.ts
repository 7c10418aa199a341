/**
 * Start-up: how long a person waits for the CLI and a worker, with plain `node` on the compiled
 * package, as a user runs it.
 *
 * - `duragent --help` beside `temporal --help` (the Temporal CLI, a Go binary) and the 300 ms target.
 * - Steering commands (`status`, `list`, `approve`) beside a plain-Node script that makes the same
 *   RPCs with @temporalio/client: the limit is that script's time plus 500 ms.
 * - A worker becoming ready (its "serving" line) with a cold and a warm bundle cache; warm: 3 s.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createClient } from "../src/client.js";
import { stopProcess } from "../src/temporal/dev-server.js";
import { findTemporalCli } from "../src/temporal/temporal-cli.js";
import { demoModel } from "../src/testing/demo-model.js";
import { startScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { median, type Figure } from "./report.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const cli = join(repo, "bin", "duragent.js");
const section = "start-up";

/** Wall time of a command, in ms. */
function timed(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr}`);
  return ms;
}

function sampled(times: number, run: () => number): number {
  return median(Array.from({ length: times }, run));
}

/** The plain-SDK script the steering commands are compared with: connect, then one RPC. */
const baselineScript = `
import { Client, Connection } from "@temporalio/client";
const [what, id] = process.argv.slice(2);
const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
const client = new Client({ connection });
const handle = client.workflow.getHandle(id ?? "none");
if (what === "status") { await handle.describe(); await handle.query("duragent.status"); }
if (what === "list") { for await (const run of client.workflow.list({ pageSize: 20 })) break; }
if (what === "approve") await handle.executeUpdate("duragent.decide", { args: [{ approved: true }] });
await connection.close();
`;

export async function measureStartup(options: { address: string; quick: boolean; log: (line: string) => void }): Promise<Figure[]> {
  const figures: Figure[] = [];
  // The commands find Temporal as a user's would: by TEMPORAL_ADDRESS; so does this process's client.
  process.env.TEMPORAL_ADDRESS = options.address;
  const samples = options.quick ? 3 : 7;
  const project = mkdtempSync(join(tmpdir(), "duragent-bench-startup-"));
  const model = await startScriptedModelServer(demoModel, { quiet: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: options.address,
    OPENAI_API_KEY: "bench",
    OPENAI_BASE_URL: model.openaiBaseURL,
    DURAGENT_LOG_LEVEL: "error",
    DURAGENT_CACHE_DIR: join(project, "cache"),
  };
  try {
    writeFileSync(join(project, "README.md"), "A project to time. It has one file worth reading.\n");
    writeFileSync(
      join(project, "duragent.config.yaml"),
      [
        "engine: temporal",
        "temporal: { taskQueue: bench-startup }",
        "mcp:",
        "  servers:",
        "    filesystem:",
        `      command: ${JSON.stringify(process.execPath)}`,
        `      args: ${JSON.stringify([join(repo, "node_modules", "@modelcontextprotocol", "server-filesystem", "dist", "index.js"), project])}`,
        "approvals: { tools: [filesystem_read_text_file] }",
        "agents:",
        "  reader: { instruction: Read the files you are asked about., servers: [filesystem] }",
        "",
      ].join("\n"),
    );
    const run = (args: string[]) => timed(process.execPath, [cli, ...args], { cwd: project, env });

    options.log("  --help");
    const help = sampled(samples, () => run(["--help"]));
    const temporalHelp = sampled(samples, () => timed(findTemporalCli(), ["--help"], { cwd: project, env }));
    figures.push({ section, name: "duragent --help", value: help, unit: "ms", limit: { value: 300, label: "300 ms" }, note: `temporal --help: ${Math.round(temporalHelp)} ms` });

    options.log("  worker start, cold and warm bundle cache");
    for (const cache of ["cold", "warm"] as const) {
      const ready = await workerReady(project, env);
      figures.push({
        section,
        name: `worker ready, ${cache} bundle cache`,
        value: ready / 1000,
        unit: "s",
        ...(cache === "warm" ? { limit: { value: 3, label: "3 s" } } : {}),
        note: cache === "cold" ? "bundles the workflows (webpack)" : "bundle from node_modules/.cache/duragent",
      });
    }

    options.log("  steering commands");
    const worker = spawn(process.execPath, [cli, "worker"], { cwd: project, env, stdio: ["ignore", "ignore", "pipe"] });
    await untilServing(worker);
    const client = await createClient({ config: join(project, "duragent.config.yaml"), engine: "temporal" });
    try {
      const waiting: string[] = [];
      for (let index = 0; index < samples; index++) {
        const handle = await client.start("reader", "Summarize README.md.");
        for (;;) {
          if ((await handle.status()).phase === "waiting_approval") break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        waiting.push(handle.runId);
      }
      // Beside the repository's node_modules, so the script resolves @temporalio/client as duragent does.
      const baselineDir = join(repo, "node_modules", ".cache", "duragent-bench");
      mkdirSync(baselineDir, { recursive: true });
      writeFileSync(join(baselineDir, "baseline.mjs"), baselineScript);
      const sdk = (what: string, id?: string) => timed(process.execPath, [join(baselineDir, "baseline.mjs"), what, ...(id ? [id] : [])], { cwd: project, env });
      const first = waiting[0]!;
      const steering: Array<[string, () => number, () => number]> = [
        ["duragent status", () => run(["status", first]), () => sdk("status", first)],
        ["duragent list", () => run(["list"]), () => sdk("list")],
      ];
      for (const [name, command, reference] of steering) {
        const ours = sampled(samples, command);
        const theirs = sampled(samples, reference);
        figures.push({ section, name, value: ours, unit: "ms", limit: { value: theirs + 500, label: `${Math.round(theirs)} + 500 ms` }, note: "limit: the same RPCs from a plain @temporalio/client script" });
      }
      const approvals = waiting.map((id) => run(["approve", id]));
      const sdkApprovals: number[] = [];
      for (let index = 0; index < samples; index++) {
        const handle = await client.start("reader", "Summarize README.md.");
        while ((await handle.status()).phase !== "waiting_approval") await new Promise((resolve) => setTimeout(resolve, 50));
        sdkApprovals.push(sdk("approve", handle.runId));
      }
      const approveLimit = median(sdkApprovals) + 500;
      figures.push({ section, name: "duragent approve", value: median(approvals), unit: "ms", limit: { value: approveLimit, label: `${Math.round(median(sdkApprovals))} + 500 ms` }, note: "limit: the same update from a plain @temporalio/client script" });
    } finally {
      await client.close();
      await stopWorker(worker);
    }
  } finally {
    await model.close();
    rmSync(project, { recursive: true, force: true });
  }
  return figures;
}

/** Starts `duragent worker`, waits for its "serving" line, stops it; returns the time to ready in ms. */
async function workerReady(project: string, env: NodeJS.ProcessEnv): Promise<number> {
  const started = Date.now();
  const worker = spawn(process.execPath, [cli, "worker"], { cwd: project, env, stdio: ["ignore", "ignore", "pipe"] });
  try {
    await untilServing(worker);
    return Date.now() - started;
  } finally {
    await stopWorker(worker);
  }
}

/** Asks a worker to stop, and kills it if it has not within 5 s: stopping is cleanup, not a figure. */
const stopWorker = (worker: ChildProcess) => stopProcess(worker, "SIGINT", 5_000);

async function untilServing(worker: ReturnType<typeof spawn>): Promise<void> {
  let output = "";
  for await (const line of createInterface({ input: worker.stderr! })) {
    output += `${line}\n`;
    if (line.includes("serving task queue")) return;
  }
  throw new Error(`the worker exited before it served: ${output}`);
}
