/**
 * Resolves a model call's transcript reference (see `TranscriptReference` in src/common/llm.ts)
 * on the worker, before the provider sees the request.
 *
 * The messages live in the calling workflow run's state, so the resolver asks that run by a query
 * (`duragent.worker.transcriptSlice`, `duragent.worker.llmSetup`) through the worker's own client. Queries are
 * not recorded in history, which is the point. A run's transcript only grows and its setups never
 * change, so what was fetched once stays true: an LRU cache keeps each recent run's known prefix
 * and setups, and a later call fetches only the messages added since (usually the last turn's),
 * or nothing at all when an attempt is retried. A query answer is capped at 2 MB, so a long
 * transcript comes in pages.
 */
import { Context } from "@temporalio/activity";
import { ApplicationFailure } from "@temporalio/common";
import type { WorkflowHandle } from "@temporalio/client";
import { z } from "zod";
import { LlmSetupSchema, type LlmRequest, type LlmSetup } from "../../common/llm.js";
import { MessageSchema, type Message } from "../../common/messages.js";
import { FailureType } from "../../common/failures.js";
import { abandonOnAbort } from "../abandon-on-abort.js";
import {
  expandTranscriptReference,
  llmSetupQuery,
  readTranscriptSlices,
  referencedLength,
  transcriptSliceQuery,
  TranscriptReferenceError,
  type RunLocation,
  type TranscriptReference,
  type TranscriptSlice,
} from "../../common/transcript-reference.js";

/** Reads a run's state: `[from, to)` of its transcript, or one of its recorded setups. */
export interface TranscriptSource {
  slice(run: RunLocation, slice: TranscriptSlice, signal?: AbortSignal): Promise<Message[]>;
  setup(run: RunLocation, index: number, signal?: AbortSignal): Promise<LlmSetup | undefined>;
}

/** `signal` is the step's: a query no worker answers (e.g. its own, stopping) must not hold the step. */
export type ResolveTranscript = (request: LlmRequest, signal?: AbortSignal) => Promise<LlmRequest>;

export interface TranscriptResolverOptions {
  /** Where the run's state is read; by default by queries to the run, through the activity's client. */
  source?: TranscriptSource;
  /** The cache's budget, in UTF-16 code units of message JSON (roughly bytes). Default 64 Mi. */
  maxCachedSize?: number;
}

const MessagesSchema = z.array(MessageSchema);

/** Asks the run itself, through the client of the worker running this activity. */
const queryRunState: TranscriptSource = {
  async slice(run, slice, signal) {
    return MessagesSchema.parse(await queryRun(run, (handle) => handle.query(transcriptSliceQuery, slice), signal));
  },
  async setup(run, index, signal) {
    return LlmSetupSchema.nullable().parse(await queryRun(run, (handle) => handle.query(llmSetupQuery, index), signal)) ?? undefined;
  },
};

function queryRun<T>(run: RunLocation, query: (handle: WorkflowHandle) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  return abandonOnAbort(signal, () => query(Context.current().client.workflow.getHandle(run.runId, run.temporalRunId))).catch((error: unknown) => {
    // A single message (or the instruction and tools) over the limit cannot come in pages: no retry reads it.
    if (error instanceof Error && /Blob data size exceeds limit/i.test(error.message)) {
      throw ApplicationFailure.nonRetryable(
        "This model call's messages, or its instruction and tool definitions, cannot reach the model on Temporal: one of them is over its 2 MB limit on what a run hands out. Keep each message the workflow code sends under 2 MB (put large data in a file an MCP server reads, and pass its path), or run it on the memory engine.",
        FailureType.inputTooLarge,
      );
    }
    throw error;
  });
}

interface CachedTranscript {
  messages: Message[];
  setups: Map<number, LlmSetup>;
  size: number;
}

export function createTranscriptResolver(options: TranscriptResolverOptions = {}): ResolveTranscript {
  const source = options.source ?? queryRunState;
  const maxCachedSize = options.maxCachedSize ?? 64 * 1024 * 1024;
  // A Map iterates in insertion order; re-inserting on use makes its first key the least recent.
  const cache = new Map<string, CachedTranscript>();
  let cachedSize = 0;

  const evict = (keep: string) => {
    for (const [key, entry] of cache) {
      if (cachedSize <= maxCachedSize) return;
      if (key === keep) continue;
      cache.delete(key);
      cachedSize -= entry.size;
    }
  };

  const grow = (key: string, entry: CachedTranscript, size: number) => {
    entry.size += size;
    cachedSize += size;
    evict(key);
  };

  /** The run's cache entry, holding at least what `reference` needs. */
  const known = async (reference: TranscriptReference, needed: number, signal: AbortSignal | undefined): Promise<CachedTranscript> => {
    const key = `${reference.runId}\u0000${reference.temporalRunId}`;
    const entry: CachedTranscript = cache.get(key) ?? { messages: [], setups: new Map(), size: 0 };
    cache.delete(key);
    cache.set(key, entry);
    const from = entry.messages.length;
    const wanted = reference.setup;
    const [fetched, setup] = await Promise.all([
      from < needed ? readTranscriptSlices((slice) => source.slice(reference, slice, signal), from, needed) : undefined,
      wanted !== undefined && !entry.setups.has(wanted) ? source.setup(reference, wanted, signal) : undefined,
    ]);
    if (fetched) {
      // Another call for the same run may have filled part of it meanwhile; keep the order exact.
      const fresh = fetched.slice(entry.messages.length - from);
      entry.messages.push(...fresh);
      grow(key, entry, fresh.reduce((sum, message) => sum + JSON.stringify(message).length, 0));
    }
    if (wanted !== undefined && setup) {
      entry.setups.set(wanted, setup);
      grow(key, entry, JSON.stringify(setup).length);
    }
    return entry;
  };

  return async (request, signal) => {
    const reference = request.transcriptReference;
    if (!reference) return request;
    try {
      const entry = await known(reference, referencedLength(request), signal);
      return expandTranscriptReference(request, {
        slice: (from, to) => entry.messages.slice(from, to),
        setup: (index) => entry.setups.get(index),
      });
    } catch (error) {
      // A reference past the run's transcript is a bug that no retry fixes.
      if (error instanceof TranscriptReferenceError) throw ApplicationFailure.nonRetryable(error.message, error.name);
      throw error;
    }
  };
}
