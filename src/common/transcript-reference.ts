/**
 * Transcript references: how a model call's activity input names messages that are already in
 * the calling run's transcript instead of repeating them (see `TranscriptReference` in llm.ts).
 * Workflow code makes them (src/workflows/transcript-references.ts); the `callLlm` activity, or the
 * memory engine in-process, expands them back into messages before the provider sees the request.
 * Sandbox-safe: imported by workflow code.
 */
import type { LlmRequest, LlmSetup } from "./llm.js";
import type { Message } from "./messages.js";

/**
 * The query a run answers with a slice of its transcript: argument `{ from, to }` (half-open),
 * result `Message[]`. The activity asks it of its own workflow run.
 */
export const transcriptSliceQuery = "duragent.transcript.slice";

/** The query a run answers with one of its recorded model-call setups: argument the index, result `LlmSetup`. */
export const llmSetupQuery = "duragent.llm.setup";

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
    if (!setup) throw new TranscriptReferenceError(`Run ${reference.workflowId}/${reference.runId} has no model-call setup #${reference.setup}.`);
    if (setup.system !== undefined) expanded.system = setup.system;
    if (setup.tools !== undefined) expanded.tools = setup.tools;
  }
  const referenced: Message[] = [];
  for (const { from, to } of reference.ranges) {
    const messages = parts.slice(from, to);
    if (messages.length !== to - from) {
      throw new TranscriptReferenceError(
        `Run ${reference.workflowId}/${reference.runId} has ${messages.length} of the ${to - from} transcript messages [${from}, ${to}) a model call refers to.`,
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
