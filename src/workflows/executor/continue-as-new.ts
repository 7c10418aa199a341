/**
 * Continue-as-new on both engines. On Temporal, `continueAsNew` throws the SDK's `ContinueAsNew`,
 * which ends the run and starts a fresh one; the memory engine's executor throws
 * `ContinueAsNewRequest`, which the memory engine catches to restart the body. Code that catches
 * errors on the way out (runToEnd) must let both pass as what they are: not failures.
 * Sandbox-safe.
 */
import { ContinueAsNew } from "@temporalio/workflow";

/** The memory engine's continue-as-new: thrown by its executor, caught by its engine. */
export class ContinueAsNewRequest extends Error {
  override readonly name = "ContinueAsNewRequest";
  constructor(readonly input: unknown) {
    super("The run continues as a new run.");
  }
}

export function isContinueAsNew(error: unknown): boolean {
  return error instanceof ContinueAsNew || error instanceof ContinueAsNewRequest;
}
