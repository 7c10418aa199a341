/** `duragent worker`: serve the configured task queue until SIGINT or SIGTERM. */
import { createWorker } from "../../worker.js";
import { UserError } from "../../errors/user-error.js";
import type { CommandContext } from "../context.js";

export async function workerCommand(context: CommandContext, options: { bundle?: string; metrics?: string; health?: string }): Promise<void> {
  const config = await context.config();
  const { temporal } = config;
  await context.noticeScriptedModel();
  if (options.metrics !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(options.metrics)) {
    throw new UserError(`--metrics ${options.metrics}: expected host:port, e.g. 0.0.0.0:9464.`);
  }
  const worker = await createWorker({
    config,
    logger: await context.logger(),
    ...(options.bundle ? { workflowBundle: options.bundle } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.health ? { health: options.health } : {}),
  });
  const metrics = options.metrics ?? config.telemetry.metrics.prometheus;
  await context.announce(
    `duragent worker: serving task queue '${temporal.taskQueue}' in namespace '${temporal.namespace}' on ${temporal.address}${metrics ? `, metrics at http://${metrics}/metrics` : ""}${worker.healthUrl ? `, health at ${worker.healthUrl}/healthz and /readyz` : ""} (Ctrl-C stops)`,
    { taskQueue: temporal.taskQueue, address: temporal.address, namespace: temporal.namespace, ...(metrics ? { metrics: `http://${metrics}/metrics` } : {}), ...(worker.healthUrl ? { health: worker.healthUrl } : {}) },
  );
  await worker.run();
  // So that a log read after a deploy tells a worker that stopped from one that died.
  await context.announce(`duragent worker: stopped serving task queue '${temporal.taskQueue}'`, { taskQueue: temporal.taskQueue, stopped: true });
}
