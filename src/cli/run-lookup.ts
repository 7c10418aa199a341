/** Finds a run for a command; a missing one becomes a "not found" error at the CLI's boundary. */
import type { RunHandle } from "../engines/engine.js";
import type { Session } from "./session.js";

export async function findRun(session: Session, runId: string): Promise<RunHandle> {
  return (await session.engine()).getHandle(runId);
}
