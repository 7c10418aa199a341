/**
 * Resolves a provider name (the part before `:` in a model reference) to a ready
 * {@link LlmProvider}, from `llm.providers` in the config and the environment.
 */
import { ApplicationFailure } from "@temporalio/common";
import { FailureType } from "../../common/failures.js";
import { providerSecrets } from "../redact-secrets.js";
import type { DuragentConfig, ProviderConfig } from "../../config/schema.js";
import { parseModelRef } from "../../common/llm.js";
import { demoModel } from "../../testing/demo-model.js";
import { AnthropicProvider } from "./anthropic-provider.js";
import { OPENAI_DEFAULT_BASE_URL, OpenAIProvider } from "./openai-provider.js";
import type { LlmProvider } from "./provider.js";
import { providerEnvVar } from "./provider-keys.js";
import { ScriptedProvider } from "./scripted-provider.js";

export interface ProviderRegistry {
  /** The provider for a name; throws a non-retryable `ConfigurationError` when it cannot be built. */
  get(providerName: string): LlmProvider;
  /** What the provider's failures must not quote: its API key, header values and URL credentials. */
  secretsOf(providerName: string): readonly string[];
  /** Where the provider's requests go, if it can be built and is not a stand-in. */
  baseURLOf(providerName: string): string | undefined;
}

/** Providers usable without a config entry. */
const BUILT_IN_PROVIDERS = ["openai", "anthropic"] as const;

/** Local OpenAI-compatible servers ignore the key, but the SDK insists on one. */
const PLACEHOLDER_API_KEY = "not-needed";

/**
 * Builds providers lazily and caches them. Config values win over environment variables, so a
 * config file can pin a provider regardless of the shell it runs in.
 */
export function createProviderRegistry(
  llmConfig: { providers?: Record<string, ProviderConfig>; withoutApiKey?: "fail" | "scripted" },
  env: Record<string, string | undefined> = process.env,
): ProviderRegistry {
  const providers = llmConfig.providers ?? {};
  const cache = new Map<string, LlmProvider>();
  const secrets = new Map<string, readonly string[]>();
  // An empty setting (`${OPENAI_API_KEY:-}` with the variable unset) is a missing one.
  const given = (value: string | undefined): string | undefined => (value === undefined || value.trim() === "" ? undefined : value);
  const fromEnv = (name: string): string | undefined => given(env[name]);

  const build = (providerName: string): LlmProvider => {
    const config = Object.hasOwn(providers, providerName) ? providers[providerName] : undefined;
    const builtIn = (BUILT_IN_PROVIDERS as readonly string[]).includes(providerName);
    if (!config && !builtIn) {
      const configured = Object.keys(providers);
      throw ApplicationFailure.nonRetryable(
        `Unknown LLM provider "${providerName}". ` +
          (configured.length > 0 ? `Configured providers: ${configured.join(", ")}; ` : "No providers are configured; ") +
          `"openai" and "anthropic" are always available. ` +
          `Fix the model reference or add llm.providers.${providerName} (with kind and baseURL) to the config.`,
        FailureType.configuration,
      );
    }
    const kind = config?.kind ?? (providerName === "anthropic" ? "anthropic" : "openai");
    const keyVar = providerEnvVar(providerName, "API_KEY");
    const baseURL = given(config?.baseURL) ?? fromEnv(providerEnvVar(providerName, "BASE_URL"));
    let apiKey = given(config?.apiKey) ?? fromEnv(keyVar);
    if (apiKey === undefined) {
      const customServer = kind === "openai" && baseURL !== undefined && !isOfficialOpenAI(baseURL);
      if (!customServer && llmConfig.withoutApiKey === "scripted") return new ScriptedProvider(providerName, demoModel);
      if (!customServer) {
        throw ApplicationFailure.nonRetryable(
          `No API key for LLM provider "${providerName}": set the ${keyVar} environment variable ` +
            `or llm.providers.${providerName}.apiKey (duragent.secrets.yaml keeps it out of the main config).`,
          FailureType.configuration,
        );
      }
      apiKey = PLACEHOLDER_API_KEY;
    }
    const common = { name: providerName, apiKey, ...(baseURL !== undefined ? { baseURL } : {}), ...(config?.headers ? { headers: config.headers } : {}), ...(config?.stream !== undefined ? { stream: config.stream } : {}) };
    secrets.set(providerName, providerSecrets(common));
    if (kind === "anthropic") return new AnthropicProvider(common);
    return new OpenAIProvider({ ...common, legacyMaxTokens: baseURL !== undefined && !isOfficialOpenAI(baseURL) });
  };

  return {
    get(providerName) {
      let provider = cache.get(providerName);
      if (!provider) {
        provider = build(providerName);
        cache.set(providerName, provider);
      }
      return provider;
    },
    secretsOf(providerName) {
      return secrets.get(providerName) ?? [];
    },
    baseURLOf(providerName) {
      try {
        return this.get(providerName).baseURL;
      } catch {
        return undefined; // the call itself says why
      }
    },
  };
}

function isOfficialOpenAI(baseURL: string): boolean {
  try {
    return new URL(baseURL).hostname === new URL(OPENAI_DEFAULT_BASE_URL).hostname;
  } catch {
    return false;
  }
}

/**
 * Why the providers a config uses cannot be built (no API key, most often), one line each: the
 * default model's provider and every one the config lists. Empty when all can.
 */
export function unusableProviders(llm: DuragentConfig["llm"]): string[] {
  const registry = createProviderRegistry(llm);
  const names = new Set([parseModelRef(llm.defaultModel).provider, ...Object.keys(llm.providers ?? {})]);
  return [...names].flatMap((name) => {
    try {
      registry.get(name);
      return [];
    } catch (error) {
      return [error instanceof Error ? error.message : String(error)];
    }
  });
}
