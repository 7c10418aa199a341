/**
 * A duragent worker: runs agent, pattern and chat workflows and executes their model and MCP
 * activities for one task queue. `duragent worker` starts one; a program can too:
 *
 * ```js
 * import { runWorker } from "duragent";
 * await runWorker();   // ./duragent.config.yaml; Ctrl-C or SIGTERM stops it gracefully
 * ```
 *
 * Temporal's runtime stops the worker gracefully on SIGINT or SIGTERM, and then every MCP server
 * is closed. The heavy parts (the Temporal worker, webpack) load only when a worker is created.
 */
import type { NativeConnection, Worker } from "@temporalio/worker";
import type { ActivityRuntime } from "./activities/activity-runtime.js";
import { configFrom, type ConfigSource } from "./config/load-config.js";
import { announce, createLogger, type Logger } from "./logger.js";

/**
 * A prebuilt workflow bundle: the path of one `duragent build` wrote, or its code. Without one the
 * worker uses its bundle cache, building the bundle when something that goes into it changed.
 */
export type WorkerBundle = string | { code: string } | { codePath: string };

export interface WorkerOptions {
  /** A config file path (or its directory), or the config as an object; `DURAGENT_CONFIG`, then `./duragent.config.yaml`, when absent. */
  config?: ConfigSource;
  logger?: Logger;
  workflowBundle?: WorkerBundle;
  /** `host:port` to serve Prometheus metrics on (over the config's telemetry.metrics.prometheus). */
  metrics?: string;
  /** `host:port` to serve `/healthz` and `/readyz` on (over the config's worker.health). */
  health?: string;
}

export interface DuragentWorker {
  /** The Temporal worker, e.g. for `runUntil` or `shutdown`. */
  worker: Worker;
  /** The activities' providers and MCP connections. */
  runtime: ActivityRuntime;
  /** The worker's connection to Temporal; `createClient({ worker })` shares it for eager start. */
  connection: NativeConnection;
  /** Where `/healthz` and `/readyz` are served, when asked for (`health`, worker.health). */
  healthUrl?: string;
  /** Serves until shutdown, then closes MCP connections and the Temporal connection. */
  run(): Promise<void>;
  /** Closes MCP connections and the Temporal connection, for callers that drive `worker` themselves. */
  close(): Promise<void>;
}

/** Connects, checks the namespace, registers the search attributes and loads the bundle; ready to `run()`. */
export async function createWorker(options: WorkerOptions = {}): Promise<DuragentWorker> {
  const config = await configFrom(options.config);
  const { createTemporalWorker } = await import("./worker/create-worker.js");
  return createTemporalWorker(config, options.logger ?? createLogger("duragent-worker"), options.workflowBundle, { ...(options.metrics ? { metrics: options.metrics } : {}), ...(options.health ? { health: options.health } : {}) });
}

/** Creates a worker and serves until SIGINT or SIGTERM. */
export async function runWorker(options: WorkerOptions = {}): Promise<void> {
  const logger = options.logger ?? createLogger("duragent-worker");
  const worker = await createWorker({ ...options, logger });
  // As `duragent worker` does: a log read after a deploy shows the worker began to serve, and where.
  // duragent's own logger hides info by default, so then it is said whatever the level; a logger
  // the program passes decides for itself.
  const say = (text: string, fields: Record<string, unknown>) => (options.logger ? options.logger.info(fields, text) : announce(`duragent worker: ${text}`, fields));
  const { taskQueue, namespace } = worker.worker.options;
  say(`serving task queue '${taskQueue}' in namespace '${namespace}' (SIGINT or SIGTERM stops it)`, { taskQueue, namespace });
  await worker.run();
  say(`stopped serving task queue '${taskQueue}'`, { taskQueue, stopped: true });
}
