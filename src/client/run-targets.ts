/**
 * Finds what `duragent run <name>` means: a declarative agent or pattern from the config, or an
 * agent or workflow exported by one of the config's `modules`.
 */
import type { DuragentConfig } from "../config/schema.js";
import { displayPath, ExitCode, UserError } from "../errors/user-error.js";
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
  override name = "RunTargetNotFound" as const;
  constructor(
    readonly target: string,
    readonly known: string[],
    /** Why the config may not be the one meant: e.g. that no config file was found. */
    hint?: string,
  ) {
    super(
      `No agent or workflow is called '${target}'. ` +
        (known.length > 0 ? `Known: ${shortList(known)}.` : "Define one under `agents:` in duragent.config.yaml.") +
        " Agents come from `agents:` and patterns from `workflows:` in the config; agents and workflows also from the modules listed under `modules:`.",
      { exitCode: ExitCode.notFound, ...(hint ? { hint } : {}) },
    );
  }
}

/** The first names of a long list, and how many more: a config may hold thousands. */
function shortList(names: readonly string[], shown = 40): string {
  return names.length <= shown ? names.join(", ") : `${names.slice(0, shown).join(", ")} and ${names.length - shown} more`;
}

/** Two definitions under one name: which one a run would get is not for duragent to guess. */
export class DuplicateRunTarget extends UserError {
  override name = "DuplicateRunTarget" as const;
  constructor(
    readonly target: string,
    readonly where: [string, string],
  ) {
    super(`Two definitions are called '${target}': ${where[0]} and ${where[1]}.`, {
      hint: "Rename one of them: runs, `duragent run` and the Web UI find agents and workflows by name.",
    });
  }
}

export async function loadRunTargets(config: DuragentConfig): Promise<Map<string, RunTarget>> {
  const targets = new Map<string, RunTarget>();
  const origins = new Map<string, { where: string; value: unknown }>();
  const add = (target: RunTarget, where: string, value: unknown) => {
    const known = origins.get(target.name);
    // One definition exported twice (say, named and default) is still one.
    if (known && known.value !== value) throw new DuplicateRunTarget(target.name, [known.where, where]);
    origins.set(target.name, { where, value });
    targets.set(target.name, target);
  };
  for (const [name, agent] of Object.entries(config.agents)) {
    add({ kind: "agent", name, agent: { name, ...agent } }, `the agent under \`agents:\` in the config`, agent);
  }
  for (const [name, spec] of Object.entries(config.workflows)) {
    // Agents are named in the config and sent as full specs, so the run needs no config.
    const resolved = resolveAgentReferences({ name, ...spec }, config.agents);
    add({ kind: "pattern", name, spec: resolved, workflow: patternWorkflow as DuragentWorkflow }, `the workflow under \`workflows:\` in the config`, spec);
  }
  for (const modulePath of config.modules) {
    const exports = await importModule(modulePath);
    const module = displayPath(modulePath);
    // A named export names a definition better than `default`.
    for (const [exportName, value] of Object.entries(exports).sort(([a], [b]) => Number(a === "default") - Number(b === "default"))) {
      if (isDuragentWorkflow(value)) add({ kind: "workflow", name: exportName, workflow: value }, `the workflow exported as '${exportName}' by ${module}`, value);
      else if (isAgent(value)) add({ kind: "agent", name: value.spec.name, agent: value.spec }, `the agent exported as '${exportName}' by ${module}`, value);
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
