/**
 * Builds a Temporal worker for duragent: the workflow bundle (from the cache when fresh), the
 * activities with their MCP pool and model providers, and the search attributes runs are tagged
 * with. Loaded only by programs that run a worker: @temporalio/worker is native and heavy.
 */
import { Connection } from "@temporalio/client";
import { DefaultLogger, NativeConnection, Runtime, Worker } from "@temporalio/worker";
import { openActivityRuntime } from "../activities/activity-runtime.js";
import { temporalActivities } from "../activities/index.js";
import { namespaceMissing, temporalUnreachable } from "../client/temporal-errors.js";
import { temporalConnectionOptions } from "../client/temporal-connection.js";
import { dataConverterFor } from "../codec/data-converter.js";
import { registerSearchAttributes, searchAttributesHint } from "../client/search-attributes.js";
import type { DuragentConfig } from "../config/schema.js";
import type { Logger } from "../logger.js";
import type { DuragentWorker, WorkerBundle } from "../worker.js";
import { loadWorkflowBundle } from "./workflow-bundle.js";

/**
 * Quiets the Temporal runtime's own logs to warnings unless DURAGENT_LOG_LEVEL asks for more;
 * it must run before the first worker connection, and only the first call takes effect.
 */
export function installRuntimeLogging(): void {
  if (Runtime._instance) return;
  const wanted = (process.env.DURAGENT_LOG_LEVEL ?? "warn").toUpperCase();
  const level = (["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] as const).find((name) => name === wanted) ?? "WARN";
  Runtime.install({ logger: new DefaultLogger(level) });
}

export async function createTemporalWorker(config: DuragentConfig, logger: Logger, bundle: WorkerBundle | undefined): Promise<DuragentWorker> {
  installRuntimeLogging();
  // The worker's client, which activities use to reach their run, shares this converter.
  const dataConverter = dataConverterFor(config);
  await checkCluster(config.temporal);
  const workflowBundle = await resolveBundle(config, bundle, logger);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  } catch (error) {
    throw temporalUnreachable(config.temporal, error);
  }
  if (config.temporal.searchAttributes) await ensureSearchAttributes(connection, config.temporal.namespace, logger);
  const runtime = openActivityRuntime(config, logger);
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowBundle,
      ...(dataConverter ? { dataConverter } : {}),
      activities: temporalActivities(runtime.effects),
      maxCachedWorkflows: config.worker.maxCachedWorkflows,
      ...(config.worker.maxConcurrentWorkflowTaskExecutions ? { maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTaskExecutions } : {}),
      ...(config.worker.maxConcurrentActivityTaskExecutions ? { maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivityTaskExecutions } : {}),
      // Heartbeats carry tool-call progress, so send them within a second rather than at 80% of the timeout.
      maxHeartbeatThrottleInterval: "1 second",
    });
    const close = async () => {
      await runtime.close();
      await connection.close();
    };
    return {
      worker,
      runtime,
      close,
      async run() {
        try {
          await worker.run();
        } finally {
          await close();
        }
      },
    };
  } catch (error) {
    await runtime.close();
    await connection.close();
    throw error;
  }
}

async function resolveBundle(config: DuragentConfig, bundle: WorkerBundle | undefined, logger: Logger): Promise<{ code: string } | { codePath: string }> {
  if (typeof bundle === "string") return { codePath: bundle };
  if (bundle) return bundle;
  const started = Date.now();
  const loaded = await loadWorkflowBundle({ modules: config.modules });
  logger.debug({ file: loaded.file, cached: loaded.cached, ms: Date.now() - started }, loaded.cached ? "workflow bundle from cache" : "workflow bundle built");
  return { code: loaded.code };
}

/**
 * Fails fast on an unreachable cluster or a missing namespace: the worker itself would report the
 * first as a raw transport error and, on the second, wait forever with only a warning.
 */
async function checkCluster(temporal: DuragentConfig["temporal"]): Promise<void> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...temporalConnectionOptions(temporal), connectTimeout: 5_000 });
  } catch (error) {
    throw temporalUnreachable(temporal, error);
  }
  try {
    await connection.workflowService.describeNamespace({ namespace: temporal.namespace });
  } catch (error) {
    // gRPC status 5 is NOT_FOUND.
    if (typeof error === "object" && error !== null && "code" in error && error.code === 5) throw namespaceMissing(temporal, error);
    throw error;
  } finally {
    await connection.close();
  }
}

/**
 * Makes sure the DuragentAgent and DuragentPhase search attributes exist, so runs can be found by
 * agent and phase. A cluster that refuses (e.g. no operator rights) gets a warning with the fix.
 */
async function ensureSearchAttributes(connection: NativeConnection, namespace: string, logger: Logger): Promise<void> {
  try {
    await registerSearchAttributes(connection.operatorService, namespace);
  } catch (error) {
    logger.warn({ error: (error as Error).message }, `could not register the DuragentAgent/DuragentPhase search attributes; ${searchAttributesHint}`);
  }
}
