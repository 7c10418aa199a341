/** `duragent worker`: serve the configured task queue until SIGINT or SIGTERM. */
import { createWorker } from "../../worker.js";
import type { CommandContext } from "../context.js";

export async function workerCommand(context: CommandContext, options: { bundle?: string }): Promise<void> {
  const config = await context.config();
  const { temporal } = config;
  await context.noticeScriptedModel();
  const worker = await createWorker({ config, logger: await context.logger(), ...(options.bundle ? { workflowBundle: options.bundle } : {}) });
  process.stderr.write(`duragent worker: serving task queue '${temporal.taskQueue}' on ${temporal.address} (Ctrl-C stops)\n`);
  await worker.run();
}
