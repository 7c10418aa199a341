/** `duragent worker`: serve the configured task queue until SIGINT or SIGTERM. */
import { Connection } from "@temporalio/client";
import type { DuragentConfig } from "../../config/schema.js";
import { temporalConnectionOptions } from "../../engines/temporal-connection.js";
import { createDuragentWorker } from "../../worker.js";
import type { Session } from "../session.js";
import { namespaceMissing, temporalUnreachable } from "../temporal-errors.js";

export async function workerCommand(session: Session): Promise<void> {
  const { temporal } = session.config;
  await checkCluster(temporal);
  const worker = await createDuragentWorker({ config: session.config, logger: session.logger });
  console.error(`duragent worker: serving task queue '${temporal.taskQueue}' on ${temporal.address} (Ctrl-C stops)`);
  await worker.run();
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
