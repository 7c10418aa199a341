/**
 * Waits on a run for an MCP caller: polls its status (cheap on both engines), reports new steps as
 * progress and as log messages (with its retries, failure and its MCP servers' own log messages),
 * puts the run's questions to a caller that can be asked mid-call (elicitation requests, MCP 2025)
 * and stops at the deadline or as soon as the run needs something only the caller can give (a
 * 2026-07-28 caller is then asked in the call's result, see mcp-server.ts). The run itself never
 * depends on this wait: it keeps going (durably, on Temporal) whatever the caller does.
 */
import type { ElicitRequestFormParams, ElicitRequestURLParams, ElicitResult } from "@modelcontextprotocol/server";
import { hasEnded, progressText, type QuestionRequest, type PendingRequest, type RunStatus } from "../common/run-status.js";
import type { McpLogLevel } from "../common/server-requests.js";
import { InvalidRunMessage, type RunHandle } from "../client/engine.js";
import { elicitationForm, type ElicitationForm } from "./elicitation-form.js";

export interface WaitOptions {
  /** When to stop waiting, in ms since the epoch. */
  deadline: number;
  /** Aborted when the caller cancels its request, or its connection goes. */
  signal: AbortSignal;
  /**
   * Told of each new step, each progress report of a tool call in flight, and a streaming model
   * answer's text so far; `progress` counts the reports, since MCP wants it to grow with every one.
   * Absent when the caller asked for no progress.
   */
  onProgress?: (progress: number, message: string) => Promise<void>;
  /** Asks the caller through MCP elicitation; absent when the caller's client cannot be asked. */
  elicit?: CallerElicitation;
  /**
   * Told what the run does, as MCP log messages: each new step (info), a step being retried
   * (warning), the run failing (error), and its MCP servers' log messages at their own level. The
   * caller filters them by the level its client set.
   */
  onLog?: (message: RunLogMessage) => Promise<void>;
  /** First poll interval; it grows to `maxPollMs` while nothing changes. */
  minPollMs?: number;
  maxPollMs?: number;
}

/** An MCP `notifications/message`, as the run's caller receives it. */
export interface RunLogMessage {
  level: McpLogLevel;
  logger: string;
  data: unknown;
}

export interface CallerElicitation {
  /** The elicitation modes the caller's client declared. */
  form: boolean;
  url: boolean;
  /** `signal` withdraws the question (the SDK tells the client the request is cancelled). */
  ask(params: ElicitRequestFormParams | ElicitRequestURLParams, timeoutMs: number, signal: AbortSignal): Promise<ElicitResult>;
}

export type WaitOutcome =
  | { kind: "completed"; status: RunStatus; result: unknown }
  | { kind: "failed" | "cancelled"; status: RunStatus; error: unknown }
  /** The run goes on, but this wait ended: at the deadline, or on a request the caller must answer. */
  | { kind: "waiting"; status: RunStatus; reason: "timeout" | "input" | "approval"; detail?: string };

/** Answers refused in a row before the caller is sent to `run_input`. */
const maxElicitAttempts = 3;

export async function waitForRun(handle: RunHandle, options: WaitOptions): Promise<WaitOutcome> {
  const minPollMs = options.minPollMs ?? 100;
  const maxPollMs = options.maxPollMs ?? 1_000;
  let pollMs = minPollMs;
  let reported = "";
  let reports = 0;
  const log = options.onLog && runLog(handle.runId, options.onLog);
  for (;;) {
    options.signal.throwIfAborted();
    const status = await handle.status();
    await log?.(status);
    const report = progressReport(status);
    // An ended run's last step is told too: a run quicker than the polls still shows where it went.
    if (hasEnded(status.phase)) {
      if (status.stepCount > 0 && report !== reported) await options.onProgress?.(++reports, report).catch(() => undefined);
      return settle(handle, status);
    }
    if (status.stepCount > 0 && report !== reported) {
      reported = report;
      pollMs = minPollMs;
      // Progress is a courtesy: a caller that went away must not fail the wait.
      await options.onProgress?.(++reports, report).catch(() => undefined);
    }
    const input = status.pending.find((request): request is QuestionRequest => request.kind === "input");
    if (input) {
      const mode = input.url === undefined ? "form" : "url";
      if (!options.elicit?.[mode]) return { kind: "waiting", status, reason: "input" };
      const asked = await askCaller(handle, input, options.elicit, options);
      if (!asked.answered) {
        // The run may have ended meanwhile (its question answered elsewhere, or it was cancelled).
        const now = await handle.status();
        if (hasEnded(now.phase)) return settle(handle, now);
        return { kind: "waiting", status: now, reason: "input", detail: asked.detail };
      }
      pollMs = minPollMs;
      continue;
    }
    // Only the caller (or someone it tells) can approve, so holding its request open helps nobody.
    if (status.pending.some((request: PendingRequest) => request.kind === "approval")) {
      return { kind: "waiting", status, reason: "approval" };
    }
    const left = options.deadline - Date.now();
    if (left <= 0) return { kind: "waiting", status, reason: "timeout" };
    await sleep(Math.min(pollMs, left), options.signal);
    pollMs = Math.min(Math.round(pollMs * 1.5), maxPollMs);
  }
}

/**
 * What is new in a run's status since the last look, told as log messages. Like progress, a
 * courtesy: a caller that went away must not fail the wait.
 */
function runLog(runId: string, send: (message: RunLogMessage) => Promise<void>): (status: RunStatus) => Promise<void> {
  let step = "";
  let retry = "";
  const seen = new Set<string>();
  return async (status) => {
    const messages: RunLogMessage[] = [];
    const own = (level: McpLogLevel, text: string) => messages.push({ level, logger: "duragent", data: `run ${runId}: ${text}` });
    const current = status.stepCount > 0 ? `step ${status.stepCount}: ${status.currentStep ?? "started"}` : "";
    if (current && current !== step) own("info", current);
    step = current;
    const retrying = status.retrying ? `${status.retrying.step}#${status.retrying.attempt}` : "";
    if (status.retrying && retrying !== retry) {
      const { attempt, maximumAttempts, error } = status.retrying;
      own("warning", `${status.retrying.step} failed (attempt ${attempt - 1}${maximumAttempts ? ` of ${maximumAttempts}` : ""}); retrying: ${error}`);
    }
    retry = retrying;
    for (const entry of status.logs ?? []) {
      if (seen.has(entry.id)) continue;
      seen.add(entry.id);
      messages.push({ level: entry.level, logger: entry.logger ? `${entry.server}/${entry.logger}` : entry.server, data: entry.data });
    }
    if (status.phase === "failed") own("error", `failed${status.failedStep ? ` in ${status.failedStep}` : ""}: ${status.lastError ?? "see run_status"}`);
    for (const message of messages) await send(message).catch(() => undefined);
  };
}

/**
 * `step 3: tool everything/slow-op (2/5 copying)`: the step, and any progress its tool call
 * reports; while a model's answer streams, `step 2: llm openai:gpt-4.1 (writer): Porto has…`, the
 * text so far (its last 32 KiB, after `…`, when it is longer).
 */
function progressReport(status: RunStatus): string {
  const step = status.currentStep ? `step ${status.stepCount}: ${status.currentStep}` : `step ${status.stepCount}`;
  const live = status.streaming?.findLast((text) => !text.done && text.length > 0);
  // The step's label names its agent already (`llm openai:gpt-4.1 (writer)`).
  if (live) return `${step}: ${live.length > live.text.length ? "…" : ""}${live.text}`;
  const calls = (status.progress ?? []).map((call) => `${call.step} ${progressText(call)}`);
  return calls.length > 0 ? `${step} (${calls.join("; ")})` : step;
}

async function settle(handle: RunHandle, status: RunStatus): Promise<WaitOutcome> {
  try {
    const result = await handle.result();
    return { kind: "completed", status, result };
  } catch (error) {
    return { kind: status.phase === "cancelled" ? "cancelled" : "failed", status, error };
  }
}

type Asked = { answered: true } | { answered: false; detail: string };

async function askCaller(
  handle: RunHandle,
  request: QuestionRequest,
  elicit: CallerElicitation,
  options: WaitOptions,
): Promise<Asked> {
  let note: string | undefined;
  for (let attempt = 1; attempt <= maxElicitAttempts; attempt++) {
    const withdraw = new AbortController();
    const form = elicitationForm(request, `${handle.runId}/${request.id}`, note);
    if (!form) return { answered: false, detail: "Its answer schema is too rich for an MCP form." };
    const left = options.deadline - Date.now();
    if (left <= 0) return { answered: false, detail: "The wait ended before the question was put to you." };
    let reply: ElicitResult | "settled elsewhere";
    try {
      reply = await askWhileOpen(handle, request, () => elicit.ask(form.params, left, withdraw.signal), withdraw, options);
    } catch (error) {
      options.signal.throwIfAborted();
      if (Date.now() >= options.deadline) return { answered: false, detail: `The wait ended before you answered ${request.id}; answer it with run_input.` };
      return { answered: false, detail: `Asking you failed (${error instanceof Error ? error.message : String(error)}).` };
    }
    // Answered by someone else (the CLI, another caller's run_input), or the run ended: the wait goes on from the run's state.
    if (reply === "settled elsewhere") return { answered: true };
    const taken = await takeReply(handle, request, form, reply);
    if (taken.kind === "answered") return { answered: true };
    if (taken.kind === "open") return { answered: false, detail: taken.detail };
    note = taken.note;
  }
  return { answered: false, detail: `${maxElicitAttempts} answers in a row were refused. ${note ?? ""}`.trim() };
}

/**
 * The caller's reply, or `settled elsewhere` once the question is no longer the run's to ask
 * (answered through the CLI or another caller, or the run ended); the question is then withdrawn.
 */
async function askWhileOpen(
  handle: RunHandle,
  request: QuestionRequest,
  ask: () => Promise<ElicitResult>,
  withdraw: AbortController,
  options: WaitOptions,
): Promise<ElicitResult | "settled elsewhere"> {
  const settled = Symbol("settled");
  const watching = (async () => {
    for (let pollMs = options.minPollMs ?? 100; !withdraw.signal.aborted; pollMs = Math.min(Math.round(pollMs * 1.5), options.maxPollMs ?? 1_000)) {
      await sleep(pollMs, withdraw.signal).catch(() => undefined);
      if (withdraw.signal.aborted) return undefined;
      const status = await handle.status().catch(() => undefined);
      // A partial status (a busy worker, a failing task) does not know the run's questions: only the run's own word settles it.
      if (status && !status.partial && (hasEnded(status.phase) || !status.pending.some((pending) => pending.id === request.id))) return settled;
    }
    return undefined;
  })();
  try {
    const first = await Promise.race([ask(), watching.then((value) => (value === settled ? value : new Promise<never>(() => {})))]);
    return first === settled ? "settled elsewhere" : first;
  } finally {
    withdraw.abort();
  }
}

/** What came of the caller's reply to one of the run's questions. */
export type TakenReply =
  | { kind: "answered" }
  /** The question stays open (the caller declined it, or accepted without an answer). */
  | { kind: "open"; detail: string }
  /** The run refused the answer; ask again with this note. */
  | { kind: "refused"; note: string };

/** Gives the run the caller's reply to its question, however it was put (elicitation request or `input_required` result). */
export async function takeReply(handle: RunHandle, request: QuestionRequest, form: ElicitationForm, reply: ElicitResult): Promise<TakenReply> {
  const action = reply.action;
  // An MCP server of the run asked: it hears the caller's decline or cancel, as if asked directly.
  // The run's own questions must be answered, so they stay open instead.
  if (action !== "accept" && !request.origin) {
    return { kind: "open", detail: `You ${action === "decline" ? "declined" : "cancelled"} the question; it is still open.` };
  }
  if (action === "accept" && !reply.content && form.params.mode !== "url") {
    return { kind: "open", detail: "Your client accepted the question without an answer; it is still open." };
  }
  try {
    const value = action === "accept" ? form.toAnswer(reply.content ?? {}) : undefined;
    await handle.answer({ requestId: request.id, value, ...(request.origin ? { action } : {}) });
    return { kind: "answered" };
  } catch (error) {
    if (!(error instanceof InvalidRunMessage)) throw error;
    // Someone else may have answered meanwhile, or the question timed out: then there is nothing to retry.
    const now = await handle.status();
    if (!now.pending.some((pending) => pending.id === request.id)) return { kind: "answered" };
    return { kind: "refused", note: `Your previous answer was refused: ${error.message}` };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done() {
      signal.removeEventListener("abort", aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener("abort", aborted, { once: true });
  });
}
