/**
 * The plain worker of the scale benchmark, in a process of its own so its memory is its own: Temporal's
 * defaults, the plain waiting workflow, and a no-op activity that reports every 100th call on stdout.
 */
import { fileURLToPath } from "node:url";
import { DefaultLogger, NativeConnection, Runtime, Worker } from "@temporalio/worker";

const [address, taskQueue] = process.argv.slice(2);
Runtime.install({ logger: new DefaultLogger("ERROR") });
let calls = 0;
const worker = await Worker.create({
  connection: await NativeConnection.connect({ address: address! }),
  taskQueue: taskQueue!,
  workflowsPath: fileURLToPath(new URL("./plain-waiting.ts", import.meta.url)),
  activities: {
    noop: async () => {
      calls += 1;
      if (calls % 100 === 0) console.log(`noop ${calls}`);
    },
  },
});
console.log("serving");
await worker.run();
