/**
 * Where a provider's API key and base URL come from, and what a person is told when there is no
 * key. Light on purpose (no SDK imports), so the CLI can ask before any model is loaded.
 */
import { parseModelRef } from "../../common/llm.js";
import type { ProviderConfig } from "../../config/schema.js";

/**
 * The environment variable read for a provider setting: `OPENAI_API_KEY`, `ANTHROPIC_BASE_URL`,
 * or for a custom entry such as `my-vllm`, `MY_VLLM_API_KEY`.
 */
export function providerEnvVar(providerName: string, setting: "API_KEY" | "BASE_URL"): string {
  return `${providerName.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_${setting}`;
}

/**
 * The line to tell a person when a model of theirs will be answered by the scripted model (no
 * API key, and `llm.withoutApiKey: scripted`); undefined when a real provider answers.
 */
export function scriptedModelNotice(
  llmConfig: { defaultModel: string; providers?: Record<string, ProviderConfig>; withoutApiKey?: "fail" | "scripted" },
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  if (llmConfig.withoutApiKey !== "scripted") return undefined;
  const providerName = parseModelRef(llmConfig.defaultModel).provider;
  const config = llmConfig.providers?.[providerName];
  const keyVar = providerEnvVar(providerName, "API_KEY");
  if (config?.apiKey || env[keyVar] || config?.baseURL || env[providerEnvVar(providerName, "BASE_URL")]) return undefined;
  return `No ${keyVar}: duragent's scripted model answers instead of ${llmConfig.defaultModel} (it reads the files you name and quotes them). Set ${keyVar} for a real model.`;
}

