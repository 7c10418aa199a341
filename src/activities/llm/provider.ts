/**
 * The seam between the `callLlm` activity and a model vendor.
 *
 * A provider is a thin, stateless translator: it turns the provider-neutral {@link LlmRequest}
 * (src/common/llm.ts) into one vendor request, sends it, and turns the answer back into an
 * {@link LlmResponse}. Everything that makes the agent durable lives elsewhere, so a provider
 * must stay dumb in three specific ways:
 *
 * - **Streams, when asked to.** With `onText`, a provider that streams sends one streaming request
 *   and resolves with the same {@link LlmResponse} the non-streaming request would have given;
 *   a stream that breaks or ends without its final event is a failed attempt, never a partial answer.
 * - **No retries.** SDK clients are built with `maxRetries: 0`. Temporal's retry policy (or the
 *   memory engine's equivalent) owns retries, so a retry is visible in history and honours the
 *   configured backoff. One `generate` call is exactly one HTTP request.
 * - **No error interpretation.** A provider lets SDK errors escape unchanged; `call-llm.ts`
 *   classifies them with `toActivityFailure` (provider-errors.ts) into retryable
 *   `LlmUnavailable` or non-retryable `LlmRequestRejected` failures.
 * - **No hidden state.** The same request must produce the same wire body, so that recorded
 *   requests are reproducible and tests can assert on exact bodies.
 *
 * Conventions every provider follows so the rest of the runtime can stay provider-agnostic:
 *
 * - Tool call arguments come back as the raw JSON **text** (`ToolCall.arguments`), never parsed
 *   here: the tool layer validates them and reports invalid JSON to the model as a tool error.
 * - With `request.responseFormat`, the structured answer comes back as JSON text in
 *   `message.content` with no `toolCalls`, whatever mechanism the vendor uses to produce it.
 * - `stopReason` is `tool_calls` whenever the message carries tool calls.
 * - `usage.inputTokens` counts every prompt token the vendor billed, cached ones included.
 *
 * @example
 * ```ts
 * const provider = registry.get("anthropic");
 * const response = await provider.generate(request, "claude-sonnet-4-5", signal);
 * ```
 */
import type { LlmRequest, LlmResponse } from "../../common/llm.js";
import type { ContentPart } from "../../common/messages.js";

export interface LlmProvider {
  /**
   * The configured provider name (the part before `:` in a model reference), e.g. `openai`,
   * `anthropic` or a custom entry such as `ollama`. Used in error messages.
   */
  readonly name: string;

  /** Where its requests go (the API's base URL), for spans' `server.address`; absent for a stand-in. */
  readonly baseURL?: string;

  /**
   * Performs one model turn.
   *
   * @param request The provider-neutral request. `request.model` still holds the full
   *   `provider:model` reference and is ignored here in favour of `model`.
   * @param model The bare model id after `provider:`, sent to the vendor as is.
   * @param signal Aborts the HTTP request, e.g. when the activity is cancelled.
   * @returns The assistant message, why the model stopped, token usage and the model id the
   *   vendor reports.
   * @throws The SDK's own error, untouched; callers classify it with `toActivityFailure`.
   */
  generate(request: LlmRequest, model: string, signal?: AbortSignal, onText?: OnText): Promise<LlmResponse>;
}

/**
 * Told each piece of answer text as it arrives, when the provider streams. The response that
 * `generate` resolves with is still the whole one, assembled from the same events, and is the
 * only thing recorded: the pieces are for people watching.
 */
export type OnText = (delta: string) => void;

/** The image types OpenAI's and Anthropic's models take; others fail the whole request. */
const modelImageTypes = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/**
 * A content part as a model can take it: an image of a type models refuse (a TIFF, an SVG, a BMP
 * a file server read) becomes a note, rather than a rejected request that fails the run.
 */
export function forModel(part: ContentPart): ContentPart {
  if (part.type !== "image" || modelImageTypes.has(part.mimeType.toLowerCase())) return part;
  return { type: "text", text: `[An image of type ${part.mimeType} was left out: the model takes PNG, JPEG, GIF or WebP images only]` };
}
