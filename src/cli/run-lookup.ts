/** Finds a run for a command and turns engine refusals into user errors with exit codes. */
import { InvalidRunMessage, RunNotFound, type RunHandle } from "../engines/engine.js";
import type { Session } from "./session.js";
import { ExitCode, UserError } from "./user-error.js";

export async function findRun(session: Session, runId: string): Promise<RunHandle> {
  const engine = await session.engine();
  try {
    return await engine.getHandle(runId);
  } catch (error) {
    if (error instanceof RunNotFound) throw new UserError(error.message, { exitCode: ExitCode.notFound });
    throw error;
  }
}

/** Sends a message to a run; a refusal (bad answer, nothing pending) is the user's to fix. */
export async function sendToRun(send: () => Promise<void>): Promise<void> {
  try {
    await send();
  } catch (error) {
    if (error instanceof InvalidRunMessage) throw new UserError(error.message, { exitCode: ExitCode.usage });
    if (error instanceof RunNotFound) throw new UserError(error.message, { exitCode: ExitCode.notFound });
    throw error;
  }
}
