/**
 * Workflow histories as files and as text.
 *
 * Temporal's own `historyToJSON`/`historyFromJSON` (@temporalio/common/lib/proto-utils) throw
 * "type must be a Type" in this install: @temporalio/common and @temporalio/proto each carry their
 * own copy of protobufjs (the root holds v7 for gRPC), and protojson checks `instanceof` across
 * copies. The generated History class's own `toJSON`/`fromObject` use one copy and round-trip
 * exactly (int64 as strings, bytes as base64, enums by name), so files use those. A proto
 * History object is what `Worker.runReplayHistory` takes as is.
 */
import { readFileSync, writeFileSync } from "node:fs";
import protobufs from "@temporalio/proto";

export type History = protobufs.temporal.api.history.v1.History;
type HistoryInput = Parameters<typeof protobufs.temporal.api.history.v1.History.fromObject>[0];

/** Proto JSON of a history, as `temporal workflow show --output json` writes it (bytes in base64). */
export function historyJson(history: HistoryInput): Record<string, unknown> {
  return protobufs.temporal.api.history.v1.History.fromObject(history).toJSON();
}

export function saveHistory(path: string, history: HistoryInput): void {
  writeFileSync(path, `${JSON.stringify(historyJson(history), null, 2)}\n`);
}

export function loadHistory(path: string): History {
  return protobufs.temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(path, "utf8")) as HistoryInput);
}

/**
 * The whole history as searchable text, with every payload's and failure's bytes decoded from
 * base64 (`data` fields), so a secret in any payload shows up as itself.
 */
export function historyText(history: HistoryInput): string {
  const decoded: unknown = JSON.parse(JSON.stringify(historyJson(history)), (key, value: unknown) =>
    key === "data" && typeof value === "string" ? Buffer.from(value, "base64").toString("utf8") : value,
  );
  return JSON.stringify(decoded);
}
