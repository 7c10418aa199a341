/**
 * Runs started without duragent's client (`temporal workflow start`, a Temporal Schedule, a child
 * workflow of another SDK's workflow) send only what their caller knows: an agent or pattern by
 * name and a message, or a module workflow's own input. The worker's config gives the rest, as
 * `duragent run` would have: the target's definition and the run's settings.
 */
import { ApplicationFailure } from "@temporalio/common";
import { z } from "zod";
import { FailureType } from "../common/failures.js";
import { ToolContextSchema } from "../common/tools.js";
import type { RunSettings } from "../common/run-settings.js";
import type { RunInputFromConfig, StartedElsewhere } from "../common/started-elsewhere.js";
import { agentWorkflowName, chatWorkflowName, targetInput, workflowType } from "../client/engine.js";
import type { RunTarget } from "../client/run-targets.js";
import { patternWorkflowName } from "../workflows/patterns/child-pattern.js";
import { formatZodError, inputPreview } from "../errors/zod-issues.js";

const toolContext = ToolContextSchema.optional();
const agentArgument = z.strictObject({ agent: z.string().min(1), message: z.unknown(), toolContext });
const patternArgument = z.strictObject({ pattern: z.string().min(1), input: z.unknown(), toolContext });
const chatArgument = z
  .strictObject({ agent: z.string().min(1).optional(), pattern: z.string().min(1).optional(), turnsPerRun: z.number().int().positive().optional(), toolContext })
  .refine((chat) => (chat.agent === undefined) !== (chat.pattern === undefined), { message: "name the agent or the pattern to chat with (one of them)" });

/** How each kind of target is started from outside, for the failure that says so. */
function howToStart(target: Pick<RunTarget, "kind" | "name">): string {
  if (target.kind === "agent") return `${agentWorkflowName} with {"agent": "${target.name}", "message": "…"}`;
  if (target.kind === "pattern") return `${patternWorkflowName} with {"pattern": "${target.name}", "input": "…"}`;
  return `${target.name} with the workflow's own input`;
}

const usage =
  `A run started without duragent's client takes: ${agentWorkflowName} {"agent": "<an agent in the worker's config>", "message": "<text>"}, ` +
  `${patternWorkflowName} {"pattern": "<a workflow under \`workflows:\`>", "input": "<text>"}, ${chatWorkflowName} {"agent": "<an agent>"} or {"pattern": "<a workflow under \`workflows:\`>"}, ` +
  "or a module workflow's own input; the worker's config gives the settings.";

function refused(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.invalidRunInput, nonRetryable: true });
}

/** The run `duragent run` would have started for this argument, or a failure that says what the workflow takes. */
export function runInputFromConfig(targets: ReadonlyMap<string, RunTarget>, settings: RunSettings, { workflowType: type, argument }: StartedElsewhere): RunInputFromConfig {
  const named = (name: string, kind: RunTarget["kind"]): RunTarget => {
    const target = targets.get(name);
    if (!target) {
      const known = [...targets.values()].filter((one) => one.kind === kind).map((one) => one.name);
      throw refused(`No ${kind} is called '${name}' in the worker's config${known.length > 0 ? ` (${kind}s: ${known.slice(0, 40).join(", ")})` : ""}. ${usage}`);
    }
    if (target.kind !== kind) throw refused(`'${name}' is ${target.kind === "agent" ? "an agent" : `a ${target.kind}`}: start ${howToStart(target)}.`);
    return target;
  };
  const input = (target: RunTarget, value: unknown): unknown => {
    try {
      return targetInput(target, value);
    } catch (error) {
      const message = (error as Error).message;
      throw refused(/[.!?]$/.test(message) ? message : `${message}.`);
    }
  };
  const parse = <T>(schema: z.ZodType<T>): T => {
    const parsed = schema.safeParse(argument, { reportInput: true });
    if (parsed.success) return parsed.data;
    const settings = typeof argument === "object" && argument !== null && "settings" in argument;
    throw refused(
      `${type} got ${inputPreview(argument, 120)}: ${formatZodError(parsed.error, "its input", schema).replace(/\n\s*/g, " ")}. ` +
        (settings ? "`settings` are duragent's own, made by its client; leave them out and the worker's config gives them. " : "") +
        usage,
    );
  };
  // Its tool context, beside the name: the values its function tools read.
  const withContext = (context: Record<string, unknown> | undefined): RunSettings => (context === undefined ? settings : { ...settings, toolContext: context });
  if (type === agentWorkflowName) {
    const { agent, message, toolContext } = parse(agentArgument);
    const target = named(agent, "agent");
    return { input: input(target, message), settings: withContext(toolContext), target: target.name };
  }
  if (type === patternWorkflowName) {
    const { pattern, input: text, toolContext } = parse(patternArgument);
    const target = named(pattern, "pattern");
    return { input: input(target, text), settings: withContext(toolContext), target: target.name };
  }
  if (type === chatWorkflowName) {
    const { agent, pattern, turnsPerRun, toolContext } = parse(chatArgument);
    const target = (agent !== undefined ? named(agent, "agent") : named(pattern!, "pattern")) as Extract<RunTarget, { kind: "agent" | "pattern" }>;
    const turns = turnsPerRun !== undefined ? { turnsPerRun } : {};
    return { input: target.kind === "agent" ? { agent: target.agent, ...turns } : { pattern: target.spec, ...turns }, settings: withContext(toolContext), target: target.name };
  }
  const target = targets.get(type);
  if (!target || workflowType(target) !== type) throw refused(`The worker's config has no workflow '${type}'. ${usage}`);
  return { input: input(target, argument), settings, target: target.name };
}
