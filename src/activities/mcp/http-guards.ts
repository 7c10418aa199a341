/**
 * The `fetch` an HTTP MCP connection uses, with what the SDK leaves to us:
 *
 * - a size limit on what the server sends (a whole JSON body, or one SSE event), so a runaway
 *   server cannot fill the worker's memory; going over it fails the connection as misbehaving;
 * - a 403 `insufficient_scope` from the MCP server ends the request at once with an error that
 *   says what to do (the SDK would otherwise try to sign in again, which a worker cannot);
 * - authorization server metadata must name the issuer it was looked up for (see
 *   src/auth/authorization-server.ts).
 */
import type { FetchLike } from "@modelcontextprotocol/client";
import { checkingMetadataIssuer } from "../../auth/authorization-server.js";
import { challengeOf, type AuthChallenge } from "../../auth/challenge.js";
import { AuthorizationServerMisbehaved, MessageTooLarge, type McpServerMisbehavior } from "../../auth/errors.js";

/** The most a server may send in one message; the same as over stdio. */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export interface GuardOptions {
  server: string;
  /** The MCP endpoint: its answers are the ones whose challenges matter. */
  url: URL;
  /** The most the server may send in one message. */
  maxMessageBytes: number;
  /** Told as soon as the server misbehaves, so the connection fails its requests rather than wait. */
  onMisbehavior(error: McpServerMisbehavior): void;
  /**
   * Told when the answer to a request broke off (the connection dropped mid-stream): its request
   * will never be answered, so the connection is dropped and its requests fail now, not at their timeout.
   */
  onAnswerLost?(error: unknown): void;
  /** The error a 403 `insufficient_scope` becomes (recording what the next sign-in must ask for); absent without OAuth. */
  onInsufficientScope?(challenge: AuthChallenge): Promise<Error>;
}

export function guardedFetch(options: GuardOptions, base: FetchLike = fetch): FetchLike {
  const limit = options.maxMessageBytes;
  const endpoint = `${options.url.origin}${options.url.pathname}`;
  const limited: FetchLike = async (input, init) => {
    const response = await base(input, init);
    if (options.onInsufficientScope && response.status === 403 && endpointOf(input) === endpoint) {
      const challenge = challengeOf(response);
      if (challenge?.error === "insufficient_scope") {
        await response.body?.cancel().catch(() => undefined);
        throw await options.onInsufficientScope(challenge);
      }
    }
    // A request's answer (a POST's body) that breaks off, not by our own abort, never completes.
    const { onAnswerLost } = options;
    const answerLost =
      onAnswerLost && init?.method === "POST"
        ? (error: unknown) => {
            if (!init.signal?.aborted) onAnswerLost(error);
          }
        : undefined;
    return limitBody(options, response, limit, answerLost);
  };
  const checked = checkingMetadataIssuer(options.server, limited);
  return async (input, init) => {
    try {
      return await checked(input, init);
    } catch (error) {
      // The SDK swallows some of these (a failed refresh becomes "sign in again"); the connection still learns the cause.
      if (error instanceof AuthorizationServerMisbehaved) options.onMisbehavior(error);
      throw error;
    }
  };
}

function endpointOf(input: string | URL): string {
  const url = new URL(typeof input === "string" ? input : input.href);
  return `${url.origin}${url.pathname}`;
}

/** The last byte at or before `from` that is not a CR; `before` when there is none in the chunk. */
function lastNotCr(chunk: Uint8Array, from: number, before: number): number {
  let i = from;
  while (i >= 0 && chunk[i] === 0x0d) i--;
  return i >= 0 ? chunk[i]! : before;
}

/**
 * The response, with a body that fails once the server sends more than `limit` bytes in one
 * message, and that tells `broke` when reading it fails.
 */
function limitBody(options: GuardOptions, response: Response, limit: number, broke?: (error: unknown) => void): Response {
  if (!response.body) return response;
  const tooLarge = (): MessageTooLarge => {
    const error = new MessageTooLarge(options.server, limit);
    options.onMisbehavior(error);
    return error;
  };
  const declared = Number(response.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) {
    void response.body.cancel().catch(() => undefined);
    throw tooLarge();
  }
  // An event stream lives long: the limit is per event (up to a blank line), not for the stream.
  const perEvent = (response.headers.get("content-type") ?? "").toLowerCase().includes("text/event-stream");
  let size = 0;
  /** The last byte other than CR: a LF after a LF ends an event. */
  let previous = 0;
  const reader = response.body.getReader();
  const counted = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Uint8Array;
      try {
        const read = await reader.read();
        if (read.done) return controller.close();
        chunk = read.value;
      } catch (error) {
        broke?.(error);
        return controller.error(error);
      }
      let start = 0;
      if (perEvent) {
        // From line feed to line feed: the bytes between are never looked at.
        for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) {
          if (lastNotCr(chunk, i - 1, previous) === 0x0a) start = i + 1;
        }
        previous = lastNotCr(chunk, chunk.length - 1, previous);
        if (start > 0) size = 0;
      }
      size += chunk.length - start;
      if (size > limit) {
        void reader.cancel().catch(() => undefined);
        return controller.error(tooLarge());
      }
      controller.enqueue(chunk);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
}
