import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Client, Connection } from "@temporalio/client";
import { NativeConnection, Worker } from "@temporalio/worker";
import { percentile } from "./report.js";
const address = "127.0.0.1:7299";
const native = await NativeConnection.connect({ address });
const mk = async (eagerActivities: boolean) => {
  const taskQueue = `eager-${randomUUID()}`;
  const worker = await Worker.create({ connection: native, taskQueue, workflowsPath: fileURLToPath(new URL("./processes/empty-workflow.ts", import.meta.url)), activities: { noop: async () => undefined }, ...(eagerActivities ? {} : { maxEagerActivityReservationsPerWorkflowTask: 0 }) });
  return { taskQueue, worker, running: worker.run() };
};
const on = await mk(true);
const off = await mk(false);
const grpc = new Client({ connection: await Connection.connect({ address }) });
const shared = new Client({ connection: native });
const variants: Record<string, () => Promise<unknown>> = {
  "plain": () => grpc.workflow.execute("emptyActivities", { taskQueue: on.taskQueue, workflowId: randomUUID(), args: [5] }),
  "no eager activities": () => grpc.workflow.execute("emptyActivities", { taskQueue: off.taskQueue, workflowId: randomUUID(), args: [5] }),
  "eager start (shared NativeConnection)": () => shared.workflow.execute("emptyActivities", { taskQueue: on.taskQueue, workflowId: randomUUID(), args: [5], requestEagerStart: true }),
  "shared NativeConnection, no eager start": () => shared.workflow.execute("emptyActivities", { taskQueue: on.taskQueue, workflowId: randomUUID(), args: [5] }),
};
const lat: Record<string, number[]> = {};
for (const f of Object.values(variants)) await f();
for (let round = 0; round < 4; round++) for (const [name, f] of Object.entries(variants)) for (let i = 0; i < 20; i++) { const t = performance.now(); await f(); (lat[name] ??= []).push(performance.now() - t); }
for (const [name, l] of Object.entries(lat)) console.log(name.padEnd(40), percentile(l, 50).toFixed(0), percentile(l, 95).toFixed(0));
// eagerly started?
const h = await shared.workflow.start("emptyActivities", { taskQueue: on.taskQueue, workflowId: randomUUID(), args: [5], requestEagerStart: true });
console.log("eagerlyStarted", (h as unknown as { eagerlyStarted?: boolean }).eagerlyStarted);
on.worker.shutdown(); off.worker.shutdown(); await Promise.all([on.running, off.running]);
process.exit(0);
