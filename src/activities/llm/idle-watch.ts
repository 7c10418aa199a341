/**
 * A model call that goes quiet fails its attempt; one that keeps sending is never cut. The call's
 * whole length is bounded by the step's start-to-close timeout; this bounds its silences: the wait
 * for the answer to begin, and each gap between a stream's events.
 */
import { AnswerStalled } from "./provider-errors.js";

export class IdleWatch {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly forwardAbort: (() => void) | undefined;

  constructor(
    provider: string,
    readonly idleMs: number,
    private readonly outer?: AbortSignal,
  ) {
    // Aborting with the error itself lets the SDK's abort surface as what it was.
    this.timer = setTimeout(() => this.controller.abort(new AnswerStalled(provider, idleMs)), idleMs);
    if (outer) {
      if (outer.aborted) this.controller.abort(outer.reason);
      else {
        this.forwardAbort = () => this.controller.abort(outer.reason);
        outer.addEventListener("abort", this.forwardAbort, { once: true });
      }
    }
  }

  /** What the request listens to: the caller's cancellation, or the silence running out. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Something arrived: the silence starts again. */
  touch(): void {
    this.timer.refresh();
  }

  /** The silence ran out, with the error that says so, rather than the SDK's abort. */
  stalled(): AnswerStalled | undefined {
    const reason: unknown = this.controller.signal.reason;
    return reason instanceof AnswerStalled && !this.outer?.aborted ? reason : undefined;
  }

  stop(): void {
    clearTimeout(this.timer);
    if (this.forwardAbort) this.outer?.removeEventListener("abort", this.forwardAbort);
  }
}
