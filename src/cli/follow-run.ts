/**
 * Follows a run until it ends: prints each step as it starts, shows a spinner while waiting, and
 * when the run waits for a person, offers to answer right there.
 */
import { createInterface, type Interface } from "node:readline";
import { progressText, type PendingRequest, type RunStatus } from "../common/run-status.js";
import { answerToQuestion } from "../client/answer-text.js";
import { parseInput } from "./command-output.js";
import { InvalidRunMessage, type RunHandle } from "../client/engine.js";
import { UserError } from "../errors/user-error.js";
import { answerHint, describePending } from "./status-text.js";
import { newRetries, ShownSteps, textEvents, textFilter, type NewSteps, type ShownText } from "../client/run-events.js";

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
  /** No one else can answer the run (the memory engine): the end of the input with a question pending fails the command. */
  answeredOnlyHere?: boolean;
}

const spinnerFrames = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

export async function followRun(handle: RunHandle, options: FollowOptions): Promise<unknown> {
  if (options.events) return printEvents(handle, options.agents);
  const shows = textFilter(options.agents);
  const err = process.stderr;
  const spinning = options.verbose && err.isTTY === true;
  const input = lineReader(err);
  let settled = false;
  const outcome = handle.result().finally(() => (settled = true));
  outcome.catch(() => undefined);
  let shownPartial: string | undefined;
  // Retries and a model call's waits for a busy provider, each told once: a batch that backs off does not look hung.
  const shownRetries = new Set<string>();
  let shownWait: string | undefined;
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
  const shownSteps = new ShownSteps();
  const printSteps = ({ run, after: shown, steps }: NewSteps) => {
    if (spinning) err.write("\r\x1b[K");
    endLine();
    const where = run ? `[${run}] ` : "";
    // More steps than a status names passed between two reads: say how many, not what they were.
    const unnamed = steps[0]!.number - shown - 1;
    if (unnamed > 0) err.write(`  ${where}${unnamed === 1 ? `step ${shown + 1}` : `steps ${shown + 1}–${steps[0]!.number - 1}`}\n`);
    for (const { number, step } of steps) err.write(`  ${where}step ${number}: ${step}\n`);
  };
  try {
    for (;;) {
      // One last read once the run has ended, so the steps it took since the previous one are shown.
      const last = settled;
      // That last read is a courtesy: a closed Temporal run answers only after a replay, so it gets little time.
      const read = handle.status();
      const status = await (last ? Promise.race([read, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2_000).unref())]) : read).catch(() => undefined);
      if (status) {
        // The run's new steps, then its child runs', each named by its child run.
        const { restarted, runs } = shownSteps.take(status);
        if (restarted) shownText.clear();
        if (options.verbose) runs.forEach(printSteps);
        // A model's answer as it streams, on a terminal: stdout keeps only the final answer. Each
        // call's text starts on its own line, named by its agent, so parallel branches stay apart.
        if (options.verbose && spinning) {
          for (const streaming of status.streaming ?? []) {
            if (!shows(streaming)) continue;
            for (const event of textEvents(streaming, shownText, status.retrying)) {
              if (event.type === "restart") {
                err.write(`\r\x1b[K${midLine ? "\n" : ""}  (${restartText(event)})\n`);
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
        for (const { step, attempt, maximumAttempts, error } of newRetries(status, shownRetries)) {
          if (!options.verbose) continue;
          if (spinning) err.write("\r\x1b[K");
          endLine();
          err.write(`  (retrying ${step}, attempt ${attempt}${maximumAttempts ? ` of ${maximumAttempts}` : ""}: ${oneLine(error)})\n`);
        }
        const wait = status.progress?.find((progress) => progress.step.startsWith("llm ") && progress.message);
        if (options.verbose && wait && wait.message !== shownWait) {
          if (spinning) err.write("\r\x1b[K");
          endLine();
          err.write(`  (${wait.step}: ${oneLine(wait.message!)})\n`);
        }
        shownWait = wait?.message;
        // What the status cannot tell, and why (a run whose code keeps failing says so here), once.
        const partial = status.partial && `${status.partial}${status.lastError ? `: ${status.lastError}` : ""}`;
        // Told again only when it says something new: "last seen 35 s ago" ages on every read.
        const news = partial?.replace(/last seen \d+ s ago/g, "last seen");
        if (options.verbose && partial && news !== shownPartial) {
          if (spinning) err.write("\r\x1b[K");
          endLine();
          err.write(`  (${partial})\n`);
        }
        shownPartial = news;
        const next = last ? undefined : status.pending.find((request) => !asked.has(request.id));
        // Not asked here (a Temporal run with piped input): say what it waits for, and how to answer.
        if (next && !options.interactive && options.verbose) {
          asked.add(next.id);
          if (spinning) err.write("\r\x1b[K");
          endLine();
          err.write(`  waiting for ${describePending(next)}\n  ${answerHint(handle.runId, next, status.pending.length > 1)}\n`);
        }
        if (next && options.interactive) {
          asked.add(next.id);
          if (spinning) err.write("\r\x1b[K");
          endLine();
          const answered = await askHere(handle, next, input, { answeredOnlyHere: options.answeredOnlyHere === true, verbose: options.verbose, until: outcome });
          // Left for later where nobody else can answer it: asked again.
          if (options.answeredOnlyHere && answered === "left for later") asked.delete(next.id);
          continue;
        }
        // Wider than the terminal, the line would wrap, and each frame print a new one.
        if (spinning && !midLine && !last) err.write(`\r${spinnerFrames[frame++ % spinnerFrames.length]} ${phaseText(status).slice(0, Math.max(10, (process.stderr.columns ?? 80) - 3))}\x1b[K`);
      }
      if (last) break;
      await Promise.race([outcome.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, options.pollMs ?? (spinning && status?.streaming?.some((text) => !text.done) ? 100 : 300)))]);
    }
  } finally {
    endLine();
    if (spinning) err.write("\r\x1b[K");
    input.close();
  }
  return outcome;
}

/**
 * While `until` is pending, asks each question or approval the run puts to a person on the
 * terminal, as `run` does (`duragent chat`: a turn may ask). `before` ends a streamed line first.
 * "input ended": the input ended with a request pending that others can answer (said, with how).
 */
export async function answerUntil(
  handle: RunHandle,
  until: Promise<unknown>,
  input: LineReader,
  options: { answeredOnlyHere: boolean; before?: () => void; pollMs?: number },
): Promise<"settled" | "input ended"> {
  let settled = false;
  const done = until.then(
    () => (settled = true),
    () => (settled = true),
  );
  const asked = new Set<string>();
  while (!settled) {
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 300))]);
    if (settled) break;
    const status = await handle.status().catch(() => undefined);
    const next = status?.pending.find((request) => !asked.has(request.id));
    if (!next || settled) continue;
    asked.add(next.id);
    options.before?.();
    const answered = await askHere(handle, next, input, { answeredOnlyHere: options.answeredOnlyHere, verbose: true, until: done });
    if (answered === "left for later" && options.answeredOnlyHere) asked.delete(next.id);
    if (answered === "input ended") {
      process.stderr.write(`  ${answerHint(handle.runId, next, (status?.pending.length ?? 0) > 1)}\n`);
      return "input ended";
    }
  }
  return "settled";
}

/**
 * Asks one request on the terminal until it is answered here or elsewhere (the prompt gives way
 * once the request is no longer pending, or `until` settles). Where only this command can answer
 * it, input that ends first fails the command.
 */
async function askHere(
  handle: RunHandle,
  request: PendingRequest,
  input: LineReader,
  options: { answeredOnlyHere: boolean; verbose: boolean; until?: Promise<unknown> },
): Promise<"answered" | "left for later" | "input ended"> {
  let asking = true;
  const ended = options.until?.then(
    () => undefined,
    () => undefined,
  );
  const gone = (async () => {
    while (asking) {
      await Promise.race([...(ended ? [ended] : []), new Promise((resolve) => setTimeout(resolve, 500))]);
      if (!asking) return;
      const status = await handle.status().catch(() => undefined);
      if (status && !status.pending.some((pending) => pending.id === request.id)) return;
    }
  })();
  const ask = async (prompt: string): Promise<string | undefined | null> => {
    const reply = await Promise.race([input.ask(prompt), gone.then(() => null)]);
    if (reply === null) input.abandon();
    return reply;
  };
  try {
    const answered = await answer(handle, request, ask, options.verbose);
    if (answered === "answered elsewhere") {
      process.stderr.write(`  (${request.id} no longer waits: answered elsewhere, or given up)\n`);
      return "answered";
    }
    if (options.answeredOnlyHere && answered === "input ended" && input.interrupted) {
      // The command's own signal handling says what an interruption leaves behind, and exits 130.
      process.kill(process.pid, "SIGINT");
      return new Promise<never>(() => {});
    }
    if (options.answeredOnlyHere && answered === "input ended") {
      throw new UserError(`Standard input ended before ${request.id} was answered, and only this command can answer this run.`, {
        hint: "Give one line per question (a JSON value where the question asks for one), or answer on a terminal without ending its input.",
      });
    }
    return answered;
  } finally {
    asking = false;
  }
}

export interface LineReader {
  /**
   * The next line of standard input after the prompt; undefined once the input has ended. On a
   * terminal, lines typed before the prompt are dropped unless `typedAhead` (the next chat message).
   */
  ask(prompt: string, typedAhead?: boolean): Promise<string | undefined>;
  /** Gives up the line being asked for: the next line typed is kept for the next ask. */
  abandon(): void;
  /** Called once the input ends: Ctrl-D, the end of piped input, or Ctrl-C on a terminal. */
  onEnd(listener: () => void): void;
  close(): void;
  /** The input ended because the person pressed Ctrl-C at a prompt. */
  readonly interrupted: boolean;
}

/**
 * Standard input a line at a time. Piped lines that arrive before they are asked for wait their
 * turn: they come all at once, and readline drops a line nobody is asking for. On a terminal,
 * what was typed before a question was shown is not its answer, so only the lines after count.
 */
export function lineReader(output: NodeJS.WritableStream): LineReader {
  const terminal = process.stdin.isTTY === true;
  let lines: Interface | undefined;
  const queued: string[] = [];
  let waiting: ((line: string | undefined) => void) | undefined;
  let ended = false;
  let interrupted = false;
  const endListeners: (() => void)[] = [];
  const open = (): Interface => {
    lines = createInterface({ input: process.stdin, output, terminal });
    lines.on("line", (line) => {
      if (!waiting) return void queued.push(line);
      const resolve = waiting;
      waiting = undefined;
      resolve(line);
    });
    // Ctrl-C at a prompt: readline takes it from the terminal and would only close; where only this
    // command can answer (a memory run), it stops the command as Ctrl-C anywhere else does.
    lines.on("SIGINT", () => {
      interrupted = true;
      lines?.close();
    });
    lines.on("close", () => {
      ended = true;
      waiting?.(undefined);
      waiting = undefined;
      for (const listener of endListeners) listener();
    });
    return lines;
  };
  return {
    ask(prompt, typedAhead = false) {
      const reader = lines ?? open();
      if (terminal && !typedAhead) queued.length = 0;
      if (ended) {
        // A closed readline refuses to prompt (Node 24: ERR_USE_AFTER_CLOSE); what is left was read already.
        if (queued.length === 0) return Promise.resolve(undefined);
        output.write(prompt);
        return Promise.resolve(queued.shift());
      }
      reader.setPrompt(prompt);
      reader.prompt();
      if (queued.length > 0) return Promise.resolve(queued.shift());
      return new Promise((resolve) => (waiting = resolve));
    },
    abandon: () => {
      waiting = undefined;
      if (!ended) output.write("\n");
    },
    onEnd: (listener) => void endListeners.push(listener),
    close: () => lines?.close(),
    get interrupted() {
      return interrupted;
    },
  };
}

/** `--events`: one JSON object per line, ending with the `end` event; the run's failure is still the exit code. */
async function printEvents(handle: RunHandle, agents: readonly string[] | undefined): Promise<unknown> {
  for await (const event of handle.events(agents ? { agents } : {})) process.stdout.write(`${JSON.stringify(event)}\n`);
  return handle.result();
}

/** A model call's attempt failed and its text starts over: which, why when known, and what comes next. */
export function restartText(event: { step: string; attempt: number; reason?: string }): string {
  const reason = event.reason ? ` (${oneLine(event.reason)})` : "";
  return `${event.step}: the attempt failed${reason}; attempt ${event.attempt} starts over`;
}

/** Kept to one line of at most 200 characters: it sits between lines of the answer. */
function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

function phaseText(status: RunStatus): string {
  if (status.phase === "waiting_input") return "waiting for an answer (`duragent answer`)";
  if (status.phase === "waiting_approval") return "waiting for approval (`duragent approve` or `duragent reject`)";
  const progress = status.progress?.at(-1);
  return progress ? `${status.phase}: ${progress.step} ${progressText(progress)}` : status.phase;
}

/** Asks until the run accepts an answer, or the person leaves it for later (an empty line), or the input ends. */
async function answer(
  handle: RunHandle,
  request: PendingRequest,
  /** null: the request no longer waits (answered elsewhere), so nothing more is asked. */
  ask: (question: string) => Promise<string | undefined | null>,
  verbose: boolean,
): Promise<"answered" | "answered elsewhere" | "left for later" | "input ended"> {
  for (;;) {
    if (verbose) process.stderr.write(`${describePending(request)}\n`);
    try {
      if (request.kind === "input") {
        // An MCP server's question may be refused as well as answered: declined (the person says
        // no) or cancelled (dismissed), which the server hears as such.
        const refusable = request.origin !== undefined;
        const reply = await ask(refusable ? "answer, /decline or /cancel> " : "answer> ");
        if (reply === null) return "answered elsewhere";
        if (reply === undefined) return "input ended";
        if (reply.trim() === "") return "left for later";
        const refusal = refusable ? /^\/(decline|cancel)$/i.exec(reply.trim())?.[1]?.toLowerCase() : undefined;
        if (refusal === "decline" || refusal === "cancel") {
          await handle.answer({ requestId: request.id, value: undefined, action: refusal });
          return "answered";
        }
        await handle.answer({ requestId: request.id, value: answerToQuestion(reply, request) });
        return "answered";
      }
      const typed = await ask("approve? [y]es / [n]o / [e]dit arguments> ");
      if (typed === null) return "answered elsewhere";
      if (typed === undefined) return "input ended";
      const choice = typed.trim().toLowerCase();
      if (choice === "") return "left for later";
      if (choice.startsWith("y")) {
        await handle.decide({ requestId: request.id, approved: true });
        return "answered";
      }
      if (choice.startsWith("n")) {
        const reason = await ask("reason> ");
        if (reason === null) return "answered elsewhere";
        await handle.decide({ requestId: request.id, approved: false, reason: reason || "rejected at the terminal" });
        return "answered";
      }
      if (choice.startsWith("e")) {
        const typedArguments = await ask("arguments (JSON)> ");
        if (typedArguments === null) return "answered elsewhere";
        if (typedArguments === undefined) return "input ended";
        const edited = parseInput(typedArguments);
        if (typeof edited !== "object" || edited === null || Array.isArray(edited)) throw new InvalidRunMessage("arguments must be a JSON object");
        await handle.decide({ requestId: request.id, approved: true, arguments: edited as Record<string, unknown> });
        return "answered";
      }
    } catch (error) {
      if (!(error instanceof InvalidRunMessage)) throw error;
      process.stderr.write(`not accepted: ${error.message}\n`);
    }
  }
}
