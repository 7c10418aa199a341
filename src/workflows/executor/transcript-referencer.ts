/**
 * Makes a model call's activity input refer to the run's state once the call is large (the format
 * and why: src/common/transcript-reference.ts). Messages are named by position in the run's
 * transcript; the instruction and tools are recorded once per run as a "setup" and named by index.
 *
 * Deterministic: positions come from the run's transcript, which only ever grows, and messages
 * are matched by object identity, which replay reproduces; setups are numbered in order of use.
 */
import type { LlmRequest, LlmSetup } from "../../common/llm.js";
import type { Message } from "../../common/messages.js";
import { stepInputTooLarge } from "../../common/failures.js";
import { jsonBytes, utf8Length, type RunLocation, type TranscriptReference } from "../../common/transcript-reference.js";

/** What a model call's input may carry besides its messages: Temporal takes 2 MB a payload, and the rest needs room. */
const stepPayloadBytes = 2 * 1024 * 1024 - 64 * 1024;

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export class TranscriptReferencer {
  private readonly positions = new Map<Message, number>();
  private indexed = 0;
  // Sizes are cached per message, so each call costs one lookup per message, not a serialization.
  private readonly sizes = new WeakMap<Message, number>();
  private readonly formatSizes = new WeakMap<object, number>();
  private readonly setups: LlmSetup[] = [];
  private readonly setupIndex = new Map<string, number>();
  // An agent sends the same tool list on every call; encode it once rather than per call.
  private readonly encodedTools = new WeakMap<object, string>();

  constructor(
    /** The run's transcript: append-only. */
    private readonly transcript: readonly Message[],
    private readonly location: () => RunLocation,
    /** Calls up to this size (UTF-8 bytes of their messages' and setup's JSON) are sent as they are. */
    private readonly thresholdBytes: number,
  ) {}

  /** A setup recorded by an earlier call, for the query that resolves references. */
  setup(index: number): LlmSetup | undefined {
    return this.setups[index];
  }

  /** The transcript's messages in `[from, to)` for the slice query: one page, cut short after `pageBytes`. */
  slice(from: number, to: number, pageBytes: number): Message[] {
    const start = Math.max(0, from);
    const end = Math.min(to, this.transcript.length);
    let index = start;
    for (let bytes = 0; index < end; index++) {
      bytes += this.sizeOfMessage(this.transcript[index]!);
      if (bytes > pageBytes && index > start) break;
    }
    return this.transcript.slice(start, index);
  }

  /** Where the latest messages that fit in `bytes` start; the last message is always in. */
  latestStart(bytes: number): number {
    let start = this.transcript.length;
    for (let total = 0; start > 0; start--) {
      total += this.sizeOfMessage(this.transcript[start - 1]!);
      if (total > bytes && start < this.transcript.length) break;
    }
    return start;
  }

  /** The request, with what the run already holds replaced by a reference once the call is large. */
  reference(request: LlmRequest): LlmRequest {
    // A schema travels in the input whatever the call's size: one over the limit would fail the
    // run's workflow task on every try, so the call fails here instead, saying what is too big.
    if (request.responseFormat !== undefined && this.sizeOfFormat(request.responseFormat) > stepPayloadBytes) {
      throw stepInputTooLarge(`its structured output's schema is ${megabytes(this.sizeOfFormat(request.responseFormat))}`);
    }
    const setup: LlmSetup = {
      ...(request.system !== undefined ? { system: request.system } : {}),
      ...(request.tools !== undefined ? { tools: request.tools } : {}),
    };
    const setupKey = this.encodeSetup(setup);
    if (this.sizeOf(request.messages) + utf8Length(setupKey) <= this.thresholdBytes) return request;

    this.indexNewMessages();
    const ranges: TranscriptReference["ranges"] = [];
    let referenced = 0;
    for (const message of request.messages) {
      const position = this.positions.get(message);
      if (position === undefined) break; // the rest travels as it is, in order
      const last = ranges.at(-1);
      if (last && last.to === position) last.to += 1;
      else ranges.push({ from: position, to: position + 1 });
      referenced += 1;
    }
    const { system: _system, tools: _tools, ...rest } = request;
    return {
      ...rest,
      messages: request.messages.slice(referenced),
      transcriptReference: { ...this.location(), ranges, setup: this.recordSetup(setupKey, setup) },
    };
  }

  private encodeSetup(setup: LlmSetup): string {
    if (!setup.tools) return JSON.stringify(setup);
    let tools = this.encodedTools.get(setup.tools);
    if (tools === undefined) {
      tools = JSON.stringify(setup.tools);
      this.encodedTools.set(setup.tools, tools);
    }
    return `${JSON.stringify(setup.system ?? null)}\n${tools}`;
  }

  private recordSetup(key: string, setup: LlmSetup): number {
    let index = this.setupIndex.get(key);
    if (index === undefined) {
      index = this.setups.push(setup) - 1;
      this.setupIndex.set(key, index);
    }
    return index;
  }

  private indexNewMessages(): void {
    for (; this.indexed < this.transcript.length; this.indexed++) {
      const message = this.transcript[this.indexed]!;
      if (!this.positions.has(message)) this.positions.set(message, this.indexed);
    }
  }

  private sizeOf(messages: readonly Message[]): number {
    let total = 0;
    for (const message of messages) total += this.sizeOfMessage(message);
    return total;
  }

  private sizeOfFormat(format: NonNullable<LlmRequest["responseFormat"]>): number {
    let size = this.formatSizes.get(format);
    if (size === undefined) {
      size = jsonBytes(format);
      this.formatSizes.set(format, size);
    }
    return size;
  }

  private sizeOfMessage(message: Message): number {
    let size = this.sizes.get(message);
    if (size === undefined) {
      size = jsonBytes(message);
      this.sizes.set(message, size);
    }
    return size;
  }
}
