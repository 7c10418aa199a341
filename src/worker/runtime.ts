/**
 * The Temporal runtime of a worker process: its logs go to duragent's pino logger (so the SDK's
 * own log context, workflowId, runId, activity type and attempt, reaches every line about a run)
 * and, when asked, its metrics to a Prometheus endpoint. Temporal allows one runtime per process,
 * installed before the first worker connection.
 */
import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel } from "@temporalio/worker";
import { UserError } from "../errors/user-error.js";
import { createLogger, type Logger } from "../logger.js";

let installedWith: { prometheus?: string } | undefined;

export interface RuntimeOptions {
  logger?: Logger;
  /** `host:port` for Prometheus metrics at `/metrics`. */
  prometheus?: string;
}

export function installRuntime(options: RuntimeOptions = {}): void {
  if (Runtime._instance) {
    if (options.prometheus && installedWith?.prometheus !== options.prometheus) {
      throw new UserError(`Cannot serve metrics on ${options.prometheus}: this process's Temporal runtime was already started ${installedWith?.prometheus ? `with metrics on ${installedWith.prometheus}` : "without metrics"}.`, {
        hint: "Run one worker per process when it serves metrics, or give every worker in the process the same --metrics address.",
      });
    }
    return;
  }
  const logger = options.logger ?? createLogger("duragent-worker");
  const level = (["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] as const).find((name) => name === logger.level.toUpperCase()) ?? "WARN";
  try {
    Runtime.install({
      logger: new DefaultLogger(level, (entry) => {
        const method = entry.level.toLowerCase() as Lowercase<LogLevel>;
        logger[method](sdkLogFields(entry.meta), entry.message);
      }),
      telemetryOptions: {
        // The SDK's native core prints straight to the console (in colour, even to a file) unless
        // its lines are forwarded to the logger above, with everything else the worker logs.
        logging: { forward: {}, filter: makeTelemetryFilterString({ core: level }) },
        ...(options.prometheus
          ? {
              metrics: {
                prometheus: {
                  bindAddress: options.prometheus,
                  countersTotalSuffix: true,
                  // Dollars, not the milliseconds the default buckets are made for: a model call costs cents;
                  // and calls' milliseconds up to their 10-minute limit, where the default's last bucket is 10 s.
                  histogramBucketOverrides: {
                    duragent_llm_cost: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
                    duragent_llm_call_duration: [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000, 600_000],
                    duragent_mcp_call_duration: [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000],
                  },
                },
              },
            }
          : {}),
      },
    });
  } catch (error) {
    // The Prometheus endpoint's port is taken (another worker on this host): the user's to fix.
    if (options.prometheus && /address already in use/i.test(String((error as Error).message))) {
      throw new UserError(`Cannot serve metrics on ${options.prometheus}: the port is in use.`, {
        hint: "Give each worker on this host its own --metrics address (or telemetry.metrics.prometheus).",
      });
    }
    throw error;
  }
  installedWith = options.prometheus ? { prometheus: options.prometheus } : {};
}

/**
 * Shuts the runtime down when nothing uses it: its forwarded logs hold the event loop open, so a
 * worker that failed before it connected would otherwise keep its process alive.
 */
export async function releaseRuntimeIfIdle(): Promise<void> {
  const runtime = Runtime._instance as (Runtime & { isIdle(): boolean }) | undefined;
  if (!runtime?.isIdle()) return;
  await runtime.shutdown();
  installedWith = undefined;
}

/**
 * The SDK's fields as duragent's own lines name them: a collector's query on `runId` finds the
 * SDK's activity failures too. Without the task token, which can complete the activity.
 */
export function sdkLogFields(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!meta) return {};
  const { taskToken: _token, workflowRunId, ...fields } = meta;
  return workflowRunId !== undefined && fields.runId === undefined ? { ...fields, runId: workflowRunId } : fields;
}
