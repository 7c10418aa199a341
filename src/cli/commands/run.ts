/** `duragent run <target>`: start an agent or workflow and, unless told not to, wait for its answer. */
import { ZodError } from "zod";
import type { Client } from "@temporalio/client";
import type { DuragentConfig } from "../../config/schema.js";
import { findRunTarget } from "../../engines/run-targets.js";
import { TemporalEngine } from "../../engines/temporal-engine.js";
import { parseInput, resultText, type CommandOutput } from "../command-output.js";
import { followRun } from "../follow-run.js";
import { runFailure, type Session } from "../session.js";
import { UserError } from "../../errors/user-error.js";
import { formatZodError } from "../../errors/zod-issues.js";

export interface RunOptions {
  input: string;
  wait: boolean;
  /** Told as soon as the run starts, before its answer; `warning` when it may never get one. */
  onStarted?: (started: { runId: string; link?: string; warning?: string }) => void;
}

export async function runCommand(session: Session, targetName: string, options: RunOptions): Promise<CommandOutput> {
  if (!options.wait && session.engineName === "memory") {
    throw new UserError("--no-wait needs the temporal engine: a memory run lives only as long as this command.", {
      hint: "Add --engine temporal, or drop --no-wait.",
    });
  }
  const target = await findRunTarget(session.config, targetName);
  const engine = await session.engine();
  const handle = await engine.start(target, parseInput(options.input)).catch((error: unknown) => {
    if (error instanceof ZodError) throw new UserError(formatZodError(error, "--input"));
    throw error;
  });
  const warning = engine instanceof TemporalEngine ? await workerWarning(engine.client, session.config.temporal) : undefined;
  options.onStarted?.({ runId: handle.runId, link: handle.link, ...(warning ? { warning } : {}) });
  if (!options.wait) {
    return { data: { runId: handle.runId, link: handle.link }, text: handle.runId };
  }
  // A memory run can only be answered from here; a Temporal run also from another terminal.
  const interactive = session.engineName === "memory" || process.stdin.isTTY === true;
  const result = await followRun(handle, { interactive, verbose: !session.options.json }).catch((error: unknown) => {
    throw runFailure(handle.runId, error);
  });
  return { data: { runId: handle.runId, link: handle.link, result }, text: resultText(result) };
}

/**
 * A run on a task queue no worker polls waits silently forever, the most common surprise with
 * Temporal; say so at once. Any doubt (an older server, no permission) says nothing.
 */
async function workerWarning(client: Client, temporal: DuragentConfig["temporal"]): Promise<string | undefined> {
  try {
    const { pollers } = await client.workflowService.describeTaskQueue({ namespace: temporal.namespace, taskQueue: { name: temporal.taskQueue } });
    if ((pollers?.length ?? 0) > 0) return undefined;
  } catch {
    return undefined;
  }
  return (
    `No worker is polling task queue '${temporal.taskQueue}' on ${temporal.address}; the run waits until one does. ` +
    "Start one with `duragent worker` (or `duragent dev` for a local server and worker)."
  );
}
