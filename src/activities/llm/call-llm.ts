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

export type CallLlm = (request: LlmRequest, signal?: AbortSignal, onText?: OnText) => Promise<LlmResponse>;

export function createCallLlm(registry: ProviderRegistry): CallLlm {
  return (request, signal, onText) => {
    const { provider: providerName, model } = parseModelRef(request.model);
    const failure = (error: unknown): never => {
      // On cancellation the abort reason (Temporal's CancelledFailure) must win over the SDK's abort error.
      if (!(error instanceof ApplicationFailure) && signal?.aborted && signal.reason instanceof Error) throw signal.reason;
      // An SDK's error can quote the key (a header it refused) or the base URL's credentials.
      throw redactError(error instanceof ApplicationFailure ? error : toActivityFailure(error, providerName), registry.secretsOf(providerName));
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
