/**
 * A run's events as an async iterator, the same on both engines: steps as they start, a model's
 * answer text as it streams, a restart marker when a streaming step's attempt failed and began
 * again, a tool's progress as its server reports it, tool calls and their results, questions and approvals as they open, and the end. Built on `status()`, which on the
 * memory engine reads the run in this process and on Temporal reads the status query and the
 * pending activities' heartbeats, so a watcher that joins late starts with the current step's
 * text so far and never sees two attempts mixed. Watching never touches the run.
 */
import type { PendingRequest, RunPhase, RunStatus } from "../common/run-status.js";

type ToolCallSeen = NonNullable<RunStatus["toolCalls"]>[number];
import type { StepProgress, StepText } from "../common/server-requests.js";

export type RunEvent =
  /** A step of the run, or, with `run`, of one of its child runs (a nested pattern), named by its id within the run. */
  | { type: "step"; number: number; step: string; run?: string }
  /**
   * Text a model call streamed: `delta` begins at `offset` in its attempt's text (`attempt`), so a
   * watcher that reconnects (a browser's `Last-Event-ID`) skips what it has; one that joins late
   * gets the text so far as one delta.
   */
  | { type: "text"; id: string; step: string; agent?: string; delta: string; offset: number; attempt: number }
  /** The streaming step's attempt failed; its text starts again with `attempt`. */
  | { type: "restart"; id: string; step: string; agent?: string; attempt: number; /** Why the last attempt failed, when the run's status says. */ reason?: string }
  /**
   * A tool call's server reported progress (MCP `notifications/progress`); its latest report when
   * several came between two reads. A model call's progress says it waits for a busy provider.
   */
  | ({ type: "progress" } & StepProgress)
  /** The step in flight failed an attempt and is tried again: `attempt` is the next, `error` why the last failed. Told once per attempt. */
  | ({ type: "retry" } & NonNullable<RunStatus["retrying"]>)
  /** A tool call the model made (an MCP tool as `<server>_<tool>`, a local one by its name), its arguments cut to a few hundred characters; told before its result. */
  | ({ type: "tool_call" } & Omit<ToolCallSeen, "result" | "isError">)
  /** What the tool call gave the model, cut likewise. */
  | { type: "tool_result"; number: number; id: string; tool: string; agent?: string; result: string; isError?: boolean }
  | { type: "request"; request: PendingRequest }
  /** A request is open no more: answered, approved, rejected, timed out, or withdrawn (its run cancelled). One opened and settled between two reads comes as `request`, then this. */
  | { type: "settled"; id: string; kind: PendingRequest["kind"] }
  /**
   * The run's status could not be read whole (on Temporal, no worker answered: none runs, or they
   * are busy), so steps, text and questions wait; `reason` says why. Told again only when the
   * reason changes; `reason` undefined tells that the status reads whole again.
   */
  | { type: "partial"; reason?: string }
  | { type: "end"; phase: RunPhase; result?: unknown; error?: string };

export interface RunEventSource {
  status(): Promise<RunStatus>;
  result(): Promise<unknown>;
}

export async function* runEvents(run: RunEventSource, options: { pollMs: number; signal?: AbortSignal; agents?: readonly string[] }): AsyncGenerator<RunEvent> {
  const shows = textFilter(options.agents);
  let ended: { result?: unknown; error?: unknown } | undefined;
  // Ends the wait between two reads early: the run ended, or the watcher was stopped. The wait's
  // timer goes with it, so a long `pollMs` keeps no process alive after the run.
  let wake: (() => void) | undefined;
  void run.result().then(
    (result) => ((ended = { result }), wake?.()),
    (error: unknown) => ((ended = { error }), wake?.()),
  );
  const onAbort = () => wake?.();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    yield* watch();
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }

  async function* watch(): AsyncGenerator<RunEvent> {
    const steps = new ShownSteps();
    const seenRequests = new Set<string>();
    let firstRead = true;
    // Open requests, and whether the last read lacked each.
    const openRequests = new Map<string, { kind: PendingRequest["kind"]; missed: number }>();
    const shown: ShownText = new Map();
    const shownProgress = new Map<string, string>();
    // Tool calls told, by their number in the run; a status keeps only the latest few.
    const calledTools = new Set<number>();
    const answeredTools = new Set<number>();
    let partial: string | undefined;
    const retried = new Set<string>();
    for (;;) {
      const done = ended;
      // The last look gives the end of the text: worth a second try.
      const status = (await run.status().catch(() => undefined)) ?? (done ? await run.status().catch(() => undefined) : undefined);
      // The reason's figures (a worker last seen so many seconds ago) change on every read; its words do not.
      if (status && partialKey(status.partial) !== partialKey(partial)) {
        partial = status.partial;
        yield partial === undefined ? { type: "partial" } : { type: "partial", reason: partial };
      }
      if (status) {
        // A request told open at the last read and settled since was settled before the steps
        // this read shows (the run waited on it): told first, so a UI takes its prompt down first.
        for (const request of status.settled ?? []) {
          if (!openRequests.delete(request.id)) continue;
          yield { type: "settled", id: request.id, kind: request.kind };
        }
        const { restarted, runs } = steps.take(status);
        if (restarted) shown.clear(), shownProgress.clear();
        for (const { run, steps: taken } of runs) for (const step of taken) yield { type: "step", ...step, ...(run ? { run } : {}) };
        for (const retry of newRetries(status, retried)) yield { type: "retry", ...retry };
        for (const streaming of status.streaming ?? []) if (shows(streaming)) yield* textEvents(streaming, shown, status.retrying);
        // Only calls in flight report: an ended call's entry goes, so the map stays as small as they.
        const reporting = new Set<string>();
        for (const progress of status.progress ?? []) {
          reporting.add(progress.callId);
          const key = JSON.stringify(progress);
          if (shownProgress.get(progress.callId) === key) continue;
          shownProgress.set(progress.callId, key);
          yield { type: "progress", ...progress };
        }
        for (const callId of shownProgress.keys()) if (!reporting.has(callId)) shownProgress.delete(callId);
        for (const call of status.toolCalls ?? []) {
          const { result, isError, ...made } = call;
          if (!calledTools.has(call.number)) {
            calledTools.add(call.number);
            yield { type: "tool_call", ...made };
          }
          if (result === undefined || answeredTools.has(call.number)) continue;
          answeredTools.add(call.number);
          yield { type: "tool_result", number: call.number, id: call.id, tool: call.tool, ...(call.agent !== undefined ? { agent: call.agent } : {}), result, ...(isError ? { isError } : {}) };
        }
        // Settled before new ones open: the run took the answer, then asked again. A request opened
        // and settled between two reads is told as both; those settled before the first read are past.
        for (const request of status.settled ?? []) {
          if (!seenRequests.has(request.id)) {
            seenRequests.add(request.id);
            if (firstRead) continue;
            yield { type: "request", request };
          } else if (!openRequests.delete(request.id)) continue;
          yield { type: "settled", id: request.id, kind: request.kind };
        }
        firstRead = false;
        const present = new Set(status.pending.map((request) => request.id));
        for (const [id, open] of openRequests) {
          if (present.has(id)) continue;
          // A child run's requests (`<child>/<id>`) are missing from a read that could not reach it: settled on the next read.
          if (id.includes("/") && open.missed === 0 && !done) open.missed = 1;
          else {
            openRequests.delete(id);
            yield { type: "settled", id, kind: open.kind };
          }
        }
        for (const request of status.pending) {
          openRequests.set(request.id, { kind: request.kind, missed: 0 });
          if (seenRequests.has(request.id)) continue;
          seenRequests.add(request.id);
          yield { type: "request", request };
        }
      }
      if (done) {
        const error = done.error;
        if (error === undefined) yield { type: "end", phase: "completed", result: done.result };
        else {
          // Only the run's own end is an end event; the client losing its way to the run (closed,
          // Temporal gone) is not the run failing, and is thrown as it is.
          const phase = (error as { phase?: RunPhase }).phase;
          if (phase === undefined) throw error;
          yield { type: "end", phase, error: error instanceof Error ? error.message : String(error) };
        }
        return;
      }
      if (options.signal?.aborted) return;
      if (ended) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => wake?.(), options.pollMs);
        wake = () => {
          wake = undefined;
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}

/**
 * The status's retries not told yet, each once however many reads show it; `told` keeps the ones
 * the status still shows. A status from before `retries` has its one `retrying`.
 */
export function newRetries(status: RunStatus, told: Set<string>): NonNullable<RunStatus["retrying"]>[] {
  const retries = status.retries ?? (status.retrying ? [{ id: `${status.retrying.step}#${status.retrying.attempt}`, ...status.retrying }] : []);
  const shown = new Set(retries.map((retry) => retry.id));
  for (const id of told) if (!shown.has(id)) told.delete(id);
  return retries.flatMap(({ id, ...retry }) => (told.has(id) ? [] : (told.add(id), [retry])));
}

/** Steps of one run (`run`: a child run's id within the run) taken after step `after`. */
export interface NewSteps {
  run?: string;
  after: number;
  steps: { number: number; step: string }[];
}

/**
 * What a watcher has shown of a run's steps and its child runs': the last step number of each.
 * `take` gives the steps a status shows beyond those, the run's own first, then each child run's.
 */
export class ShownSteps {
  private own = 0;
  private readonly children = new Map<string, number>();

  take(status: RunStatus): { restarted: boolean; runs: NewSteps[] } {
    // A run that continued as new counts its steps and model calls from the start again.
    const restarted = status.stepCount < this.own && !status.partial;
    if (restarted) this.own = 0;
    const runs: NewSteps[] = [{ after: this.own, steps: stepsSince(status, this.own) }];
    if (runs[0]!.steps.length > 0) this.own = status.stepCount;
    for (const child of status.childSteps ?? []) {
      const after = this.children.get(child.run) ?? 0;
      runs.push({ run: child.run, after, steps: stepsSince(child, after) });
      this.children.set(child.run, Math.max(child.stepCount, after));
    }
    return { restarted, runs: runs.filter((run) => run.steps.length > 0) };
  }
}

/** What a status tells of a run's steps, or of a child run's (`childSteps`). */
interface StepLabels {
  stepCount: number;
  recentSteps?: string[];
  currentStep?: string;
}

/**
 * The steps a status shows that began after step `shown`, each with its number: every one its
 * `recentSteps` still names, and the current one in any case.
 */
function stepsSince(status: StepLabels, shown: number): { number: number; step: string }[] {
  const recent = status.recentSteps ?? (status.currentStep ? [status.currentStep] : []);
  if (status.stepCount <= shown || recent.length === 0) return [];
  const first = status.stepCount - recent.length + 1;
  return recent.flatMap((step, index) => (first + index > shown ? [{ number: first + index, step }] : []));
}

function partialKey(reason: string | undefined): string | undefined {
  return reason?.replace(/\d+(\.\d+)?/g, "#");
}

/** Whether a model call's text is wanted: every call's, or only the named agents'. */
export function textFilter(agents: readonly string[] | undefined): (text: StepText) => boolean {
  if (!agents || agents.length === 0) return () => true;
  return (text) => text.agent !== undefined && agents.includes(text.agent);
}

/** What a watcher has shown of each model call: the attempt, the text, and whether it is final. */
export type ShownText = Map<string, { attempt: number; text: string; done?: boolean }>;

/** The text and restart events a model call's latest streamed state adds to what was shown. */
export function* textEvents(streaming: StepText, shown: ShownText, retrying?: RunStatus["retrying"]): Generator<RunEvent> {
  const { id, step, agent } = streaming;
  const labels = { id, step, ...(agent ? { agent } : {}) };
  // The run says why its step's last attempt failed while the step is retried.
  const reason = retrying?.step === step ? { reason: retrying.error } : {};
  const seen = shown.get(id);
  if (seen?.done) return;
  if (streaming.done) {
    // The recorded answer: the rest of what was shown, or, when a later attempt replaced it, all of
    // it. Its text is the answer's last part only, starting at `from` in the whole.
    const final = streaming.text;
    const before = seen?.text ?? "";
    const from = streaming.length - final.length;
    const overlap = before.length - from;
    const continues = before.length <= streaming.length && (overlap <= 0 || final.startsWith(before.slice(from)));
    // A recorded answer does not say its attempt (0): it is the one shown, or the next.
    if (continues) {
      const rest = overlap > 0 ? final.slice(overlap) : final;
      if (rest) yield { type: "text", ...labels, delta: rest, offset: streaming.length - rest.length, attempt: Math.max(streaming.attempt, seen?.attempt ?? 1) };
    } else {
      const attempt = Math.max(streaming.attempt, (seen?.attempt ?? 1) + 1);
      yield { type: "restart", ...labels, attempt, ...reason };
      if (final) yield { type: "text", ...labels, delta: final, offset: streaming.length - final.length, attempt };
    }
    shown.set(id, { attempt: streaming.attempt, text: final, done: true });
    return;
  }
  if (seen && streaming.attempt < seen.attempt) return;
  const restarted = seen !== undefined && streaming.attempt > seen.attempt;
  if (restarted) yield { type: "restart", ...labels, attempt: streaming.attempt, ...reason };
  const before = seen && !restarted ? seen.text : "";
  const fresh = streaming.length - before.length;
  let delta = "";
  if (fresh > 0) {
    // The text holds the last part only: a watcher that fell far behind gets what is left.
    delta = streaming.text.slice(Math.max(0, streaming.text.length - fresh));
    yield { type: "text", ...labels, delta, offset: streaming.length - delta.length, attempt: streaming.attempt };
  }
  shown.set(id, { attempt: streaming.attempt, text: before + delta });
}
