/**
 * duragent's own worker metrics, on the Temporal runtime's meter, so they are served beside the
 * SDK's at the worker's Prometheus endpoint: tokens and cost by model and agent, model-call and
 * MCP-call latency and errors by server and tool. (Runs by phase come from the workflows.)
 */
import type { MetricMeter } from "@temporalio/common";
import type { EffectMeter } from "./instrument-effects.js";

export function effectMeter(meter: MetricMeter): EffectMeter {
  const tokens = meter.createCounter("duragent_llm_tokens", "1", "Tokens by model, agent and kind (input, output, cached_input)");
  const cost = meter.createHistogram("duragent_llm_cost", "float", "USD", "Cost of each model call in US dollars (its _sum is the total), priced models only");
  const llmLatency = meter.createHistogram("duragent_llm_call_duration", "float", "ms", "Model call latency in milliseconds");
  const llmErrors = meter.createCounter("duragent_llm_call_errors", "1", "Failed model call attempts by model and error type");
  const unreported = meter.createCounter("duragent_llm_calls_without_usage", "1", "Model calls whose provider reported no usage (not in the token and cost figures), by model and agent");
  const mcpLatency = meter.createHistogram("duragent_mcp_call_duration", "float", "ms", "MCP call latency in milliseconds, by server, method and tool");
  const mcpErrors = meter.createCounter("duragent_mcp_call_errors", "1", "Failed MCP calls (and tool error results) by server, method, tool and error type");
  return {
    modelCall({ model, agent, ms, response, cost: usd, error }) {
      const tags = { model, agent };
      llmLatency.record(ms, { ...tags, outcome: error ? "error" : "ok" });
      if (error) llmErrors.add(1, { ...tags, error_type: error });
      if (response?.usage.unreportedCalls) unreported.add(1, tags);
      else if (response) {
        tokens.add(response.usage.inputTokens, { ...tags, kind: "input" });
        tokens.add(response.usage.outputTokens, { ...tags, kind: "output" });
        const cached = (response.usage as { cachedInputTokens?: number }).cachedInputTokens;
        if (cached) tokens.add(cached, { ...tags, kind: "cached_input" });
      }
      if (usd !== undefined) cost.record(usd, tags);
    },
    mcpCall({ server, method, tool, ms, error }) {
      const tags = { server, method, tool: tool ?? "" };
      mcpLatency.record(ms, { ...tags, outcome: error ? "error" : "ok" });
      if (error) mcpErrors.add(1, { ...tags, error_type: error });
    },
  };
}
