/**
 * Turns whatever a provider SDK threw into an `ApplicationFailure` that Temporal's retry policy
 * understands: transient trouble is retryable `LlmUnavailable`, a refused request is
 * non-retryable `LlmRequestRejected`.
 */
import Anthropic from "@anthropic-ai/sdk";
import { ApplicationFailure } from "@temporalio/common";
import OpenAI from "openai";
import { FailureType } from "../../common/failures.js";
import { providerEnvVar } from "./provider-keys.js";

/** A streamed answer that ended before it was whole: a failed attempt, retried like a dropped connection. */
export class StreamIncomplete extends Error {
  override name = "StreamIncomplete";
  constructor(provider: string, why: string) {
    super(`the ${provider} stream was incomplete: ${why}`);
  }
}

/** The fields both SDKs' `APIError` share. */
interface SdkApiError extends Error {
  status: number | undefined;
  headers: Headers | undefined;
  error: unknown;
}

/** Details attached to the failure, for logs and the Web UI. */
export interface LlmFailureDetails {
  provider: string;
  status?: number;
}

export function toActivityFailure(error: unknown, provider: string): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  const cause = error instanceof Error ? error : undefined;

  if (!isSdkApiError(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return retryable(`${provider} call failed: ${message}`, { provider }, cause);
  }

  const status = error.status;
  if (status === undefined) {
    if (error instanceof OpenAI.APIConnectionTimeoutError || error instanceof Anthropic.APIConnectionTimeoutError) {
      return retryable(`${provider} did not answer before the request timed out.`, { provider }, cause);
    }
    if (error instanceof OpenAI.APIUserAbortError || error instanceof Anthropic.APIUserAbortError) {
      return retryable(`The ${provider} request was aborted.`, { provider }, cause);
    }
    return retryable(
      `Could not reach ${provider}: ${connectionDetail(error)}. Check the network and the provider's base URL ` +
        `(${providerEnvVar(provider, "BASE_URL")} or llm.providers.${provider}.baseURL).`,
      { provider },
      cause,
    );
  }

  const detail = providerMessage(error);
  if (status === 408 || status === 409 || status === 429 || status >= 500) {
    const what = status === 429 ? "is rate limiting requests" : status === 529 ? "is overloaded" : status === 503 ? "is unavailable" : status >= 500 ? "had a server error" : "could not finish the request";
    return retryable(`${provider} ${what} (${status}): ${detail}`, { provider, status }, cause, retryDelayMs(error.headers));
  }
  const hint = rejectionHint(status, provider);
  return ApplicationFailure.create({
    message: `${provider} rejected the request (${status}): ${detail}${hint ? `${/[.!?]$/.test(detail) ? "" : "."} ${hint}` : ""}`,
    type: FailureType.llmRequestRejected,
    nonRetryable: true,
    details: [{ provider, status } satisfies LlmFailureDetails],
    cause,
  });
}

function retryable(message: string, details: LlmFailureDetails, cause: Error | undefined, nextRetryDelayMs?: number): ApplicationFailure {
  return ApplicationFailure.create({
    message,
    type: FailureType.llmUnavailable,
    nonRetryable: false,
    details: [details],
    cause,
    ...(nextRetryDelayMs !== undefined ? { nextRetryDelay: nextRetryDelayMs } : {}),
  });
}

function isSdkApiError(error: unknown): error is SdkApiError {
  return error instanceof OpenAI.APIError || error instanceof Anthropic.APIError;
}

/** What the user must change, for the statuses where that is clear. */
function rejectionHint(status: number, provider: string): string | undefined {
  switch (status) {
    case 401:
      return `Check the API key: set ${providerEnvVar(provider, "API_KEY")} or llm.providers.${provider}.apiKey.`;
    case 403:
      return `The API key is valid but lacks access to this model or endpoint; check the account's permissions.`;
    case 404:
      return `Check the model name in the model reference (${provider}:<model>) and llm.providers.${provider}.baseURL.`;
    case 413:
      return `The request is too large: shorten the conversation, the tool results or the attached images.`;
    default:
      return undefined;
  }
}

/** The provider's own explanation, from OpenAI's `{error:{message}}` or Anthropic's `{type,error:{message}}`. */
function providerMessage(error: SdkApiError): string {
  const body = error.error;
  if (isRecord(body)) {
    if (typeof body.message === "string") return body.message;
    if (isRecord(body.error) && typeof body.error.message === "string") return body.error.message;
    return JSON.stringify(body);
  }
  if (typeof body === "string" && body !== "") return body;
  // The SDK message starts with the status, which the caller already shows.
  return error.message.replace(/^\d{3}\s+/, "") || "no explanation given";
}

function connectionDetail(error: SdkApiError): string {
  const parts = [error.message.replace(/\.$/, "")];
  let cause: unknown = error.cause;
  // fetch wraps the socket error; its code (ECONNREFUSED, ENOTFOUND) is the useful part.
  for (let depth = 0; depth < 3 && cause instanceof Error; depth++) {
    const code = (cause as Error & { code?: unknown }).code;
    parts.push(typeof code === "string" ? `${cause.message} [${code}]` : cause.message);
    cause = cause.cause;
  }
  return parts.join(": ");
}

/** Honours `retry-after-ms` (OpenAI) and `retry-after` (seconds or an HTTP date). */
function retryDelayMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = Number.parseFloat(headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms > 0) return Math.ceil(ms);
  const retryAfter = headers.get("retry-after");
  if (retryAfter === null || retryAfter.trim() === "") return undefined;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds)) return seconds > 0 ? Math.ceil(seconds * 1000) : undefined;
  const date = Date.parse(retryAfter);
  if (Number.isNaN(date)) return undefined;
  const delay = date - Date.now();
  return delay > 0 ? delay : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
