/**
 * Turns whatever a provider SDK threw into an `ApplicationFailure` that Temporal's retry policy
 * understands: transient trouble is retryable `LlmUnavailable`, a refused request is
 * non-retryable `LlmRequestRejected`.
 */
import { randomUUID } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import { ApplicationFailure } from "@temporalio/common";
import OpenAI from "openai";
import { FailureType } from "../../common/failures.js";
import type { StopReason } from "../../common/llm.js";
import { providerEnvVar } from "./provider-keys.js";

/** A streamed answer that ended before it was whole: a failed attempt, retried like a dropped connection. */
export class StreamIncomplete extends Error {
  override name = "StreamIncomplete";
  constructor(provider: string, why: string) {
    super(`${provider}'s streamed answer was incomplete: ${why}`);
  }
}

/**
 * A success response that is not what the API's format promises (no choices, no message, no
 * content): a broken server or proxy, retried like a server error, and named as what it is
 * rather than as the TypeError reading it would throw.
 */
/** The provider sent nothing for the call's idle timeout: before its answer began, or in the middle of a stream. */
export class AnswerStalled extends Error {
  override name = "AnswerStalled";
  constructor(provider: string, idleMs: number) {
    super(`${provider} sent nothing for ${idleMs / 1000} s (execution.llm.idleTimeoutMs), so this attempt was given up.`);
  }
}

export class MalformedResponse extends Error {
  override name = "MalformedResponse";
  constructor(provider: string, what: string) {
    super(`${provider} sent a malformed response: ${what}`);
  }
}

/**
 * Gives every tool call of one answer an id of its own, in place: a server that sends a call
 * without an id, or two calls with one id, would otherwise get the next request refused (both
 * APIs match each tool result to its call by id), or one call's result taken for another's.
 */
export function withUniqueIds(calls: { id: string }[]): void {
  const taken = new Set<string>();
  calls.forEach((call, index) => {
    const given = typeof call.id === "string" ? call.id.trim() : "";
    let id = given !== "" && !taken.has(given) ? given : `${given || "call"}_${index + 1}_${randomUUID().slice(0, 8)}`;
    while (taken.has(id)) id = `${given || "call"}_${index + 1}_${randomUUID().slice(0, 8)}`;
    taken.add(id);
    call.id = id;
  });
}

/**
 * Marks the last tool call of an answer that stopped at its output token limit: the limit fell
 * inside its arguments, which the agent loop must not act on (see `ToolCall.cutOff`).
 */
export function markCutOff(calls: { cutOff?: true }[], stopReason: StopReason): void {
  const last = calls.at(-1);
  if (last && stopReason === "max_tokens") last.cutOff = true;
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
  const cause = error instanceof Error ? bounded(error) : undefined;

  if (error instanceof StreamIncomplete || error instanceof MalformedResponse || error instanceof AnswerStalled) return retryable(error.message, { provider }, cause);
  if (error instanceof SyntaxError) {
    // The SDK parses the body (or a stream's event) as JSON: a truncated or non-JSON body.
    return retryable(`${provider} sent a response that is not valid JSON (${error.message}).`, { provider }, cause);
  }
  if (isBrokenOff(error)) {
    // The socket's own words (other side closed [UND_ERR_SOCKET]) without the wrappers' (Connection error, terminated).
    const detail = connectionDetail(error).split(": ").filter((part) => !/^(Connection error\.?|terminated)$/.test(part)).join(": ");
    return retryable(`The connection to ${provider} broke off before the answer was complete${detail ? ` (${detail})` : ""}.`, { provider }, cause);
  }
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
    if (!(error instanceof OpenAI.APIConnectionError || error instanceof Anthropic.APIConnectionError)) {
      // An `error` event in the middle of a streamed answer (OpenAI's `{error}` data, Anthropic's
      // `event: error`): the server was reached and gave up on this answer; usually overload.
      return retryable(`${provider} sent an error in the middle of its streamed answer: ${providerMessage(error)}`, { provider }, cause);
    }
    return retryable(
      `Could not reach ${provider}: ${connectionDetail(error)}. Check the network and the provider's base URL ` +
        `(${providerEnvVar(provider, "BASE_URL")} or llm.providers.${provider}.baseURL).`,
      { provider },
      cause,
    );
  }

  const detail = providerMessage(error);
  if (status === 429 && quotaExhausted(error)) {
    // OpenAI's "You exceeded your current quota": no retry will help until someone pays.
    return ApplicationFailure.create({
      message: `${provider} refused the request (429): ${detail}${/[.!?]$/.test(detail) ? "" : "."} The account has no quota left: check its plan and billing; retrying would not help.`,
      type: FailureType.llmRequestRejected,
      nonRetryable: true,
      details: [{ provider, status } satisfies LlmFailureDetails],
      cause,
    });
  }
  if (status === 408 || status === 409 || status === 429 || status >= 500) {
    const what = status === 429 ? "is rate limiting requests" : status === 529 ? "is overloaded" : status === 503 ? "is unavailable" : status >= 500 ? "had a server error" : "could not finish the request";
    const delayMs = retryDelayMs(error.headers);
    // The wait is the server's, not the backoff's: say it, since `status` shows this message until the next attempt.
    const wait = delayMs !== undefined ? `${/[.!?]$/.test(detail) ? " It" : "; it"} asked to retry after ${formatDelay(delayMs)}` : "";
    return retryable(`${provider} ${what} (${status}): ${detail}${wait}`, { provider, status }, cause, delayMs);
  }
  const hint = rejectionHint(status, provider) ?? (status === 400 ? (contextTooLong(error, detail) ? CONTEXT_TOO_LONG_HINT : tooManyTools(error, detail) ? TOO_MANY_TOOLS_HINT : undefined) : undefined);
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

/** OpenAI's 429 for an account out of credit (`insufficient_quota`), unlike a rate limit, does not pass. */
function quotaExhausted(error: SdkApiError): boolean {
  const body = error.error;
  const fields = isRecord(body) ? [body.code, body.type, isRecord(body.error) ? body.error.code : undefined, isRecord(body.error) ? body.error.type : undefined] : [];
  return fields.includes("insufficient_quota");
}

/** undici's `terminated`: the connection closed while the body (a stream) was still coming. */
function isBrokenOff(error: unknown): error is Error {
  for (let depth = 0, current = error; depth < 3 && current instanceof Error; depth++, current = current.cause) {
    if (current instanceof TypeError && current.message === "terminated") return true;
  }
  return false;
}

function isSdkApiError(error: unknown): error is SdkApiError {
  return error instanceof OpenAI.APIError || error instanceof Anthropic.APIError;
}

const CONTEXT_TOO_LONG_HINT =
  "The conversation is longer than the model's context window: use a model with a larger one, give the agent less to read, or lower execution.maxToolResultBytes so that tool results are cut sooner.";

/** OpenAI's `context_length_exceeded`, Anthropic's "prompt is too long", and compatible servers' wordings of them. */
function contextTooLong(error: SdkApiError, detail: string): boolean {
  const body = error.error;
  const code = isRecord(body) ? (body.code ?? (isRecord(body.error) ? body.error.code : undefined)) : undefined;
  return code === "context_length_exceeded" || /context length|context window|prompt is too long|maximum context|too many tokens/i.test(detail);
}

const TOO_MANY_TOOLS_HINT =
  "The agent offers the model more tools than it takes (OpenAI's limit is 128): narrow each server's tools with mcp.servers.<name>.allowedTools, or split the work between agents with fewer servers each.";

/** OpenAI's `array_above_max_length` on `tools`, and compatible servers' wordings of it. */
function tooManyTools(error: SdkApiError, detail: string): boolean {
  const body = error.error;
  const fields = isRecord(body) ? (isRecord(body.error) ? body.error : body) : {};
  return (fields.param === "tools" && fields.code === "array_above_max_length") || /'tools'.*(array too long|maximum length)|too many tools/i.test(detail);
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
  return readable(rawProviderMessage(error));
}

function rawProviderMessage(error: SdkApiError): string {
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

/** The most of a provider's explanation a failure quotes: it is shown by status and kept in history twice. */
const MAX_DETAIL_CHARS = 1000;

/**
 * A proxy's or gateway's HTML error page (a 502 from nginx, say) becomes its title, or its text;
 * any explanation is cut to {@link MAX_DETAIL_CHARS}, saying how much was left out. A whole page
 * quoted made the failure too large for Temporal ("Failure exceeds size limit"), saying nothing.
 */
function readable(text: string): string {
  let result = text;
  if (/^\s*<(!doctype|html|head|body)\b/i.test(text)) {
    const title = /<title[^>]*>([^<]*)<\/title>/i.exec(text)?.[1]?.trim();
    result = title ? `an HTML page titled '${title}'` : `an HTML page: ${text.replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, " ").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim()}`;
  }
  return cut(result, MAX_DETAIL_CHARS);
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters left out)`;
}

/** The SDK's error as the failure's cause, its message (the whole response body, when that is what it quotes) cut. */
function bounded(error: Error): Error {
  if (error.message.length <= 4 * MAX_DETAIL_CHARS) return error;
  const copy = new Error(cut(error.message, MAX_DETAIL_CHARS));
  copy.name = error.name;
  copy.stack = `${error.name}: ${copy.message}\n${(error.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line)).join("\n")}`;
  return copy;
}

function connectionDetail(error: Error): string {
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

function formatDelay(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 100) / 10} s`;
  if (ms < 2 * 3600_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 360_000) / 10} h`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
