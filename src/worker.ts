/**
 * A duragent worker: runs agent and pattern workflows and executes their LLM and MCP activities
 * for one task queue. `duragent worker` and `tsx src/worker.ts` both start one; Temporal's
 * runtime stops it gracefully on SIGINT or SIGTERM, and then every MCP server is closed.
 */
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundle } from "@temporalio/worker";
import { openActivityRuntime, type ActivityRuntime } from "./activities/activity-runtime.js";
import { loadConfig } from "./config/load-config.js";
import type { DuragentConfig } from "./config/schema.js";
import { temporalConnectionOptions } from "./engines/temporal-connection.js";
import { duragentSearchAttributes } from "./common/search-attributes.js";
import protos from "@temporalio/proto";
import { createLogger, type Logger } from "./logger.js";

const builtinWorkflows = fileURLToPath(new URL("./workflows/builtin-workflows.ts", import.meta.url));
// Inside the package, so the bundler resolves @temporalio/workflow from our node_modules.
const generatedEntries = fileURLToPath(new URL("../node_modules/.cache/duragent/", import.meta.url));

/** The file the bundler starts from: the built-in workflows plus those of the config's modules. */
export function workflowsEntry(modules: string[]): string {
  if (modules.length === 0) return builtinWorkflows;
  const lines = [builtinWorkflows, ...modules].map((path) => `export * from ${JSON.stringify(path)};`);
  const source = `${lines.join("\n")}\n`;
  mkdirSync(generatedEntries, { recursive: true });
  const entry = join(generatedEntries, `workflows-${createHash("sha256").update(source).digest("hex").slice(0, 12)}.ts`);
  writeFileSync(entry, source);
  return entry;
}

/** Bundles the workflow code once, e.g. to share it between several workers in tests. */
export function bundleWorkflows(modules: string[]): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath: workflowsEntry(modules), logger: quietBundlerLogger });
}

/** The bundler's logger: only warnings and errors, so webpack's stats stay out of the output. */
export const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

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

export interface DuragentWorkerOptions {
  config: DuragentConfig;
  logger?: Logger;
  /** A prebuilt bundle; otherwise the worker bundles the workflows itself. */
  workflowBundle?: WorkflowBundle;
}

export interface DuragentWorker {
  worker: Worker;
  runtime: ActivityRuntime;
  /** Runs until shutdown, then closes MCP connections and the Temporal connection. */
  run(): Promise<void>;
  /** Closes MCP connections and the Temporal connection, for callers that drive `worker` themselves. */
  close(): Promise<void>;
}

export async function createDuragentWorker(options: DuragentWorkerOptions): Promise<DuragentWorker> {
  const { config } = options;
  const logger = options.logger ?? createLogger("duragent-worker");
  installRuntimeLogging();
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal));
  if (config.temporal.searchAttributes) await registerSearchAttributes(connection, config.temporal.namespace, logger);
  const runtime = openActivityRuntime(config, logger);
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      ...(options.workflowBundle
        ? { workflowBundle: options.workflowBundle }
        : { workflowsPath: workflowsEntry(config.modules), bundlerOptions: {} }),
      activities: runtime.activities,
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

/**
 * Makes sure the DuragentAgent and DuragentPhase search attributes exist, so runs can be found by
 * agent and phase. A cluster that refuses (e.g. no operator rights) gets a warning with the fix.
 */
async function registerSearchAttributes(connection: NativeConnection, namespace: string, logger: Logger): Promise<void> {
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = duragentSearchAttributes.filter((key) => !(key.name in (existing.customAttributes ?? {})));
    if (missing.length === 0) return;
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, protos.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
    });
  } catch (error) {
    logger.warn(
      { error: (error as Error).message },
      "could not register the DuragentAgent/DuragentPhase search attributes; register them with " +
        "`temporal operator search-attribute create --name DuragentAgent --type Keyword` (and DuragentPhase), " +
        "or set temporal.searchAttributes: false",
    );
  }
}

async function main(): Promise<void> {
  const { config } = await loadConfig({ path: process.env.DURAGENT_CONFIG });
  const worker = await createDuragentWorker({ config });
  console.error(`duragent worker: task queue '${config.temporal.taskQueue}' on ${config.temporal.address}`);
  await worker.run();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
