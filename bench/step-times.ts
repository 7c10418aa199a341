/**
 * Where a Temporal run's time goes, step by step: the bench's agent (three model calls, two tool
 * calls) beside the plain workflow of five no-op activities and the plain workflow that makes the
 * same calls by hand, on a dev server of its own. Runs alternate between the three; each row is
 * the median, over the runs, of the time from the event before to this one in the run's history.
 * A task's "started" to "completed" is the worker's work plus one round trip, so a row where
 * duragent is slower says which step to look at.
 *
 *   node --import tsx bench/step-times.ts [runs=30]    (STEPS_WARM_UP runs first, 3 by default)
 *
 * duragent's runs start as `execute` starts them, unwatched; `STEPS_WATCH=1` starts them watched,
 * their model calls streaming.
 *
 * A diagnostic, not part of `npm run bench`: its figures have no limits of their own.
 */
import { randomUUID } from "node:crypto";
import { Client, Connection } from "@temporalio/client";
import { DefaultLogger, NativeConnection, Runtime, Worker } from "@temporalio/worker";
import type { temporal } from "@temporalio/proto";
import { createClient } from "../dist/client.js";
import { createWorker } from "../dist/worker.js";
import { startDevServer } from "../src/temporal/dev-server.js";
import { startModelProcess } from "./memory-engine.js";
import { median } from "./report.js";
import { benchAgentConfig, plainWorkflows } from "./temporal-engine.js";
import { openDirectCalls } from "./direct-calls.js";
import { question } from "./hand-written-loop.js";

const runs = Number(process.argv[2] ?? 30);
const warmUp = Number(process.env.STEPS_WARM_UP ?? 3);
Runtime.install({ logger: new DefaultLogger("WARN") });

const server = await startDevServer({ ui: false });
const model = await startModelProcess();
const config = benchAgentConfig(server.address, model.baseURL);
const nativeConnection = await NativeConnection.connect({ address: server.address });
const plainQueue = `steps-plain-${randomUUID()}`;
const calls = await openDirectCalls(model.baseURL);
const plainWorker = await Worker.create({
  connection: nativeConnection,
  taskQueue: plainQueue,
  ...(await plainWorkflows(calls)),
});
const duragentWorker = await createWorker({ config });
const connection = await Connection.connect({ address: server.address });
const temporalClient = new Client({ connection });
const duragent = await createClient({ config });
const running = [plainWorker.run(), duragentWorker.run()];

const ids = { plain: [] as string[], byHand: [] as string[], duragent: [] as string[] };
try {
  for (let index = 0; index < warmUp + runs; index++) {
    const plainId = `plain-${randomUUID()}`;
    await temporalClient.workflow.execute("emptyActivities", { taskQueue: plainQueue, workflowId: plainId, args: [5] });
    const byHandId = `by-hand-${randomUUID()}`;
    await temporalClient.workflow.execute("handWritten", { taskQueue: plainQueue, workflowId: byHandId });
    // As `execute` starts it (STEPS_WATCH=1: as `start` does, its model calls streaming).
    const run = await duragent.start("bencher", question, { watch: process.env.STEPS_WATCH === "1" });
    await run.result();
    if (index >= warmUp) {
      ids.plain.push(plainId);
      ids.byHand.push(byHandId);
      ids.duragent.push(run.runId);
    }
  }

  const millis = (time: temporal.api.history.v1.IHistoryEvent["eventTime"]) => Number(time!.seconds) * 1000 + (time!.nanos ?? 0) / 1e6;
  /** Per event position: its type and the median time since the event before it. */
  const stepsOf = async (workflowIds: string[]) => {
    const gaps: { type: string; samples: number[] }[] = [];
    for (const workflowId of workflowIds) {
      const events = (await temporalClient.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      events.forEach((event, position) => {
        const type = Object.keys(event).find((key) => key.endsWith("EventAttributes"))?.replace("EventAttributes", "") ?? "?";
        gaps[position] ??= { type, samples: [] };
        gaps[position]!.samples.push(position === 0 ? 0 : millis(event.eventTime) - millis(events[position - 1]!.eventTime));
      });
    }
    return gaps.map(({ type, samples }) => ({ type, ms: median(samples) }));
  };
  const columns = [
    { title: "plain workflow", steps: await stepsOf(ids.plain) },
    { title: "by hand, same calls", steps: await stepsOf(ids.byHand) },
    { title: "duragent", steps: await stepsOf(ids.duragent) },
  ];
  console.log(`Median ms since the previous event, over ${runs} runs of each (after ${warmUp} to warm up):\n`);
  console.log(["event".padEnd(4), ...columns.map(({ title }) => `${title.padEnd(32)} ${"ms".padStart(7)}`)].join("   "));
  for (let position = 0; position < Math.max(...columns.map(({ steps }) => steps.length)); position++) {
    const cells = columns.map(({ steps }) => steps[position]).map((step) => `${(step?.type ?? "").padEnd(32)} ${step ? step.ms.toFixed(2).padStart(7) : "".padStart(7)}`);
    console.log([String(position + 1).padEnd(4), ...cells].join("   "));
  }
  const total = (steps: { ms: number }[]) => steps.reduce((sum, step) => sum + step.ms, 0);
  console.log(`\nsum of medians: ${columns.map(({ title, steps }) => `${title} ${total(steps).toFixed(1)} ms`).join(", ")}`);
} finally {
  plainWorker.shutdown();
  duragentWorker.worker.shutdown();
  await Promise.allSettled(running);
  await duragent.close();
  await connection.close();
  await nativeConnection.close();
  await calls.close();
  await model.stop();
  await server.stop();
}
