/**
 * The Temporal engine beside its limits, on the same dev server, with workers in this process: a
 * plain Temporal workflow with as many no-op activities as a duragent run has model and tool calls
 * (three and two), and a plain workflow that runs the same agent loop written by hand, with
 * activities that make the same calls through the SDKs. The first limit holds the calls' own cost
 * against duragent as well; the second does not. Runs go one after another; rounds alternate
 * between the systems, and each figure is the median over rounds.
 *
 * Also counted: the promises a run's workflow code makes (each costs the worker a stack trace),
 * from a replay of one run of each system, which unlike times does not vary with load.
 *
 * Two of Temporal's shortcuts are measured too, each beside the plain workflow's figure with and
 * without it: eager workflow start (a client that shares its worker's connection, which duragent
 * offers as `createClient({ worker })`) and eager activity execution (on by default; the plain
 * workflow is also run on a worker with it turned off, to show what it buys).
 */
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Client, Connection, type WorkflowHandle } from "@temporalio/client";
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Worker, type WorkflowBundle } from "@temporalio/worker";
import { createClient } from "../dist/client.js";
import { createWorker } from "../dist/worker.js";
import { loadWorkflowBundle } from "../dist/worker/workflow-bundle.js";
import { workflowPromises } from "../dist/testing/workflow-promises.js";
import { startModelProcess } from "./memory-engine.js";
import { median, percentile, type Figure } from "./report.js";
import { everythingBin, openDirectCalls, type DirectCalls } from "./direct-calls.js";
import { instruction, question } from "./hand-written-loop.js";

type WorkflowHistory = Awaited<ReturnType<WorkflowHandle["fetchHistory"]>>;

const systemNames = ["empty", "hand-written", "duragent", "empty-eager", "duragent-eager", "empty-no-eager-activities"] as const;

export interface TemporalRound {
  system: (typeof systemNames)[number];
  runsPerSecond: number;
  p50: number;
  p95: number;
  /** Activities and workflow tasks per run, from the last run's history. */
  activities: number;
  workflowTasks: number;
}

/** The bench's agent on Temporal: echoes twice through server-everything, then answers. */
export function benchAgentConfig(address: string, modelBaseURL: string) {
  return {
    engine: "temporal" as const,
    temporal: { address, taskQueue: `bench-duragent-${randomUUID()}` },
    mcp: { servers: { everything: { command: process.execPath, args: [everythingBin, "stdio"], allowedTools: ["echo"] } } },
    llm: { defaultModel: "openai:bench", providers: { openai: { apiKey: "bench", baseURL: modelBaseURL } } },
    agents: { bencher: { instruction, servers: ["everything"] } },
  };
}

/** What a worker of the plain workflows runs: their bundle, and the no-op and hand-written activities. */
export async function plainWorkflows(calls: Pick<DirectCalls, "model" | "tool">) {
  // Bundled once for every plain worker: bundling is start-up, not what the runs cost.
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL("./plain-workflows.ts", import.meta.url)), logger: new DefaultLogger("WARN") });
  return { workflowBundle, activities: { noop: async () => undefined, model: calls.model, tool: calls.tool } };
}

async function timeRuns(runs: number, runOnce: () => Promise<string>): Promise<{ latencies: number[]; seconds: number; lastId: string }> {
  const latencies: number[] = [];
  let lastId = "";
  const started = performance.now();
  for (let index = 0; index < runs; index++) {
    const begun = performance.now();
    lastId = await runOnce();
    latencies.push(performance.now() - begun);
  }
  return { latencies, seconds: (performance.now() - started) / 1000, lastId };
}

export async function measureTemporalEngine(options: { address: string; quick: boolean; log: (line: string) => void }): Promise<{ figures: Figure[]; rounds: TemporalRound[] }> {
  const rounds = options.quick ? 2 : 4;
  const runs = options.quick ? 4 : 30;
  const model = await startModelProcess();
  const emptyQueue = `bench-empty-${randomUUID()}`;
  const config = benchAgentConfig(options.address, model.baseURL);
  const nativeConnection = await NativeConnection.connect({ address: options.address });
  const calls = await openDirectCalls(model.baseURL);
  const emptyWorkflow = await plainWorkflows(calls);
  const emptyWorker = await Worker.create({ connection: nativeConnection, taskQueue: emptyQueue, ...emptyWorkflow });
  const noEagerQueue = `bench-no-eager-${randomUUID()}`;
  const noEagerWorker = await Worker.create({ connection: nativeConnection, taskQueue: noEagerQueue, ...emptyWorkflow, maxEagerActivityReservationsPerWorkflowTask: 0 });
  const duragentWorker = await createWorker({ config });
  const connection = await Connection.connect({ address: options.address });
  const temporal = new Client({ connection });
  // Eager start needs the client on the worker's own connection.
  const temporalBeside = new Client({ connection: nativeConnection });
  const duragent = await createClient({ config });
  const duragentBeside = await createClient({ config, worker: duragentWorker });
  const emptyRunning = emptyWorker.run();
  const noEagerRunning = noEagerWorker.run();
  const duragentRunning = duragentWorker.run();
  const results: TemporalRound[] = [];
  const histories: Partial<Record<TemporalRound["system"], { workflowId: string; history: WorkflowHistory }>> = {};
  const countEvents = (history: WorkflowHistory) => {
    const events = history.events ?? [];
    return {
      activities: events.filter((event) => event.activityTaskScheduledEventAttributes).length,
      workflowTasks: events.filter((event) => event.workflowTaskCompletedEventAttributes).length,
    };
  };
  try {
    const plain = (client: Client, taskQueue: string, requestEagerStart: boolean) => async () => {
      const workflowId = `empty-${randomUUID()}`;
      await client.workflow.execute("emptyActivities", { taskQueue, workflowId, args: [5], ...(requestEagerStart ? { requestEagerStart } : {}) });
      return workflowId;
    };
    const handWritten = async () => {
      const workflowId = `hand-written-${randomUUID()}`;
      await temporal.workflow.execute("handWritten", { taskQueue: emptyQueue, workflowId });
      return workflowId;
    };
    const agent = (client: typeof duragent) => async () => {
      // As `execute` starts it: nobody watches, as nobody watches the hand-written run.
      const run = await client.start("bencher", question, { watch: false });
      await run.result();
      return run.runId;
    };
    const systems: Record<TemporalRound["system"], () => Promise<string>> = {
      empty: plain(temporal, emptyQueue, false),
      "hand-written": handWritten,
      duragent: agent(duragent),
      "empty-eager": plain(temporalBeside, emptyQueue, true),
      "duragent-eager": agent(duragentBeside),
      "empty-no-eager-activities": plain(temporal, noEagerQueue, false),
    };
    // Warm-up: bundles loaded, connections and MCP servers open.
    for (const system of systemNames) await systems[system]();
    options.log(`  ${rounds} rounds of ${runs} sequential runs each, alternating`);
    for (let index = 0; index < rounds; index++) {
      for (const system of systemNames) {
        const { latencies, seconds, lastId } = await timeRuns(runs, systems[system]);
        const history = await temporal.workflow.getHandle(lastId).fetchHistory();
        results.push({ system, runsPerSecond: runs / seconds, p50: percentile(latencies, 50), p95: percentile(latencies, 95), ...countEvents(history) });
        histories[system] = { workflowId: lastId, history };
      }
    }
  } finally {
    await duragentBeside.close();
    emptyWorker.shutdown();
    noEagerWorker.shutdown();
    duragentWorker.worker.shutdown();
    await Promise.allSettled([emptyRunning, noEagerRunning, duragentRunning]);
    await duragent.close();
    await connection.close();
    await nativeConnection.close();
    await calls.close();
    await model.stop();
  }
  const duragentBundle: WorkflowBundle = { code: (await loadWorkflowBundle({ modules: [] })).code };
  const promisesOf = (system: "empty" | "hand-written" | "duragent") =>
    workflowPromises(system === "duragent" ? duragentBundle : emptyWorkflow.workflowBundle, histories[system]!.history, histories[system]!.workflowId);
  const promises = { empty: await promisesOf("empty"), handWritten: await promisesOf("hand-written"), duragent: await promisesOf("duragent") };
  const of = (system: TemporalRound["system"], field: "p50" | "p95" | "runsPerSecond"): number => median(results.filter((result) => result.system === system).map((result) => result[field]));
  const last = (system: TemporalRound["system"]) => results.filter((result) => result.system === system).at(-1)!;
  const section = "Temporal engine";
  const emptyP50 = of("empty", "p50");
  const figures: Figure[] = [
    { section, name: "p50 per run", value: of("duragent", "p50"), unit: "ms", limit: { value: emptyP50 * 1.1, label: `1.10 x ${emptyP50.toFixed(0)} ms` }, note: "limit: a plain workflow with 5 no-op activities" },
    {
      section,
      name: "p50 beside the same calls",
      value: of("duragent", "p50"),
      unit: "ms",
      limit: { value: of("hand-written", "p50") * 1.1, label: `1.10 x ${of("hand-written", "p50").toFixed(0)} ms` },
      note: "limit: the agent loop as a plain workflow, its activities making the same SDK calls",
    },
    { section, name: "p95 per run", value: of("duragent", "p95"), unit: "ms", note: `plain workflow: ${of("empty", "p95").toFixed(0)} ms; by hand: ${of("hand-written", "p95").toFixed(0)} ms` },
    { section, name: "runs per second", value: of("duragent", "runsPerSecond"), unit: "runs/s", note: `plain workflow: ${of("empty", "runsPerSecond").toFixed(2)} runs/s; by hand: ${of("hand-written", "runsPerSecond").toFixed(2)} runs/s` },
    {
      section,
      name: "activities per run",
      value: last("duragent").activities,
      unit: "",
      limit: { value: last("empty").activities, label: `${last("empty").activities} (3 model + 2 tool calls)` },
      note: `workflow tasks: ${last("duragent").workflowTasks} (plain: ${last("empty").workflowTasks})`,
    },
    {
      section,
      name: "promises in workflow code per run",
      value: promises.duragent,
      unit: "",
      note: `by hand: ${promises.handWritten}; plain workflow: ${promises.empty}; the worker pays a stack trace for each`,
    },
    {
      section,
      name: "p50, started eagerly",
      value: of("duragent-eager", "p50"),
      unit: "ms",
      limit: { value: of("empty-eager", "p50") * 1.1, label: `1.10 x ${of("empty-eager", "p50").toFixed(0)} ms` },
      note: `createClient({ worker }): ${(of("duragent", "p50") - of("duragent-eager", "p50")).toFixed(0)} ms sooner (plain: ${(emptyP50 - of("empty-eager", "p50")).toFixed(0)} ms)`,
    },
    {
      section,
      name: "eager activities buy",
      value: of("empty-no-eager-activities", "p50") - emptyP50,
      unit: "ms",
      note: `plain workflow p50 with them off: ${of("empty-no-eager-activities", "p50").toFixed(0)} ms; on by default, duragent's worker keeps them`,
    },
  ];
  return { figures, rounds: results };
}
