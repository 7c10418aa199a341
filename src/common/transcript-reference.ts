/**
 * Transcript references: how a model call's activity input names messages that are already in
 * the calling run's transcript instead of repeating them.
 *
 * Without them every model call repeats the whole conversation in its input, so history grows
 * with the square of the conversation and a long one hits Temporal's 50 MB limit. With them each
 * message is stored once, where it arrived (an update, the workflow input, the activity result
 * that produced it), and a call names the rest by position in the run's transcript.
 *
 * This file is the format, shared by both sides. The executor makes references
 * (src/workflows/executor/transcript-referencer.ts); the `callLlm` activity resolves them by
 * querying the run (src/activities/llm/transcript-resolver.ts), and the memory engine in-process.
 * Sandbox-safe: imported by workflow code.
 */
import { z } from "zod";
import type { LlmRequest, LlmSetup } from "./llm.js";
import type { Message } from "./messages.js";

/**
 * Where a run's state can be asked for: duragent's run id (Temporal's workflow id) and the one
 * Temporal run of it (continue-as-new starts another, with a transcript of its own).
 */
export const RunLocationSchema = z.object({
  runId: z.string(),
  /** Temporal's run id of this execution of the workflow; the memory engine's own per executor. */
  temporalRunId: z.string(),
});
export type RunLocation = z.infer<typeof RunLocationSchema>;

// References recorded before the location had its names, as activities in flight may carry them.
const legacyLocation = (value: unknown): unknown => {
  if (typeof value !== "object" || value === null || !("workflowId" in value)) return value;
  const { workflowId, runId, ...rest } = value as { workflowId: unknown; runId: unknown };
  return { ...rest, runId: workflowId, temporalRunId: runId };
};

export const TranscriptReferenceSchema = z.preprocess(
  legacyLocation,
  RunLocationSchema.extend({
    /**
     * Half-open index ranges into the run's transcript, in order; their messages come first in the
     * request, followed by `messages`. Usually one range: `[{ from: 0, to: n }]`.
     */
    ranges: z.array(z.object({ from: z.number().int().min(0), to: z.number().int().min(0) })),
    /**
     * The index of one of the run's recorded setups, which supplies `system` and `tools`: tool
     * specs are often kilobytes, and would otherwise be stored again with every call.
     */
    setup: z.number().int().min(0).optional(),
  }),
);
export type TranscriptReference = z.infer<typeof TranscriptReferenceSchema>;

/**
 * The query a run answers with a slice of its transcript: argument `{ from, to }` (half-open),
 * result `Message[]`. The activity asks it of its own workflow run, and the client to read a
 * transcript. An answer stops short after `transcriptPageBytes` (always holding at least one
 * message), so the asker asks again from where it stopped.
 */
export const transcriptSliceQuery = "duragent.worker.transcriptSlice";

/**
 * How much message JSON one slice answer carries, in UTF-8 bytes: Temporal refuses a query result
 * over 2 MB, which a long run's transcript passes, and its worker logs a warning for any payload
 * over 512 KB; this stays under both, with room for a payload codec's own bytes.
 */
export const transcriptPageBytes = 384 * 1024;

/**
 * `[from, to)` of a run's transcript through its slice query (`ask`), a page at a time; shorter
 * when the run holds less. The worker's transcript resolver and the client read through it.
 */
export async function readTranscriptSlices(ask: (slice: TranscriptSlice) => Promise<Message[]>, from = 0, to = Number.MAX_SAFE_INTEGER): Promise<Message[]> {
  const messages: Message[] = [];
  while (from + messages.length < to) {
    const page = await ask({ from: from + messages.length, to });
    if (page.length === 0) break;
    messages.push(...page);
  }
  return messages;
}

/**
 * The most message JSON (UTF-8 bytes) put in a payload that cannot come in pages: an agent run's
 * result, a chat's hand-over to its next run. Temporal refuses a payload over 2 MB, and a run whose
 * payload it refuses never completes; the rest of the payload needs room too.
 */
export const messagesPayloadBytes = 1024 * 1024;

/** Whether `messages` fit in a payload that cannot come in pages (see `messagesPayloadBytes`). */
export function fitInOnePayload(messages: readonly Message[]): boolean {
  // Every agent run asks, and most transcripts are far under: a bound settles it without the JSON.
  return jsonBytesBound(messages, messagesPayloadBytes) <= messagesPayloadBytes || jsonBytes(messages) <= messagesPayloadBytes;
}

/**
 * No less than the UTF-8 bytes of `JSON.stringify(value)`, or Infinity once past `budget` or for
 * what it cannot bound (`toJSON`). A string's UTF-16 unit takes at most 6 bytes: an escape such
 * as \u001f, or 3 bytes of UTF-8.
 */
export function jsonBytesBound(value: unknown, budget: number): number {
  if (typeof value === "string") return value.length * 6 + 2;
  // JSON.stringify throws on it, as it should go on to.
  if (typeof value === "bigint") return Infinity;
  // The longest number JSON writes is 25 characters (-0.0000012345678901234567); null and false are shorter.
  if (typeof value !== "object" || value === null) return 25;
  // Only arrays and plain objects (of any realm) are walked: toJSON, boxed values and class instances write otherwise.
  const prototype: unknown = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && prototype !== null && Object.getPrototypeOf(prototype) !== null) return Infinity;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") return Infinity;
  let bytes = 2;
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) {
      bytes += jsonBytesBound(item, budget - bytes) + 1;
      if (bytes > budget) return Infinity;
    }
    return bytes;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    bytes += key.length * 6 + 4 + jsonBytesBound((value as Record<string, unknown>)[key], budget - bytes);
    if (bytes > budget) return Infinity;
  }
  return bytes;
}

/** The query a run answers with one of its recorded model-call setups: argument the index, result `LlmSetup`. */
export const llmSetupQuery = "duragent.worker.llmSetup";

export interface TranscriptSlice {
  from: number;
  to: number;
}

/** Thrown when a reference points past what the transcript holds: a bug, so never retried. */
export class TranscriptReferenceError extends Error {
  override readonly name = "TranscriptReferenceError";
}

/** Where a reference's parts are read from: the run's transcript and its recorded setups. */
export interface ReferencedParts {
  /** The transcript's messages in `[from, to)`; it must hold all of them. */
  slice(from: number, to: number): Message[];
  setup(index: number): LlmSetup | undefined;
}

/** The request with its reference replaced by what it refers to. */
export function expandTranscriptReference(request: LlmRequest, parts: ReferencedParts): LlmRequest {
  const { transcriptReference: reference, ...rest } = request;
  if (!reference) return request;
  const expanded: LlmRequest = { ...rest };
  if (reference.setup !== undefined) {
    const setup = parts.setup(reference.setup);
    if (!setup) throw new TranscriptReferenceError(`Run ${reference.runId}/${reference.temporalRunId} has no model-call setup #${reference.setup}.`);
    if (setup.system !== undefined) expanded.system = setup.system;
    if (setup.tools !== undefined) expanded.tools = setup.tools;
  }
  const referenced: Message[] = [];
  for (const { from, to } of reference.ranges) {
    const messages = parts.slice(from, to);
    if (messages.length !== to - from) {
      throw new TranscriptReferenceError(
        `Run ${reference.runId}/${reference.temporalRunId} has ${messages.length} of the ${to - from} transcript messages [${from}, ${to}) a model call refers to.`,
      );
    }
    referenced.push(...messages);
  }
  expanded.messages = [...referenced, ...request.messages];
  return expanded;
}

/** The largest index a reference needs, plus one: how much of the transcript must be known. */
export function referencedLength(request: LlmRequest): number {
  return Math.max(0, ...(request.transcriptReference?.ranges ?? []).map((range) => range.to));
}

/** UTF-8 length of a value's JSON. */
export function jsonBytes(value: unknown): number {
  return utf8Length(JSON.stringify(value));
}

/** UTF-8 length of a string without Node's Buffer, which workflow code cannot use. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      bytes += 4; // a surrogate pair is one 4-byte character
      index += 1;
    } else bytes += 3;
  }
  return bytes;
}
