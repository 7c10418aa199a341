/** Runs agents and workflows in this process, with the same activities a worker would use. */
import { randomUUID } from "node:crypto";
import { openActivityRuntime, type ActivityRuntime } from "../activities/activity-runtime.js";
import type { RunSettings } from "../common/run-settings.js";
import type { DuragentConfig } from "../config/schema.js";
import type { Logger } from "../logger.js";
import * as builtinWorkflows from "../workflows/builtin-workflows.js";
import { isDuragentWorkflow, type DuragentWorkflow } from "../workflows/define-workflow.js";
import { newRunId, targetInput, type Engine, type RunHandle } from "./engine.js";
import { MemoryExecutor } from "./memory-executor.js";
import { loadRunTargets, type RunTarget } from "./run-targets.js";

export class MemoryEngine implements Engine {
  readonly name = "memory" as const;
  private readonly runtime: ActivityRuntime;
  private readonly runs = new Map<string, RunHandle>();
  private workflowRegistry?: Promise<Map<string, DuragentWorkflow>>;

  constructor(
    private readonly config: DuragentConfig,
    private readonly settings: RunSettings,
    private readonly logger: Logger,
  ) {
    this.runtime = openActivityRuntime(config, logger);
  }

  async start(target: RunTarget, input: unknown): Promise<RunHandle> {
    const runId = newRunId(target, randomUUID());
    const workflow = (target.kind === "agent" ? builtinWorkflows.agentWorkflow : target.workflow) as DuragentWorkflow;
    const registry = await this.workflows();
    const executor = new MemoryExecutor(this.runtime.activities, this.settings, this.logger.child({ runId }), runId, (name) =>
      registry.get(name),
    );
    const outcome = workflow.body(executor, targetInput(target, input));
    outcome.catch(() => undefined); // observed through result()
    const handle: RunHandle = { runId, result: () => outcome };
    this.runs.set(runId, handle);
    return handle;
  }

  /** The workflows a Temporal worker would register: the built-in ones and the config's modules'. */
  private workflows(): Promise<Map<string, DuragentWorkflow>> {
    this.workflowRegistry ??= loadRunTargets(this.config).then((targets) => {
      const registry = new Map<string, DuragentWorkflow>();
      for (const [name, value] of Object.entries(builtinWorkflows)) {
        if (isDuragentWorkflow(value)) registry.set(name, value);
      }
      for (const target of targets.values()) if (target.kind === "workflow") registry.set(target.name, target.workflow);
      return registry;
    });
    return this.workflowRegistry;
  }

  async getHandle(runId: string): Promise<RunHandle> {
    const handle = this.runs.get(runId);
    if (!handle) throw new Error(`No run '${runId}' in this process: memory runs live only as long as their process.`);
    return handle;
  }

  close(): Promise<void> {
    return this.runtime.close();
  }
}
