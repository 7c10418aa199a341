/** `duragent worker`: serve the configured task queue until SIGINT or SIGTERM. */
import { createDuragentWorker } from "../../worker.js";
import type { Session } from "../session.js";

export async function workerCommand(session: Session): Promise<void> {
  const { temporal } = session.config;
  const worker = await createDuragentWorker({ config: session.config, logger: session.logger });
  console.error(`duragent worker: serving task queue '${temporal.taskQueue}' on ${temporal.address} (Ctrl-C stops)`);
  await worker.run();
}
