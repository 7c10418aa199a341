/**
 * Temporal's activity retry semantics, for the memory engine: the same bounded policy, the same
 * non-retryable failure types, the same honouring of a failure's `nextRetryDelay`, and a
 * start-to-close timeout per attempt.
 */
import { ApplicationFailure, CancelledFailure, msToNumber } from "@temporalio/common";
import { markLastAttempt, nonRetryableFailureTypes } from "../../common/failures.js";
import type { ActivitySettings } from "../../common/run-settings.js";
import { callAsync } from "../../common/call-async.js";

class AttemptTimeoutError extends Error {
  override readonly name = "AttemptTimeoutError";
  constructor(readonly timeoutMs: number) {
    super(`The step did not finish within its start-to-close timeout of ${timeoutMs} ms.`);
  }
}

function isRetryable(error: unknown): boolean {
  if (error instanceof ApplicationFailure) {
    return !error.nonRetryable && !nonRetryableFailureTypes.includes(error.type ?? "");
  }
  return true;
}

function retryDelayMs(settings: ActivitySettings, attempt: number, error: unknown): number {
  if (error instanceof ApplicationFailure && error.nextRetryDelay != null) return msToNumber(error.nextRetryDelay);
  const { initialIntervalMs, backoffCoefficient, maximumIntervalMs } = settings.retry;
  return Math.min(initialIntervalMs * backoffCoefficient ** (attempt - 1), maximumIntervalMs);
}

/** What a step, a wait or a child run ends with when its run (or its fan-out) is cancelled, as Temporal's do. */
export const cancelledFailure = (): CancelledFailure => new CancelledFailure("the run was cancelled");

/**
 * How a run's cancellation reaches its attempts: a listener per attempt, kept in a plain set
 * rather than on an AbortSignal, whose listeners cost far more on every step.
 */
export interface Cancellation {
  readonly cancelled: boolean;
  /** Calls `listener` when the run is cancelled; returns the unsubscribe. */
  subscribe(listener: () => void): () => void;
}

/**
 * A run's cancellation, as the memory executor keeps it. The listeners are an array: each step
 * subscribes and unsubscribes once, and a Set emptied by a delete rebuilds its table every time.
 */
export class CancellationScope implements Cancellation {
  cancelled = false;
  private readonly listeners: (() => void)[] = [];
  /** The run's own scope, which this one is part of: itself for a run's. */
  readonly run: CancellationScope;
  private readonly leaveOuter: (() => void) | undefined;

  /** A scope inside `outer` is cancelled with it, and on its own. */
  constructor(outer?: CancellationScope) {
    this.run = outer?.run ?? this;
    this.cancelled = outer?.cancelled ?? false;
    this.leaveOuter = this.cancelled ? undefined : outer?.subscribe(() => this.cancel());
  }

  /** Set once what ran in it has ended: work it left behind is the run's again (see `MemoryExecutor.scope`). */
  closed = false;

  /** Stops following the outer scope, once what ran in this one has ended. */
  close(): void {
    this.closed = true;
    this.leaveOuter?.();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.lastIndexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  /** Cancels once; false when it already was. */
  cancel(): boolean {
    if (this.cancelled) return false;
    this.cancelled = true;
    for (const listener of this.listeners.splice(0)) listener();
    return true;
  }
}

/**
 * One attempt, ended early by its timeout or by the run's cancellation. One promise settled by
 * whichever comes first, rather than a race of two: it runs on every step.
 */
function attemptOnce<T>(attempt: (signal: AbortSignal) => Promise<T>, timeoutMs: number, cancel?: Cancellation): Promise<T> {
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      unsubscribe?.();
      return true;
    };
    const timer = setTimeout(() => {
      if (!settle()) return;
      controller.abort();
      reject(new AttemptTimeoutError(timeoutMs));
    }, timeoutMs);
    const onCancel = () => {
      if (!settle()) return;
      const failure = cancelledFailure();
      controller.abort(failure);
      reject(failure);
    };
    let unsubscribe: (() => void) | undefined;
    if (cancel?.cancelled) return onCancel();
    unsubscribe = cancel?.subscribe(onCancel);
    callAsync(() => attempt(controller.signal)).then(
      (value) => settle() && resolve(value),
      (error: unknown) => settle() && reject(error),
    );
  });
}

/** The wait before a retry, which a cancellation ends at once, as Temporal ends an activity's. */
function backoff(ms: number, cancel?: Cancellation): Promise<void> {
  return new Promise((resolve, reject) => {
    if (cancel?.cancelled) return reject(cancelledFailure());
    const timer = setTimeout(() => {
      unsubscribe?.();
      resolve();
    }, ms);
    const unsubscribe = cancel?.subscribe(() => {
      clearTimeout(timer);
      reject(cancelledFailure());
    });
  });
}

/** Attempts until one succeeds or the policy gives up. A first attempt that succeeds costs one promise. */
export function runWithRetry<T>(
  settings: ActivitySettings,
  attempt: (signal: AbortSignal) => Promise<T>,
  cancel?: Cancellation,
  /** Told before each retry: the attempt about to run and why the last one failed. */
  onRetry?: (attempt: number, error: unknown) => void,
): Promise<T> {
  const from = (number: number): Promise<T> =>
    attemptOnce(attempt, settings.startToCloseTimeoutMs, cancel).then(undefined, (error: unknown) => {
      if (error instanceof CancelledFailure || !isRetryable(error)) throw error;
      if (number >= settings.retry.maximumAttempts) throw markLastAttempt(error);
      onRetry?.(number + 1, error);
      return backoff(retryDelayMs(settings, number, error), cancel).then(() => from(number + 1));
    });
  return from(1);
}
