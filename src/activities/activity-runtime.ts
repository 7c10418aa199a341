/**
 * Everything activities need on a worker, built from the config: the model providers and the MCP
 * connection pool. Secrets stay here, on the worker side, and never enter workflow history.
 */
import type { DuragentConfig } from "../config/schema.js";
import { runSettingsFromConfig } from "../config/load-config.js";
import type { Logger } from "../logger.js";
import type { EffectImplementations } from "../common/effects.js";
import { createEffects } from "./index.js";
import { createCallLlm } from "./llm/call-llm.js";
import { createProviderRegistry, type ProviderRegistry } from "./llm/provider-registry.js";
import { createTranscriptResolver } from "./llm/transcript-resolver.js";
import { McpConnectionPool } from "./mcp/connection-pool.js";
import { instrumentEffects, type EffectMeter } from "../telemetry/instrument-effects.js";

export interface ActivityRuntime {
  /** The implementation of each effect: what the memory engine calls, and what activities wrap. */
  effects: EffectImplementations;
  mcp: McpConnectionPool;
  /** Closes every MCP connection; no server process outlives it. */
  close(): Promise<void>;
}

export interface ActivityRuntimeOptions {
  /** Where model and MCP call measurements go (a worker's Prometheus metrics). */
  meter?: EffectMeter;
  /** This process exports spans (tracing.ts started); without it or a meter, effects are not wrapped at all. */
  traced?: boolean;
  /** Prompts, completions and tool content on spans (`telemetry.tracing.captureContent`). */
  captureContent?: boolean;
}

/** Spans and measurements around each effect, only where something receives them: every step pays for the wrapping. */
function observed(effects: EffectImplementations, config: DuragentConfig, providers: ProviderRegistry, options: ActivityRuntimeOptions): EffectImplementations {
  if (!options.traced && !options.meter) return effects;
  return instrumentEffects(effects, {
    captureContent: options.captureContent ?? false,
    baseURLOf: (provider) => providers.baseURLOf(provider),
    mcpServers: config.mcp.servers,
    providerKinds: Object.fromEntries(Object.entries(config.llm.providers ?? {}).map(([name, provider]) => [name, provider.kind ?? name])),
    ...(config.pricing ? { prices: config.pricing } : {}),
    ...(options.meter ? { meter: options.meter } : {}),
  });
}

export function openActivityRuntime(config: DuragentConfig, logger: Logger, options: ActivityRuntimeOptions = {}): ActivityRuntime {
  const providers = createProviderRegistry(config.llm);
  const callLlm = createCallLlm(providers);
  const mcp = new McpConnectionPool(config.mcp.servers, {
    logger: logger.child({ component: "mcp" }),
    // Servers' sampling requests go through the same providers as agents' model calls.
    sampling: { callLlm, defaultModel: config.llm.defaultModel },
  });
  const { maxToolResultBytes } = runSettingsFromConfig(config);
  return {
    effects: observed(createEffects({ callLlm, mcp, resolveTranscript: createTranscriptResolver(), maxToolResultBytes }), config, providers, options),
    mcp,
    close: () => mcp.closeAll(),
  };
}
