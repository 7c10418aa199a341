/**
 * Follows a run until it ends: prints each step as it starts, shows a spinner while waiting, and
 * when the run waits for a person, offers to answer right there.
 */
import { createInterface, type Interface } from "node:readline";
import type { PendingRequest, RunStatus } from "../common/run-status.js";
import { parseInput } from "./command-output.js";
import { InvalidRunMessage, type RunHandle } from "../client/engine.js";
import { describePending } from "./status-text.js";
import { textEvents, textFilter, type ShownText } from "../client/run-events.js";

export interface FollowOptions {
  /** Ask pending questions on the terminal. */
  interactive: boolean;
  /** Print steps and prompts (off for --json). */
  verbose: boolean;
  /** Print the run's events as JSON lines on stdout instead (`--events`). */
  events?: boolean;
  /** Show only these agents' text (`--agent`). */
  agents?: readonly string[];
  pollMs?: number;
}

const spinnerFrames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export async function followRun(handle: RunHandle, options: FollowOptions): Promise<unknown> {
  if (options.events) return printEvents(handle, options.agents);
  const shows = textFilter(options.agents);
  const err = process.stderr;
  const spinning = options.verbose && err.isTTY === true;
  let lines: Interface | undefined;
  let stdinClosed = false;
  const ask = (question: string): Promise<string | undefined> => {
    if (stdinClosed) return Promise.resolve(undefined);
    if (!lines) {
      lines = createInterface({ input: process.stdin, output: err, terminal: process.stdin.isTTY === true });
      lines.on("close", () => (stdinClosed = true));
    }
    return new Promise((resolve) => {
      const onClose = () => resolve(undefined);
      lines!.once("close", onClose);
      lines!.question(question, (answer) => {
        lines!.off("close", onClose);
        resolve(answer);
      });
    });
  };

  let settled = false;
  const outcome = handle.result().finally(() => (settled = true));
  outcome.catch(() => undefined);
  let shownSteps = 0;
  let frame = 0;
  const asked = new Set<string>();
  const shownText: ShownText = new Map();
  // Streamed text ends its line before a step or prompt is printed.
  let midLine = false;
  /** The model call whose text was printed last. */
  let textCall: string | undefined;
  const endLine = () => {
    if (midLine) err.write("\n");
    midLine = false;
  };
  try {
    while (!settled) {
      const status = await handle.status().catch(() => undefined);
      if (status) {
        // A run that continued as new counts its steps and model calls from the start again.
        if (status.stepCount < shownSteps && !status.partial) {
          shownSteps = 0;
          shownText.clear();
        }
        if (options.verbose && status.stepCount > shownSteps && status.currentStep) {
          if (spinning) err.write("\r\x1b[K");
          endLine();
          // Polling can miss fast steps; say how many passed rather than pretend each was seen.
          const steps = status.stepCount > shownSteps + 1 ? `steps ${shownSteps + 1}–${status.stepCount}` : `step ${status.stepCount}`;
          err.write(`  ${steps}: ${status.currentStep}\n`);
          shownSteps = status.stepCount;
        }
        // A model's answer as it streams, on a terminal: stdout keeps only the final answer. Each
        // call's text starts on its own line, named by its agent, so parallel branches stay apart.
        if (options.verbose && spinning) {
          for (const streaming of status.streaming ?? []) {
            if (!shows(streaming)) continue;
            for (const event of textEvents(streaming, shownText)) {
              if (event.type === "restart") {
                err.write(`\r\x1b[K${midLine ? "\n" : ""}  (${event.step}: the attempt failed; attempt ${event.attempt} starts over)\n`);
                midLine = false;
                textCall = undefined;
              } else if (event.type === "text") {
                if (event.id !== textCall) endLine();
                const label = event.id !== textCall && event.agent ? `${event.agent}: ` : "";
                textCall = event.id;
                err.write(`${midLine ? "" : `\r\x1b[K  ${label}`}\x1b[2m${event.delta}\x1b[22m`);
                midLine = !event.delta.endsWith("\n");
              }
            }
          }
        }
        const next = status.pending.find((request) => !asked.has(request.id));
        if (next && options.interactive) {
          asked.add(next.id);
          if (spinning) err.write("\r\x1b[K");
          endLine();
          await answer(handle, next, ask, options.verbose);
          continue;
        }
        if (spinning && !midLine) err.write(`\r${spinnerFrames[frame++ % spinnerFrames.length]} ${phaseText(status)}\x1b[K`);
      }
      await Promise.race([outcome.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, options.pollMs ?? (spinning && status?.streaming?.some((text) => !text.done) ? 100 : 300)))]);
    }
  } finally {
    endLine();
    if (spinning) err.write("\r\x1b[K");
    lines?.close();
  }
  return outcome;
}

/** `--events`: one JSON object per line, ending with the `end` event; the run's failure is still the exit code. */
async function printEvents(handle: RunHandle, agents: readonly string[] | undefined): Promise<unknown> {
  for await (const event of handle.events(agents ? { agents } : {})) process.stdout.write(`${JSON.stringify(event)}\n`);
  return handle.result();
}

function phaseText(status: RunStatus): string {
  if (status.phase === "waiting_input") return "waiting for an answer (`duragent answer`)";
  if (status.phase === "waiting_approval") return "waiting for approval (`duragent approve` or `duragent reject`)";
  return status.phase;
}

/** Asks until the run accepts an answer, or the person leaves it for later (empty line, end of input). */
async function answer(
  handle: RunHandle,
  request: PendingRequest,
  ask: (question: string) => Promise<string | undefined>,
  verbose: boolean,
): Promise<void> {
  for (;;) {
    if (verbose) process.stderr.write(`${describePending(request)}\n`);
    try {
      if (request.kind === "input") {
        const reply = await ask("answer> ");
        if (reply === undefined || reply.trim() === "") return;
        await handle.answer({ requestId: request.id, value: parseInput(reply) });
        return;
      }
      const choice = (await ask("approve? [y]es / [n]o / [e]dit arguments> "))?.trim().toLowerCase();
      if (choice === undefined || choice === "") return;
      if (choice.startsWith("y")) return await handle.decide({ requestId: request.id, approved: true });
      if (choice.startsWith("n")) {
        const reason = (await ask("reason> ")) || "rejected at the terminal";
        return await handle.decide({ requestId: request.id, approved: false, reason });
      }
      if (choice.startsWith("e")) {
        const edited = parseInput((await ask("arguments (JSON)> ")) ?? "");
        if (typeof edited !== "object" || edited === null || Array.isArray(edited)) throw new InvalidRunMessage("arguments must be a JSON object");
        return await handle.decide({ requestId: request.id, approved: true, arguments: edited as Record<string, unknown> });
      }
    } catch (error) {
      if (!(error instanceof InvalidRunMessage)) throw error;
      process.stderr.write(`not accepted: ${error.message}\n`);
    }
  }
}
