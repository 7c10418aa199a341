/** `duragent worker`: serve the configured task queue until SIGINT or SIGTERM. */
import { createWorker } from "../../worker.js";
import { UserError } from "../../errors/user-error.js";
import type { CommandContext } from "../context.js";
import type { Logger } from "../../logger.js";
import { format } from "node:util";

export async function workerCommand(context: CommandContext, options: { bundle?: string; metrics?: string; health?: string }): Promise<void> {
  const config = await context.config();
  const { temporal } = config;
  await context.noticeScriptedModel();
  if (options.metrics !== undefined && !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(options.metrics)) {
    throw new UserError(`--metrics ${options.metrics}: expected host:port, e.g. 0.0.0.0:9464.`);
  }
  const logger = await context.logger();
  routeConsoleWarnings(logger);
  const worker = await createWorker({
    config,
    logger,
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

/**
 * A library's `console.warn` (the Anthropic SDK's, for a deprecated model, on every call) as one of
 * the worker's log lines, said once: a bare text line among JSON ones breaks log collectors.
 */
function routeConsoleWarnings(logger: Logger): void {
  const said = new Set<string>();
  console.warn = (...args: unknown[]) => {
    const message = format(...args);
    if (said.has(message)) return;
    if (said.size < 100) said.add(message);
    logger.warn({ source: "console" }, message);
  };
}
