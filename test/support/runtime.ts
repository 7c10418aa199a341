/** Builds real configs, engines and workers for tests: scripted model over HTTP, real MCP servers. */
import { randomUUID } from "node:crypto";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import type { WorkflowBundle } from "@temporalio/worker";
import { runSettingsFromConfig } from "../../src/config/load-config.js";
import { ConfigSchema, type DuragentConfig } from "../../src/config/schema.js";
import { MemoryEngine } from "../../src/client/memory-engine.js";
import { TemporalEngine } from "../../src/client/temporal-engine.js";
import { createLogger } from "../../src/logger.js";
import type { ScriptedModelServer } from "../../src/testing/scripted-model-server.js";
import { createWorker } from "../../src/worker.js";
import { loadWorkflowBundle } from "../../src/worker/workflow-bundle.js";

export type ConfigInput = Parameters<typeof ConfigSchema.parse>[0] & Record<string, unknown>;

/** A validated config whose OpenAI and Anthropic providers both point at the scripted server. */
export function testConfig(model: ScriptedModelServer, config: Record<string, unknown> = {}): DuragentConfig {
  const llm = (config.llm ?? {}) as Record<string, unknown>;
  return ConfigSchema.parse({
    ...config,
    llm: {
      ...llm,
      providers: {
        openai: { apiKey: "test-openai-key", baseURL: model.openaiBaseURL },
        anthropic: { apiKey: "test-anthropic-key", baseURL: model.anthropicBaseURL },
      },
    },
  });
}

export function memoryEngine(config: DuragentConfig): MemoryEngine {
  return new MemoryEngine(config, runSettingsFromConfig(config), createLogger("test", "silent"));
}

let sharedBundle: Promise<WorkflowBundle> | undefined;

/**
 * The built-in workflows plus `modules`, bundled; from the worker's own bundle cache when nothing
 * that goes into it changed, so test files (and test runs) share one webpack build.
 */
export async function bundleWorkflows(modules: string[]): Promise<WorkflowBundle> {
  const { code } = await loadWorkflowBundle({ modules });
  return { code };
}

/** The built-in workflows, bundled once per test process. */
export function builtinBundle(): Promise<WorkflowBundle> {
  sharedBundle ??= bundleWorkflows([]);
  return sharedBundle;
}

/**
 * Runs `body` with an in-process worker on its own task queue and a TemporalEngine connected to
 * the test server; shuts both down afterwards.
 */
export async function withTemporalWorker<T>(
  env: TestWorkflowEnvironment,
  baseConfig: DuragentConfig,
  body: (engine: TemporalEngine, config: DuragentConfig) => Promise<T>,
  options: { workflowBundle?: WorkflowBundle } = {},
): Promise<T> {
  const config: DuragentConfig = {
    ...baseConfig,
    temporal: { ...baseConfig.temporal, address: env.address, taskQueue: `test-${randomUUID()}` },
  };
  const worker = await createWorker({
    config,
    logger: createLogger("test-worker", "silent"),
    workflowBundle: options.workflowBundle ?? (await builtinBundle()),
  });
  const engine = await TemporalEngine.connect(config, runSettingsFromConfig(config));
  try {
    return await worker.worker.runUntil(body(engine, config));
  } finally {
    await engine.close();
    await worker.close();
  }
}
