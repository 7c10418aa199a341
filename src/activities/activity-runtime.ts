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
import { instrumentEffects, instrumentModelCalls, type EffectMeter, type InstrumentOptions } from "../telemetry/instrument-effects.js";

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

/** Spans and measurements, only where something receives them: every step pays for the wrapping. */
function observing(options: ActivityRuntimeOptions): boolean {
  return options.traced === true || options.meter !== undefined;
}

function instrumentOptions(config: DuragentConfig, providers: ProviderRegistry, options: ActivityRuntimeOptions): InstrumentOptions {
  return {
    captureContent: options.captureContent ?? false,
    providerKinds: Object.fromEntries(Object.entries(config.llm.providers ?? {}).map(([name, provider]) => [name, provider.kind ?? name])),
    baseURLOf: (provider) => providers.baseURLOf(provider),
    mcpServers: config.mcp.servers,
    ...(config.pricing ? { prices: config.pricing } : {}),
    ...(options.meter ? { meter: options.meter } : {}),
  };
}

export function openActivityRuntime(config: DuragentConfig, logger: Logger, options: ActivityRuntimeOptions = {}): ActivityRuntime {
  const providers = createProviderRegistry(config.llm);
  const observed = observing(options) ? instrumentOptions(config, providers, options) : undefined;
  // Wrapped where the request is whole (its transcript expanded), agents' calls and servers' sampling requests alike.
  const limited = Object.entries(config.llm.providers).flatMap(([name, provider]) => (provider.maxConcurrentCalls !== undefined ? [[name, provider.maxConcurrentCalls] as const] : []));
  const rateLimits = {
    ...(config.llm.rateLimitWaitMs !== undefined ? { rateLimitWaitMs: config.llm.rateLimitWaitMs } : {}),
    ...(limited.length > 0 ? { maxConcurrentCalls: Object.fromEntries(limited) } : {}),
  };
  const callLlm = observed ? instrumentModelCalls(createCallLlm(providers, rateLimits), observed) : createCallLlm(providers, rateLimits);
  const mcp = new McpConnectionPool(config.mcp.servers, {
    logger: logger.child({ component: "mcp" }),
    // Servers' sampling requests go through the same providers as agents' model calls.
    sampling: { callLlm, defaultModel: config.llm.defaultModel },
  });
  const { maxToolResultBytes } = runSettingsFromConfig(config);
  const effects = createEffects({ callLlm, mcp, resolveTranscript: createTranscriptResolver(), maxToolResultBytes });
  return {
    effects: observed ? instrumentEffects(effects, observed) : effects,
    mcp,
    close: () => mcp.closeAll(),
  };
}
