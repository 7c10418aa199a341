/**
 * Registers the DuragentAgent and DuragentPhase search attributes on a namespace. Workers do it
 * at start; a client does it when a start is refused because they are missing (a fresh server,
 * or a start that races the first worker), so no order of starting things is wrong.
 */
import type { Connection } from "@temporalio/client";
import protos from "@temporalio/proto";
import { duragentSearchAttributes } from "../common/search-attributes.js";

type OperatorService = Pick<Connection["operatorService"], "listSearchAttributes" | "addSearchAttributes">;

/** Adds the ones that are missing; throws when the cluster refuses (e.g. no operator rights). */
export async function registerSearchAttributes(operator: OperatorService, namespace: string): Promise<void> {
  const existing = await operator.listSearchAttributes({ namespace });
  const missing = duragentSearchAttributes.filter((key) => !(key.name in (existing.customAttributes ?? {})));
  if (missing.length === 0) return;
  await operator.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((key) => [key.name, protos.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
}

/** The fix, for a cluster that refuses to register them. */
export const searchAttributesHint =
  "register them with `temporal operator search-attribute create --name DuragentAgent --type Keyword` (and DuragentPhase), " +
  "or set temporal.searchAttributes: false";

/** The server refused a start or an upsert because a search attribute is not registered. */
export function isUnknownSearchAttribute(error: unknown): boolean {
  // The client's ServiceError says only "Failed to start Workflow"; the server's words are its cause.
  for (let current = error; current instanceof Error; current = current.cause) {
    if (/no mapping defined for search attribute|search attribute .* is not defined/i.test(current.message)) return true;
  }
  return false;
}
