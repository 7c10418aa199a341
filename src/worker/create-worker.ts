/**
 * Builds a Temporal worker for duragent: the workflow bundle (from the cache when fresh), the
 * activities with their MCP pool and model providers, and the search attributes runs are tagged
 * with. Loaded only by programs that run a worker: @temporalio/worker is native and heavy.
 */
import { setMaxListeners } from "node:events";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { createRequire } from "node:module";
import type { Connection } from "@temporalio/client";
import { NativeConnection, Runtime, Worker, type WorkerOptions } from "@temporalio/worker";
import { openActivityRuntime } from "../activities/activity-runtime.js";
import { temporalActivities } from "../activities/index.js";
import { absentCommand } from "../activities/mcp/connection-errors.js";
import { unusableProviders } from "../activities/llm/provider-registry.js";
import { namespaceMissing } from "../client/temporal-errors.js";
import { connectClient, explainUnreachable } from "../client/tls-probe.js";
import { temporalConnectionOptions } from "../client/temporal-connection.js";
import { dataConverterFor } from "../codec/data-converter.js";
import { registerSearchAttributes, searchAttributesHint } from "../client/search-attributes.js";
import type { DuragentConfig } from "../config/schema.js";
import { setLogContext, type Logger } from "../logger.js";
import { effectMeter } from "../telemetry/worker-metrics.js";
import { prometheusAddress, tracingSettings } from "../telemetry/settings.js";
import type { Tracing } from "../telemetry/tracing.js";
import { ExitCode, isUserError, UserError } from "../errors/user-error.js";
import { ApplicationFailure } from "@temporalio/common";
import { FailureType } from "../common/failures.js";
import { runSettingsFromConfig } from "../config/load-config.js";
import { activityLogContext } from "./log-context.js";
import { installRuntime, releaseRuntimeIfIdle } from "./runtime.js";
import { serveHealth } from "./health.js";
import type { DuragentWorker, WorkerBundle } from "../worker.js";
import { bundleStaleness, loadWorkflowBundle, type BundleInputs } from "./workflow-bundle.js";
import { runInputFromConfig } from "./started-elsewhere.js";
import type { WorkerActivities } from "../common/started-elsewhere.js";
import { loadRunTargets, type RunTarget } from "../client/run-targets.js";

/** Installs the process's Temporal runtime with logs to pino and no metrics, unless one is installed already. */
export function installRuntimeLogging(): void {
  installRuntime();
}

export async function createTemporalWorker(config: DuragentConfig, logger: Logger, bundle: WorkerBundle | undefined, options: { metrics?: string; health?: string } = {}): Promise<DuragentWorker> {
  checkServersStartable(config);
  checkModelKeys(config);
  const prometheus = prometheusAddress(config, options.metrics);
  installRuntime({ logger, ...(prometheus ? { prometheus } : {}) });
  setLogContext(activityLogContext);
  let tracing: Tracing | undefined;
  let dataConverter: ReturnType<typeof dataConverterFor>;
  let workflowBundle: Awaited<ReturnType<typeof resolveBundle>>;
  let connection: NativeConnection;
  try {
    const tracingOn = tracingSettings(config, "worker");
    tracing = tracingOn ? await (await import("../telemetry/tracing.js")).startTracing(tracingOn) : undefined;
    // The worker's client, which activities use to reach their run, shares this converter.
    dataConverter = dataConverterFor(config);
    await checkCluster(config.temporal);
    workflowBundle = await resolveBundle(config, bundle, logger);
    connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal)).catch(async (error: unknown) => {
      throw await explainUnreachable(config.temporal, error);
    });
  } catch (error) {
    await releaseRuntimeIfIdle();
    throw error;
  }
  if (config.temporal.searchAttributes) await ensureSearchAttributes(connection, config.temporal.namespace, logger);
  const runtime = openActivityRuntime(config, logger, { meter: effectMeter(Runtime.instance().metricMeter), traced: tracing !== undefined, captureContent: tracing?.settings.captureContent ?? false });
  const stopping = new AbortController();
  // Each activity in flight listens to it (and stops listening when it ends): more than ten is normal.
  setMaxListeners(0, stopping.signal);
  // Served before the worker exists, so a taken port fails the start while nothing holds the connection.
  let created: Worker | undefined;
  const healthAddress = options.health ?? config.worker.health;
  const health = healthAddress
    ? await serveHealth(healthAddress, {
        state: () => created?.getState() ?? "INITIALIZED",
        inFlightSteps: () => created?.getStatus().numInFlightActivities ?? 0,
        taskQueue: config.temporal.taskQueue,
      }).catch(async (error: unknown) => {
        await runtime.close();
        await connection.close();
        throw error;
      })
    : undefined;
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowBundle,
      ...(dataConverter ? { dataConverter } : {}),
      activities: { ...temporalActivities(runtime.effects, { stopping: stopping.signal }), ...workerActivities(config) },
      maxCachedWorkflows: config.worker.maxCachedWorkflows,
      ...(config.worker.maxConcurrentWorkflowTaskExecutions ? { maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTaskExecutions } : {}),
      ...(config.worker.maxConcurrentActivityTaskExecutions ? { maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivityTaskExecutions } : {}),
      // Heartbeats carry tool-call progress, so send them within a second rather than at 80% of the timeout.
      maxHeartbeatThrottleInterval: "1 second",
      shutdownGraceTime: config.worker.shutdownGraceTimeMs,
      // A run whose worker died waits this long before another worker takes its next workflow task
      // (and answers its queries): 10 s by default, which a killed worker's runs would all pay.
      stickyQueueScheduleToStartTimeout: "3 seconds",
      ...(tracing ? await tracingWorkerOptions(tracing) : {}),
    });
    // Ctrl-C, SIGTERM and callers all stop the worker through `shutdown()`. Steps in flight get
    // the grace time to finish; then they, and any handed over while it drains (which the SDK
    // never cancels), stop, to be retried elsewhere.
    const shutdown = worker.shutdown.bind(worker);
    const grace = config.worker.shutdownGraceTimeMs;
    let graceEnds: NodeJS.Timeout | undefined;
    worker.shutdown = () => {
      const inFlight = worker.getStatus().numInFlightActivities;
      if (grace === 0) stopping.abort();
      else {
        graceEnds ??= setTimeout(() => stopping.abort(), grace).unref();
        if (inFlight > 0) logger.warn({ inFlight, graceMs: grace }, `stopping: ${inFlight} ${inFlight === 1 ? "step" : "steps"} in flight may take up to ${grace / 1000} s to finish (worker.shutdownGraceTimeMs); a second Ctrl-C or SIGTERM stops at once`);
      }
      shutdown();
    };
    created = worker;
    const close = async () => {
      clearTimeout(graceEnds);
      stopping.abort();
      await health?.close();
      try {
        // A worker that never ran still holds the connection, and only a run to its end lets it go
        // (it polls for that moment, so it may take a task, which a retry then finishes elsewhere).
        if (worker.getState() === "INITIALIZED") await worker.runUntil(Promise.resolve());
        await tracing?.flush();
      } finally {
        await runtime.close();
        await connection.close();
      }
    };
    return {
      worker,
      runtime,
      connection,
      ...(health ? { healthUrl: health.url } : {}),
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
    await health?.close();
    await runtime.close();
    await connection.close();
    throw error;
  }
}

/** What the worker's workflow bundle is built from: the config's modules and, with tracing on, its interceptors. */
export function bundleInputs(config: DuragentConfig): BundleInputs {
  return { modules: config.modules, ...(tracingSettings(config, "worker") ? { interceptorModules: [workflowTracingInterceptors()] } : {}) };
}

async function resolveBundle(config: DuragentConfig, bundle: WorkerBundle | undefined, logger: Logger): Promise<{ code: string } | { codePath: string }> {
  if (typeof bundle === "string") {
    const { file, code } = checkedBundleFile(bundle);
    const stale = bundleStaleness(code, bundleInputs(config));
    if (stale.length > 0) {
      logger.warn({ bundle: file }, `the workflow bundle ${file} does not match this worker's code: ${stale.join("; ")}. Runs of workflows it lacks fail on this worker; rebuild it with \`duragent build\``);
    }
    return { codePath: file };
  }
  if (bundle) return bundle;
  const started = Date.now();
  const loaded = await loadWorkflowBundle(bundleInputs(config));
  logger.debug({ file: loaded.file, cached: loaded.cached, ms: Date.now() - started }, loaded.cached ? "workflow bundle from cache" : "workflow bundle built");
  return { code: loaded.code };
}

/** A prebuilt bundle's file, refused in the user's terms when it is missing or not a workflow bundle. */
function checkedBundleFile(file: string): { file: string; code: string } {
  const hint = "Build one with `duragent build --out <file>`, from the same config and modules as the worker's.";
  let code: string;
  try {
    code = readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new UserError(`The workflow bundle ${file} cannot be read: ${reason}.`, { name: "WorkflowBundleNotFound", exitCode: ExitCode.notFound, hint, cause: error });
  }
  // Temporal's worker needs the source map inlined at the end, as `duragent build` writes it.
  if (!code.includes("//# sourceMappingURL=data:")) {
    throw new UserError(`${file} is not a workflow bundle: it has no inline source map, as one built by \`duragent build\` has.`, { name: "NotAWorkflowBundle", hint });
  }
  return { file, code };
}

/**
 * Refuses to serve with an MCP server this worker cannot start: a step goes to whichever worker
 * polls first, so such a worker would fail runs that a healthy one could serve.
 */
function checkServersStartable(config: DuragentConfig): void {
  if (process.platform === "win32") return; // PATHEXT and the like: left to the start itself
  const problems = Object.entries(config.mcp.servers).flatMap(([name, server]) => absentCommand(name, server, existsSync, onPath) ?? []);
  if (problems.length === 0) return;
  throw new UserError(`This worker cannot start ${problems.length === 1 ? "an MCP server" : "MCP servers"} it is configured with, so it does not serve:\n${problems.join("\n")}`, {
    name: "McpServerUnstartable",
    hint: "Every worker on a task queue must be able to start every server under mcp.servers: a step goes to whichever worker polls first.",
  });
}

/**
 * Refuses to serve without the API key of the default model's provider or of one the config
 * lists: every run that called it would fail. (An unset `${VAR}` there leaves the key out.)
 */
function checkModelKeys(config: DuragentConfig): void {
  const problems = unusableProviders(config.llm);
  if (problems.length > 0) throw new UserError(`This worker does not serve: ${problems.join("\n")}`, { name: "ModelKeyMissing" });
}

function onPath(command: string, pathVariable: string | undefined): boolean {
  return (pathVariable ?? "").split(delimiter).some((dir) => {
    if (dir === "") return false;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * Fails fast on an unreachable cluster or a missing namespace: the worker itself would report the
 * first as a raw transport error and, on the second, wait forever with only a warning.
 */
async function checkCluster(temporal: DuragentConfig["temporal"]): Promise<void> {
  let connection: Connection;
  try {
    connection = await connectClient(temporal);
  } catch (error) {
    throw await explainUnreachable(temporal, error);
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

/** Temporal's OpenTelemetry workflow interceptors, bundled into the workflows when tracing is on. */
export function workflowTracingInterceptors(): string {
  return createRequire(import.meta.url).resolve("@temporalio/interceptors-opentelemetry/lib/workflow-interceptors");
}

/**
 * Temporal's OpenTelemetry interceptors for activities and the worker's client, and the sink that
 * exports the workflows' spans (never during replay, so a replayed run adds none).
 */
async function tracingWorkerOptions(tracing: Tracing): Promise<Partial<WorkerOptions>> {
  const otel = await import("@temporalio/interceptors-opentelemetry");
  return {
    interceptors: {
      activity: [(ctx) => ({ inbound: new otel.OpenTelemetryActivityInboundInterceptor(ctx), outbound: new otel.OpenTelemetryActivityOutboundInterceptor(ctx) })],
      client: { workflow: [new otel.OpenTelemetryWorkflowClientInterceptor()] },
    },
    sinks: { exporter: await (await import("../telemetry/tracing.js")).workflowSpanSink(tracing) },
  };
}

/** The worker's activities beside the effects: reading its config for runs started elsewhere. */
export function workerActivities(config: DuragentConfig): WorkerActivities {
  // Loaded at the first such run, then kept: modules are imported once a process.
  let targets: Promise<ReadonlyMap<string, RunTarget>> | undefined;
  return {
    runInputFromConfig: async (started) => {
      targets ??= loadRunTargets(config);
      const known = await targets.catch((error: unknown) => {
        targets = undefined;
        if (!isUserError(error)) throw error;
        throw ApplicationFailure.create({ message: `The worker's config cannot give this run its target: ${(error as Error).message}`, type: FailureType.configuration, nonRetryable: true });
      });
      return runInputFromConfig(known, runSettingsFromConfig(config), started);
    },
  };
}
