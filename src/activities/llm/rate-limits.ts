/**
 * A provider that asks to be called later (429, or overloaded, with `retry-after`) is waited for
 * within the step's attempt, up to a budget: a batch's rate-limit episode then costs time, not the
 * attempts its model calls have. And calls to that provider on this worker wait for the same
 * moment, rather than each trying on its own schedule and being refused again.
 */
import { ApplicationFailure } from "@temporalio/common";
import { msToNumber } from "@temporalio/common";
import type { LlmFailureDetails } from "./provider-errors.js";

/** The statuses by which a provider says it is busy, not broken: wait as it asks. */
const busyStatuses = new Set([429, 503, 529]);

/** How long the provider asked this failure's caller to wait, when it is busy and said so. */
export function askedToWait(failure: unknown): number | undefined {
  if (!(failure instanceof ApplicationFailure) || failure.nonRetryable || failure.nextRetryDelay == null) return undefined;
  const status = (failure.details?.[0] as LlmFailureDetails | undefined)?.status;
  return status !== undefined && busyStatuses.has(status) ? msToNumber(failure.nextRetryDelay) : undefined;
}

/** When each provider may be called again, on this worker. */
export class ProviderGate {
  private readonly closedUntil = new Map<string, number>();

  /** How long a call to `provider` must wait now; 0 when it may go. */
  waitFor(provider: string, now = Date.now()): number {
    if (this.closedUntil.size === 0) return 0;
    const until = this.closedUntil.get(provider);
    if (until === undefined) return 0;
    if (until <= now) {
      this.closedUntil.delete(provider);
      return 0;
    }
    return until - now;
  }

  /** The provider asked to be called no sooner than `until`. */
  close(provider: string, until: number): void {
    this.closedUntil.set(provider, Math.max(until, this.closedUntil.get(provider) ?? 0));
  }
}

/** What a model call's waiting for its provider is told as, in the run's status and events. */
export interface ProviderWait {
  /** This wait's length. */
  waitMs: number;
  /** The provider's refusal, as the failure would say it. */
  reason: string;
  /** The wait is over and the call is made again: what status showed of the wait is stale. */
  over?: true;
}

/** The most one attempt waits for a busy provider unless the worker's config says otherwise (`llm.rateLimitWaitMs`). */
export const defaultRateLimitWaitMs = 5 * 60_000;

/** Time kept free before the attempt's own limit: the call itself must still fit. */
const deadlineMarginMs = 30_000;

/**
 * Whether a wait of `waitMs` fits: within what is left of the budget, and ending well before the
 * attempt's limit (`deadline`, when known), which would fail it as a timeout instead.
 */
export function waitFits(waitMs: number, waitedMs: number, budgetMs: number, deadline: number | undefined, now = Date.now()): boolean {
  return waitedMs + waitMs <= budgetMs && (deadline === undefined || now + waitMs + deadlineMarginMs <= deadline);
}
