/**
 * Temporal's activity retry semantics, for the memory engine: the same bounded policy, the same
 * non-retryable failure types, the same honouring of a failure's `nextRetryDelay`, and a
 * start-to-close timeout per attempt.
 */
import { ApplicationFailure, msToNumber } from "@temporalio/common";
import { nonRetryableFailureTypes } from "../common/failures.js";
import type { ActivitySettings } from "../common/run-settings.js";

export class AttemptTimeoutError extends Error {
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

export function retryDelayMs(settings: ActivitySettings, attempt: number, error: unknown): number {
  if (error instanceof ApplicationFailure && error.nextRetryDelay != null) return msToNumber(error.nextRetryDelay);
  const { initialIntervalMs, backoffCoefficient, maximumIntervalMs } = settings.retry;
  return Math.min(initialIntervalMs * backoffCoefficient ** (attempt - 1), maximumIntervalMs);
}

async function withTimeout<T>(attempt: (signal: AbortSignal) => Promise<T>, timeoutMs: number): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new AttemptTimeoutError(timeoutMs));
    }, timeoutMs);
  });
  try {
    return await Promise.race([attempt(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runWithRetry<T>(
  settings: ActivitySettings,
  attempt: (signal: AbortSignal) => Promise<T>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<T> {
  for (let number = 1; ; number++) {
    try {
      return await withTimeout(attempt, settings.startToCloseTimeoutMs);
    } catch (error) {
      if (!isRetryable(error) || number >= settings.retry.maximumAttempts) throw error;
      await sleep(retryDelayMs(settings, number, error));
    }
  }
}
