/**
 * The one refusal: a message a run will not take (an answer that does not fit, no such request,
 * an unknown update, an ended chat). The run is untouched. Run state throws it in workflow code,
 * where Temporal turns it into the update's failure; the client turns that back into this class,
 * and the memory engine passes it on as it is.
 * Sandbox-safe. It is a user error (exit code 2) by the brand `isUserError` looks for, which it
 * carries without importing src/errors (Node-only).
 */
const userErrorBrand: unique symbol = Symbol.for("duragent.UserError") as never;

export class InvalidRunMessage extends Error {
  override name = "InvalidRunMessage";
  readonly exitCode = 2;
  readonly [userErrorBrand] = true;

  constructor(
    message: string,
    /** The type of the failure the run refused with (`ApplicationFailure.type`), so callers match on it, not on its words. */
    readonly failureType?: string,
  ) {
    super(message);
  }
}

/** An answer or decision that names no request while several wait: the sender must pick one. */
export function severalPending(ids: readonly string[]): InvalidRunMessage {
  return new InvalidRunMessage(`Several requests are pending (${ids.join(", ")}); name one (\`--request <id>\` on the CLI, \`requestId\` in code and in serve's tools).`);
}
