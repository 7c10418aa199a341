/**
 * The system's code of a failed network call (`ECONNREFUSED`, `ENOTFOUND`…), found on the
 * causes of an error: fetch puts it on its TypeError's cause, and the SDKs wrap that in turn.
 */
export function systemCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    const code = (current.cause as { code?: unknown } | undefined)?.code;
    if (typeof code === "string") return code;
  }
  return undefined;
}
