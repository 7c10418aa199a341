/**
 * Finds what `duragent run <name>` means: a declarative agent or pattern from the config, or an
 * agent or workflow exported by one of the config's `modules`.
 */
import type { DuragentConfig } from "../config/schema.js";
import { ExitCode, UserError } from "../errors/user-error.js";
import { isAgent, type AgentSpec } from "../workflows/agent/define-agent.js";
import { patternWorkflow } from "../workflows/builtin-workflows.js";
import { isDuragentWorkflow, type DuragentWorkflow } from "../workflows/define-workflow.js";
import { resolveAgentReferences, type PatternSpec } from "../workflows/patterns/pattern-spec.js";
import { importModule } from "./module-loader.js";

export type RunTarget =
  | { kind: "agent"; name: string; agent: AgentSpec }
  | { kind: "workflow"; name: string; workflow: DuragentWorkflow }
  /** A pattern from the config's `workflows:`, run by the built-in `patternWorkflow`. */
  | { kind: "pattern"; name: string; spec: PatternSpec; workflow: DuragentWorkflow };

export class RunTargetNotFound extends UserError {
  override name = "RunTargetNotFound";
  constructor(
    readonly target: string,
    readonly known: string[],
  ) {
    super(
      `No agent or workflow is called '${target}'. ` +
        (known.length > 0 ? `Known: ${known.join(", ")}.` : "Define one under `agents:` in duragent.config.yaml.") +
        " Agents come from `agents:` and patterns from `workflows:` in the config; agents and workflows also from the modules listed under `modules:`.",
      { exitCode: ExitCode.notFound },
    );
  }
}

export async function loadRunTargets(config: DuragentConfig): Promise<Map<string, RunTarget>> {
  const targets = new Map<string, RunTarget>();
  for (const [name, agent] of Object.entries(config.agents)) {
    targets.set(name, { kind: "agent", name, agent: { name, ...agent } });
  }
  for (const [name, spec] of Object.entries(config.workflows)) {
    // Agents are named in the config and sent as full specs, so the run needs no config.
    const resolved = resolveAgentReferences({ name, ...spec }, config.agents);
    targets.set(name, { kind: "pattern", name, spec: resolved, workflow: patternWorkflow as DuragentWorkflow });
  }
  for (const modulePath of config.modules) {
    const exports = await importModule(modulePath);
    for (const [exportName, value] of Object.entries(exports)) {
      if (isDuragentWorkflow(value)) targets.set(exportName, { kind: "workflow", name: exportName, workflow: value });
      else if (isAgent(value)) targets.set(value.spec.name, { kind: "agent", name: value.spec.name, agent: value.spec });
    }
  }
  return targets;
}

export async function findRunTarget(config: DuragentConfig, name: string): Promise<RunTarget> {
  const targets = await loadRunTargets(config);
  const target = targets.get(name);
  if (!target) throw new RunTargetNotFound(name, [...targets.keys()]);
  return target;
}
