/**
 * Where a Temporal run's time goes, step by step: the bench's agent (three model calls, two tool
 * calls) beside the plain workflow of five no-op activities, on a dev server of its own. Runs
 * alternate between the two; each row is the median, over the runs, of the time from the event
 * before to this one in the run's history. A task's "started" to "completed" is the worker's work
 * plus one round trip, so a row where duragent is slower says which step to look at.
 *
 *   node --import tsx bench/step-times.ts [runs=30]
 *
 * A diagnostic, not part of `npm run bench`: its figures have no limits of their own.
 */
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Client, Connection } from "@temporalio/client";
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from "@temporalio/worker";
import type { temporal } from "@temporalio/proto";
import { createClient } from "../dist/client.js";
import { createWorker } from "../dist/worker.js";
import { startDevServer } from "../src/temporal/dev-server.js";
import { startModelProcess } from "./memory-engine.js";
import { median } from "./report.js";
import { benchAgentConfig } from "./temporal-engine.js";

const runs = Number(process.argv[2] ?? 30);
const warmUp = 3;
Runtime.install({ logger: new DefaultLogger("WARN") });

const server = await startDevServer({ ui: false });
const model = await startModelProcess();
const config = benchAgentConfig(server.address, model.baseURL);
const nativeConnection = await NativeConnection.connect({ address: server.address });
const plainQueue = `steps-plain-${randomUUID()}`;
const plainWorker = await Worker.create({
  connection: nativeConnection,
  taskQueue: plainQueue,
  workflowBundle: await bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL("./processes/empty-workflow.ts", import.meta.url)), logger: new DefaultLogger("WARN") }),
  activities: { noop: async () => undefined },
});
const duragentWorker = await createWorker({ config });
const connection = await Connection.connect({ address: server.address });
const temporalClient = new Client({ connection });
const duragent = await createClient({ config });
const running = [plainWorker.run(), duragentWorker.run()];

const ids = { plain: [] as string[], duragent: [] as string[] };
try {
  for (let index = 0; index < warmUp + runs; index++) {
    const plainId = `plain-${randomUUID()}`;
    await temporalClient.workflow.execute("emptyActivities", { taskQueue: plainQueue, workflowId: plainId, args: [5] });
    const run = await duragent.start("bencher", "Echo twice, please.");
    await run.result();
    if (index >= warmUp) {
      ids.plain.push(plainId);
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
  const plain = await stepsOf(ids.plain);
  const agent = await stepsOf(ids.duragent);
  console.log(`Median ms since the previous event, over ${runs} runs of each (after ${warmUp} to warm up):\n`);
  console.log(`${"event".padEnd(4)} ${"plain workflow".padEnd(36)} ${"ms".padStart(7)}   ${"duragent".padEnd(36)} ${"ms".padStart(7)}`);
  for (let position = 0; position < Math.max(plain.length, agent.length); position++) {
    const left = plain[position];
    const right = agent[position];
    console.log(
      `${String(position + 1).padEnd(4)} ${(left?.type ?? "").padEnd(36)} ${left ? left.ms.toFixed(2).padStart(7) : "".padStart(7)}   ${(right?.type ?? "").padEnd(36)} ${right ? right.ms.toFixed(2).padStart(7) : ""}`,
    );
  }
  const total = (steps: { ms: number }[]) => steps.reduce((sum, step) => sum + step.ms, 0);
  console.log(`\nsum of medians: plain ${total(plain).toFixed(1)} ms, duragent ${total(agent).toFixed(1)} ms`);
} finally {
  plainWorker.shutdown();
  duragentWorker.worker.shutdown();
  await Promise.allSettled(running);
  await duragent.close();
  await connection.close();
  await nativeConnection.close();
  await model.stop();
  await server.stop();
}
