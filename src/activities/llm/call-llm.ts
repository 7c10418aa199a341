/**
 * The body of the `callLlm` activity: route a request to its provider and turn every failure
 * into a typed `ApplicationFailure`.
 */
import { ApplicationFailure } from "@temporalio/common";
import { callAsync } from "../../common/call-async.js";
import { FailureType } from "../../common/failures.js";
import { parseModelRef } from "../../common/llm.js";
import type { LlmRequest, LlmResponse } from "../../common/llm.js";
import { redactError } from "../redact-secrets.js";
import { toActivityFailure } from "./provider-errors.js";
import type { ProviderRegistry } from "./provider-registry.js";
import type { OnText } from "./provider.js";
import { Semaphore } from "../../workflows/patterns/semaphore.js";
import { askedToWait, defaultRateLimitWaitMs, ProviderGate, waitFits, type ProviderWait } from "./rate-limits.js";

export type CallLlm = (request: LlmRequest, signal?: AbortSignal, onText?: OnText, options?: CallLlmOptions) => Promise<LlmResponse>;

export interface CallLlmOptions {
  /** Told of each wait for a busy provider within the attempt, before it begins. */
  onWait?: (wait: ProviderWait) => void;
  /** When the attempt's own limit ends it (ms since the epoch): no wait runs into it. */
  deadline?: number;
}

export interface CallLlmSettings {
  /** The most one attempt waits for busy providers (`llm.rateLimitWaitMs`). */
  rateLimitWaitMs?: number;
  /** The most calls in flight at once, by provider (`llm.providers.<name>.maxConcurrentCalls`). */
  maxConcurrentCalls?: Record<string, number>;
}

export function createCallLlm(registry: ProviderRegistry, settings: CallLlmSettings = {}): CallLlm {
  const gate = new ProviderGate();
  const budgetMs = settings.rateLimitWaitMs ?? defaultRateLimitWaitMs;
  /** The request as sent, once; `failed` gets its failure as the run should see it. */
  const sent = (request: LlmRequest, providerName: string, model: string, signal: AbortSignal | undefined, onText: OnText | undefined, failed: (failure: unknown) => Promise<LlmResponse>): Promise<LlmResponse> => {
    const failure = (error: unknown): Promise<LlmResponse> => {
      // On cancellation the abort reason (Temporal's CancelledFailure) must win over the SDK's abort error.
      if (!(error instanceof ApplicationFailure) && signal?.aborted && signal.reason instanceof Error) throw signal.reason;
      // An SDK's error can quote the key (a header it refused) or the base URL's credentials.
      return failed(redactError(error instanceof ApplicationFailure ? error : toActivityFailure(error, providerName), registry.secretsOf(providerName)));
    };
    // The provider's promise itself, not an async wrapper's: every model call goes through here.
    return callAsync(() => {
      if (model === "") {
        throw ApplicationFailure.nonRetryable(
          `The model reference "${request.model}" names no model; write it as provider:model, e.g. openai:gpt-4.1-mini.`,
          FailureType.configuration,
        );
      }
      return registry.get(providerName).generate(request, model, signal, onText);
    }).catch(failure);
  };
  /** The call once its provider may be asked, waiting as long as it asks (within the budget) each time it is busy. */
  const patient = async (request: LlmRequest, providerName: string, model: string, signal: AbortSignal | undefined, onText: OnText | undefined, options: CallLlmOptions, first?: unknown): Promise<LlmResponse> => {
    let waited = 0;
    let failure = first;
    // A provider that asks for no wait at all, again and again, fails the attempt after so many tries.
    for (let tries = 0; ; tries++) {
      if (failure !== undefined) {
        const asked = askedToWait(failure);
        if (asked === undefined || tries >= maxTriesPerAttempt) throw failure;
        gate.close(providerName, Date.now() + asked);
      }
      const waitMs = gate.waitFor(providerName);
      if (waitMs > 0 && waitFits(waitMs, waited, budgetMs, options.deadline)) {
        const reason = failure instanceof Error ? failure.message : `${providerName} asked this worker's calls to wait`;
        options.onWait?.({ waitMs, reason });
        await sleep(waitMs, signal);
        waited += waitMs;
        options.onWait?.({ waitMs, reason, over: true });
      } else if (waitMs > 0 && failure !== undefined) {
        // Past the budget or the attempt's limit, the attempt fails as before: the next waits as asked.
        throw failure;
      }
      // A wait another call was asked for that this one cannot make: it asks itself.
      try {
        return await sent(request, providerName, model, signal, onText, rethrow);
      } catch (error) {
        failure = error;
      }
    }
  };
  const call: CallLlm = (request, signal, onText, options = {}) => {
    const { provider: providerName, model } = parseModelRef(request.model);
    if (gate.waitFor(providerName) > 0) return patient(request, providerName, model, signal, onText, options);
    return sent(request, providerName, model, signal, onText, (failure) =>
      askedToWait(failure) === undefined ? Promise.reject(failure) : patient(request, providerName, model, signal, onText, options, failure),
    );
  };
  const limits = new Map(Object.entries(settings.maxConcurrentCalls ?? {}).map(([provider, limit]) => [provider, new Semaphore(limit)]));
  if (limits.size === 0) return call;
  return (request, signal, onText, options) => {
    const slots = limits.get(parseModelRef(request.model).provider);
    return slots ? slots.run(() => call(request, signal, onText, options)) : call(request, signal, onText, options);
  };
}

const maxTriesPerAttempt = 50;

const rethrow = (failure: unknown): never => {
  throw failure;
};

/** Waits `ms`, or rejects with the signal's reason once it aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
