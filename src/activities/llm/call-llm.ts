/**
 * The body of the `callLlm` activity: route a request to its provider and turn every failure
 * into a typed `ApplicationFailure`.
 */
import { ApplicationFailure } from "@temporalio/common";
import { callAsync } from "../../common/call-async.js";
import { FailureType } from "../../common/failures.js";
import { parseModelRef } from "../../common/llm.js";
import type { LlmRequest, LlmResponse } from "../../common/llm.js";
import { toActivityFailure } from "./provider-errors.js";
import type { ProviderRegistry } from "./provider-registry.js";
import type { OnText } from "./provider.js";

export type CallLlm = (request: LlmRequest, signal?: AbortSignal, onText?: OnText) => Promise<LlmResponse>;

export function createCallLlm(registry: ProviderRegistry): CallLlm {
  return (request, signal, onText) => {
    const { provider: providerName, model } = parseModelRef(request.model);
    const failure = (error: unknown): never => {
      if (error instanceof ApplicationFailure) throw error;
      // On cancellation the abort reason (Temporal's CancelledFailure) must win over the SDK's abort error.
      if (signal?.aborted && signal.reason instanceof Error) throw signal.reason;
      throw toActivityFailure(error, providerName);
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
}
