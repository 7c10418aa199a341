/**
 * `duragent dev`: a local Temporal dev server with its Web UI, plus a worker, in one command.
 * State is kept in `.duragent/temporal.db`, so runs survive a restart of `dev`.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { duragentSearchAttributes } from "../../common/search-attributes.js";
import { startDevServer } from "../../temporal/dev-server.js";
import { createDuragentWorker } from "../../worker.js";
import type { Session } from "../session.js";

export interface DevOptions {
  port: number;
  uiPort: number;
  dbFile: string;
  /** Told once the server and worker are ready. */
  onReady?: (ready: { address: string; uiUrl?: string }) => void;
}

export async function devCommand(session: Session, options: DevOptions): Promise<void> {
  const dbFile = resolve(options.dbFile);
  mkdirSync(dirname(dbFile), { recursive: true });
  const server = await startDevServer({
    port: options.port,
    uiPort: options.uiPort,
    dbFile,
    install: true,
    searchAttributes: Object.fromEntries(duragentSearchAttributes.map((key) => [key.name, "Keyword"])),
  });
  try {
    const config = { ...session.config, temporal: { ...session.config.temporal, address: server.address } };
    const worker = await createDuragentWorker({ config, logger: session.logger });
    options.onReady?.({ address: server.address, uiUrl: server.uiUrl });
    await worker.run();
  } finally {
    await server.stop();
  }
}
