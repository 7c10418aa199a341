/**
 * `duragent dev`: a local Temporal dev server with its Web UI, plus a worker, in one command.
 * State is kept in `.duragent/temporal.db`, so runs survive a restart of `dev`.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { duragentSearchAttributes } from "../../common/search-attributes.js";
import { DevServerStartError, startDevServer } from "../../temporal/dev-server.js";
import { TemporalCliNotFound } from "../../temporal/temporal-cli.js";
import { announceDevServerUi, webUiBase } from "../../client/temporal-connection.js";
import type { DuragentConfig } from "../../config/schema.js";
import { createWorker, type DuragentWorker } from "../../worker.js";
import { watchProject } from "../project-watch.js";
import type { CommandContext } from "../context.js";
import { ExitCode, UserError } from "../../errors/user-error.js";

export interface DevOptions {
  /** gRPC port; by default the port of `temporal.address`, so `duragent run` finds the server. */
  port?: number;
  /** Web UI port; by default the port of `temporal.uiUrl`, so the links `run` prints work. */
  uiPort?: number;
  dbFile: string;
  /** Told once the server and worker are ready. */
  onReady?: (ready: { address: string; uiUrl?: string; taskQueue: string }) => void;
  /** Told when a worker on the code after a change to `file` serves (the old one then stops). */
  onReload?: (file: string) => void;
}

/** A worker and its `run()`, which settles once it has stopped. */
interface Serving {
  worker: DuragentWorker;
  running: Promise<void>;
}

/** Set by a stopping signal, which Temporal's runtime also hears and stops the workers for. */
let stopping = false;

export async function devCommand(context: CommandContext, options: DevOptions): Promise<void> {
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => (stopping = true));
  const baseConfig = await context.config();
  await context.noticeScriptedModel();
  const { temporal } = baseConfig;
  const dbFile = resolve(options.dbFile);
  mkdirSync(dirname(dbFile), { recursive: true });
  const server = await startDevServer({
    port: options.port ?? portOf(`tcp://${temporal.address}`) ?? 7233,
    uiPort: options.uiPort ?? portOf(webUiBase(temporal)) ?? 8233,
    dbFile,
    // Nothing is installed behind the person's back (a system Python may refuse it, PEP 668): the error says how.
    install: false,
    searchAttributes: Object.fromEntries(duragentSearchAttributes.map((key) => [key.name, "Keyword"])),
    // The worker polls the configured namespace, which a fresh dev server has only if asked.
    namespaces: [temporal.namespace],
  }).catch((error: unknown) => {
    if (error instanceof TemporalCliNotFound) throw new UserError(error.message, { exitCode: ExitCode.notFound, cause: error });
    if (error instanceof DevServerStartError) {
      throw new UserError(error.message, { exitCode: ExitCode.unavailable, hint: error.hint, cause: error });
    }
    throw error;
  });
  // Other commands' Web UI links find this UI, wherever --ui-port put it.
  const port = portOf(`tcp://${server.address}`);
  const withdraw = server.uiUrl !== undefined && port !== undefined ? announceDevServerUi(port, server.uiUrl) : undefined;
  const logger = await context.logger();
  const onServer = (config: DuragentConfig) => ({ ...config, temporal: { ...config.temporal, address: server.address } });
  try {
    const first = await createWorker({ config: onServer(baseConfig), logger });
    let current: Serving = { worker: first, running: first.run() };
    options.onReady?.({ address: server.address, ...(server.uiUrl !== undefined ? { uiUrl: server.uiUrl } : {}), taskQueue: temporal.taskQueue });
    // A change to the project's code or config starts a worker on it; once that one serves, the
    // old one stops, finishing its steps in flight. One that cannot start (a config error, a
    // bundle that does not build) leaves the old one serving.
    const folder = context.configFile ? dirname(context.configFile) : process.cwd();
    for (;;) {
      let next: Serving | undefined;
      let starting = false;
      // A change made while a worker is being started is started on after it, not lost.
      let changedMeanwhile: string | undefined;
      const restart = (file: string): void => {
        if (next || stopping) return;
        if (starting) {
          changedMeanwhile = file;
          return;
        }
        starting = true;
        const old = current.worker;
        void context
          .reloadConfig()
          .then((config) => createWorker({ config: onServer(config), logger }))
          .then(
            (ready) => {
              if (changedMeanwhile !== undefined) return ready.close();
              next = { worker: ready, running: ready.run() };
              old.worker.shutdown();
              options.onReload?.(file);
            },
            (error: unknown) => logger.error(`${file} changed, but the worker cannot restart on it, so it goes on with what it had: ${error instanceof Error ? error.message : String(error)}`),
          )
          .finally(() => {
            starting = false;
            const again = changedMeanwhile;
            changedMeanwhile = undefined;
            if (again !== undefined) restart(again);
          });
      };
      const watch = watchProject(folder, restart);
      try {
        await current.running;
      } finally {
        watch.close();
      }
      // Stopped by a signal: Temporal's runtime stops every worker, the new one too.
      if (!next) break;
      if (stopping) {
        await next.running;
        break;
      }
      current = next;
    }
  } finally {
    withdraw?.();
    await server.stop();
  }
}

/** The explicit port of a URL, if it has one. */
function portOf(url: string): number | undefined {
  try {
    const port = new URL(url).port;
    return port === "" ? undefined : Number(port);
  } catch {
    return undefined;
  }
}
