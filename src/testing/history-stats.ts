/**
 * Measures a run's history as Temporal stores it, for tests and the bench: how many events, how
 * many bytes (the server's own count, which the 50 MB limit applies to), and its payloads.
 */
import type { Client } from "@temporalio/client";
import type { temporal } from "@temporalio/proto";

export interface HistoryStats {
  events: number;
  /** The history's size in bytes, as the server counts it. */
  bytes: number;
  /** Bytes of every payload (inputs, results, update arguments and outcomes) together. */
  payloadBytes: number;
  /** The largest single payload; Temporal refuses one over 2 MB. */
  largestPayloadBytes: number;
  /** Where the largest payload sits, e.g. `activityTaskScheduledEventAttributes`. */
  largestPayloadIn?: string;
  /** The largest payload per kind of event, e.g. `{ activityTaskScheduledEventAttributes: 812 }`. */
  largestPayloadByEvent: Record<string, number>;
}

export async function historyStats(client: Client, workflowId: string, runId?: string): Promise<HistoryStats> {
  return (await measureRun(client, workflowId, runId)).stats;
}

/**
 * The stats of every run of a workflow, oldest first: from its first run, following each
 * continue-as-new to the next. Unlike a visibility query, this never lags behind.
 */
export async function runChainStats(client: Client, workflowId: string): Promise<Array<HistoryStats & { runId: string }>> {
  const latest = await client.workflow.getHandle(workflowId).describe();
  let runId: string | undefined = latest.raw.workflowExecutionInfo?.firstRunId || latest.runId;
  const runs: Array<HistoryStats & { runId: string }> = [];
  while (runId) {
    const { stats, nextRunId } = await measureRun(client, workflowId, runId);
    runs.push({ runId, ...stats });
    runId = nextRunId;
  }
  return runs;
}

async function measureRun(client: Client, workflowId: string, runId?: string): Promise<{ stats: HistoryStats; nextRunId?: string }> {
  const handle = client.workflow.getHandle(workflowId, runId);
  const [description, history] = await Promise.all([handle.describe(), historyInPages(client, workflowId, runId)]);
  const stats: HistoryStats = {
    events: description.historyLength,
    bytes: description.historySize ?? 0,
    payloadBytes: 0,
    largestPayloadBytes: 0,
    largestPayloadByEvent: {},
  };
  for (const event of history.events ?? []) {
    const attributes = Object.keys(event).find((key) => key.endsWith("EventAttributes") && event[key as keyof typeof event]);
    visitPayloads(event, (size) => {
      stats.payloadBytes += size;
      if (attributes !== undefined) stats.largestPayloadByEvent[attributes] = Math.max(stats.largestPayloadByEvent[attributes] ?? 0, size);
      if (size > stats.largestPayloadBytes) {
        stats.largestPayloadBytes = size;
        if (attributes !== undefined) stats.largestPayloadIn = attributes;
      }
    });
  }
  const nextRunId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  return nextRunId ? { stats, nextRunId } : { stats };
}

/**
 * A run's history read a few events a page: a page of whole history can pass the 4 MB a client
 * connection takes by default (grpc-js's), once a run holds big tool results.
 */
async function historyInPages(client: Client, workflowId: string, runId: string | undefined): Promise<{ events: temporal.api.history.v1.IHistoryEvent[] }> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, ...(runId !== undefined ? { runId } : {}) },
      maximumPageSize: 10,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return { events };
}

/** Calls `found` with the size of every payload (`{ metadata, data }`) inside `value`. */
function visitPayloads(value: unknown, found: (bytes: number) => void): void {
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    for (const item of value) visitPayloads(item, found);
    return;
  }
  const record = value as Record<string, unknown>;
  if (record.data instanceof Uint8Array && typeof record.metadata === "object" && record.metadata !== null) {
    const metadata = Object.values(record.metadata as Record<string, unknown>).reduce<number>(
      (sum, entry) => sum + (entry instanceof Uint8Array ? entry.length : 0),
      0,
    );
    found(record.data.length + metadata);
    return;
  }
  for (const entry of Object.values(record)) visitPayloads(entry, found);
}

