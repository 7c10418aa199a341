/**
 * A concurrency limit for workflow code. It holds no timers and no clocks: waiters are released
 * in FIFO order as earlier tasks settle, and tasks settle in the order Temporal's history
 * records, so a replay takes exactly the same path.
 */
import { invalidPattern } from "./pattern-base.js";

export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw invalidPattern(`A concurrency limit must be a positive integer, got ${limit}.`);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so `active` never overshoots the limit.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** Maps `items` through `task` with at most `limit` running at once; results keep input order. */
export function mapWithLimit<I, O>(items: readonly I[], limit: number | undefined, task: (item: I, index: number) => Promise<O>): Promise<O[]> {
  const semaphore = new Semaphore(limit ?? Math.max(1, items.length));
  return Promise.all(items.map((item, index) => semaphore.run(() => task(item, index))));
}

/** Like `mapWithLimit`, but waits for every task and reports each outcome. */
export function settleWithLimit<I, O>(
  items: readonly I[],
  limit: number | undefined,
  task: (item: I, index: number) => Promise<O>,
): Promise<PromiseSettledResult<O>[]> {
  const semaphore = new Semaphore(limit ?? Math.max(1, items.length));
  return Promise.allSettled(items.map((item, index) => semaphore.run(() => task(item, index))));
}
