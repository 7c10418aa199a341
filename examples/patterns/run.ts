/**
 * Runs one pattern example offline: starts the scripted model, points the OpenAI provider at it
 * and runs the pattern on the memory engine.
 *
 *   npx tsx examples/patterns/run.ts <chain|parallel|router|intent-classifier|orchestrator|evaluator-optimizer|swarm|nested|all>
 *   npx tsx examples/patterns/run.ts research   # the declarative `workflows:` entry, through the real CLI
 */
import { fileURLToPath } from "node:url";
import { main as cli } from "../../src/cli/main.js";
import { runSettingsFromConfig } from "../../src/config/load-config.js";
import { ConfigSchema } from "../../src/config/schema.js";
import { MemoryEngine } from "../../src/client/memory-engine.js";
import { createLogger } from "../../src/logger.js";
import { startScriptedModelServer } from "../../src/testing/scripted-model-server.js";
import { patternWorkflow } from "../../src/workflows/builtin-workflows.js";
import type { DuragentWorkflow, PatternRunResult } from "../../src/workflows/index.js";
import { nestedScenario, scenarios, type Scenario } from "./scenarios.js";

const examples: Record<string, Scenario> = { ...scenarios, nested: nestedScenario };

async function runExample(name: string, scenario: Scenario): Promise<void> {
  const model = await startScriptedModelServer(scenario.script, { quiet: true });
  const config = ConfigSchema.parse({
    llm: { defaultModel: "openai:scripted", providers: { openai: { apiKey: "offline", baseURL: model.openaiBaseURL } } },
    execution: { llm: { maximumAttempts: 1 } },
  });
  const engine = new MemoryEngine(config, runSettingsFromConfig(config), createLogger("example", "silent"));
  try {
    const target = { kind: "pattern" as const, name, spec: scenario.spec, workflow: patternWorkflow as DuragentWorkflow };
    const handle = await engine.start(target, scenario.input);
    const result = (await handle.result()) as PatternRunResult;
    console.log(`${name}: ${scenario.description}\n  input:  ${scenario.input}\n  answer: ${result.text.replace(/\n/g, "\n          ")}\n  model calls: ${model.requests.length} (at most ${model.maxInFlight} at once)\n`);
  } finally {
    await engine.close();
    await model.close();
  }
}

// The declarative example: the config's `research` orchestrator, started by `duragent run`.
async function runDeclarative(): Promise<void> {
  const model = await startScriptedModelServer(scenarios.orchestrator.script, { quiet: true });
  process.env.DURAGENT_OPENAI_BASE_URL = model.openaiBaseURL;
  process.env.OPENAI_API_KEY ??= "offline";
  process.env.DURAGENT_MODEL = "openai:scripted";
  try {
    const configPath = fileURLToPath(new URL("./duragent.config.yaml", import.meta.url));
    const argv = [process.argv[0] ?? "node", "duragent", "run", "research", "--config", configPath, "--engine", "memory", "--input", "Explain durable execution"];
    process.exitCode = await cli(argv);
  } finally {
    await model.close();
  }
}

const name = process.argv[2] ?? "";
if (name === "research") await runDeclarative();
else if (name === "all") for (const [each, scenario] of Object.entries(examples)) await runExample(each, scenario);
else if (examples[name]) await runExample(name, examples[name]);
else {
  console.error(`Usage: npx tsx examples/patterns/run.ts <${[...Object.keys(examples), "all", "research"].join("|")}>`);
  process.exitCode = 2;
}
