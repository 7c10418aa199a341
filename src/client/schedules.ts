/**
 * Schedules: a target started again and again by a Temporal Schedule. Each run names its target as
 * a run from Temporal's own tools does (`{"agent", "message"}`, `{"pattern", "input"}`, a module
 * workflow's own input), so it takes the workers' config of its day, not the one of the day it was
 * scheduled. What is decided here; the Temporal engine does the calls.
 */
import { msToNumber } from "@temporalio/common";
import { z } from "zod";
import { UserError, ExitCode } from "../errors/user-error.js";
import { formatZodError } from "../errors/zod-issues.js";
import { agentWorkflowName, targetInput } from "./engine.js";
import type { RunTarget } from "./run-targets.js";
import { patternWorkflowName } from "../workflows/patterns/child-pattern.js";

import { overlapPolicies, type Overlap } from "../common/schedule-overlap.js";
import { ToolContextSchema } from "../common/tools.js";

export { overlapPolicies, type Overlap };

const interval = z.string().refine(
  (text) => {
    try {
      return msToNumber(text as `${number}s`) >= 1_000;
    } catch {
      return false;
    }
  },
  { message: "expected a duration of a second or more, such as 30s, 15m, 1h or 1d" },
);
const oneOrMore = <T extends z.ZodType<string>>(item: T) => z.union([item, z.array(item).min(1)]).transform((value) => (Array.isArray(value) ? value : [value]));

export const ScheduleOptionsSchema = z
  .strictObject({
    /** The schedule's id, and the start of its runs' ids (Temporal adds the time). Default: the target's name. */
    id: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[^\s/]+$/, "expected no spaces or slashes")
      .optional(),
    /** Cron expressions (`0 7 * * *`, `@daily`), in `timezone`. */
    cron: oneOrMore(z.string().trim().min(1)).optional(),
    /** Intervals (`1h`, `15m`): a run every so often, from the epoch. */
    every: oneOrMore(interval).optional(),
    /** An IANA time zone for `cron` (`Europe/Paris`); default UTC. */
    timezone: z.string().min(1).optional(),
    /** What happens when a run is due while the last is still running; default `skip`. */
    overlap: z.enum(Object.keys(overlapPolicies) as [Overlap, ...Overlap[]]).optional(),
    /** Why the schedule exists, or why it is paused: shown by `schedule describe` and the Web UI. */
    note: z.string().max(1000).optional(),
    /** Created paused: no run until `unpause`. */
    paused: z.boolean().optional(),
    /** Each run's tool context (see `StartOptions.toolContext`); for agents and patterns, whose input names them. */
    toolContext: ToolContextSchema.optional(),
  })
  .refine((options) => options.cron !== undefined || options.every !== undefined, { message: "give `cron` or `every` (or both): when the runs are due" });

export type ScheduleOptions = z.input<typeof ScheduleOptionsSchema>;
type CheckedScheduleOptions = z.output<typeof ScheduleOptionsSchema>;

/** The options, checked, or a usage error that names what is wrong. */
export function checkScheduleOptions(options: unknown): CheckedScheduleOptions {
  const parsed = ScheduleOptionsSchema.safeParse(options);
  if (parsed.success) return parsed.data;
  throw new UserError(`Invalid schedule options: ${formatZodError(parsed.error, "the options", ScheduleOptionsSchema).replace(/\n\s*/g, " ")}`, { name: "InvalidOptions" });
}

/**
 * What a scheduled run is started with: the workflow type and the input that names its target. A
 * module workflow's input is checked here and sent as given: each run's worker parses it again.
 */
export function scheduledStart(target: RunTarget, input: unknown, toolContext?: Record<string, unknown>): { workflowType: string; argument: unknown } {
  const checked = targetInput(target, input);
  const context = toolContext !== undefined ? { toolContext } : {};
  if (target.kind === "agent") return { workflowType: agentWorkflowName, argument: { agent: target.name, message: (checked as { message: string }).message, ...context } };
  if (target.kind === "pattern") return { workflowType: patternWorkflowName, argument: { pattern: target.name, input: (checked as { input: string }).input, ...context } };
  if (toolContext !== undefined) {
    throw new UserError(`'${target.name}' is a module workflow, whose scheduled runs take its own input alone: no tool context.`, {
      name: "InvalidOptions",
      hint: "Put what its tools need in its input, and give it to them with ctx.callTool({ …, toolContext }).",
    });
  }
  return { workflowType: target.name, argument: input };
}

/** The schedule's id: the one given, else the target's name, either checked as `--id` is. */
export function scheduleIdOf(target: RunTarget, options: CheckedScheduleOptions): string {
  const id = options.id ?? target.name;
  if (!/^[^\s/]{1,200}$/.test(id)) {
    throw new UserError(`'${id}' cannot be a schedule's id (no spaces or slashes, at most 200 characters).`, { name: "InvalidOptions", hint: "Give one with --id (`id` in code)." });
  }
  return id;
}

/** Kept in the schedule's memo: what Temporal turns into calendars, as it was given. */
export interface ScheduleMemo {
  target: string;
  kind: RunTarget["kind"];
  cron?: string[];
  every?: string[];
}

export function scheduleMemo(target: RunTarget, options: CheckedScheduleOptions): ScheduleMemo {
  return { target: target.name, kind: target.kind, ...(options.cron ? { cron: options.cron } : {}), ...(options.every ? { every: options.every } : {}) };
}

/** A schedule as `schedule list` shows it. */
export interface ScheduleSummary {
  id: string;
  /** The agent, pattern or module workflow it starts. */
  target: string;
  cron: string[];
  /** The IANA time zone of `cron`; UTC when absent. */
  timezone?: string;
  every: string[];
  paused: boolean;
  note?: string;
  /** When the next run is due (ISO 8601); none while paused. */
  nextRun?: string;
  /** The last run it started. */
  lastRun?: ScheduledRun;
}

/** A schedule as `schedule describe` shows it. */
export interface ScheduleDescription extends ScheduleSummary {
  /** The input each run is started with: the message, or a module workflow's input. */
  input: unknown;
  /** Each run's tool context, when it has one. */
  toolContext?: Record<string, unknown>;
  overlap: Overlap;
  /** The next few times a run is due. */
  nextRuns: string[];
  /** The runs it started lately, oldest first. */
  recentRuns: ScheduledRun[];
  /** Its runs still running. */
  runningRuns: string[];
  /** Runs that came due while one still ran and that the overlap policy skipped, since the schedule was made. */
  skippedRuns: number;
  /** Runs that came due while Temporal could not start them (its catch-up window passed), since the schedule was made. */
  missedRuns: number;
  /** Its page in Temporal's Web UI. */
  link?: string;
}

export interface ScheduledRun {
  runId: string;
  /** When it was due, and when Temporal started it. */
  scheduledAt: string;
  startedAt: string;
}

interface TemporalScheduleView {
  scheduleId: string;
  memo?: Record<string, unknown> | undefined;
  spec?: { timezone?: string | undefined } | undefined;
  state: { paused: boolean; note?: string | undefined };
  info: { nextActionTimes: Date[]; recentActions: { scheduledAt: Date; takenAt: Date; action: { workflow: { workflowId: string } } }[]; numActionsSkippedOverlap?: number; numActionsMissedCatchupWindow?: number };
}

const MemoSchema = z.object({ duragent: z.object({ target: z.string(), cron: z.array(z.string()).optional(), every: z.array(z.string()).optional() }) });

/** A schedule Temporal lists, as duragent shows it; undefined for one duragent did not make. */
export function scheduleSummary(schedule: TemporalScheduleView): ScheduleSummary | undefined {
  const memo = MemoSchema.safeParse(schedule.memo);
  if (!memo.success) return undefined;
  const { target, cron = [], every = [] } = memo.data.duragent;
  const runs = schedule.info.recentActions.map(scheduledRun);
  const next = schedule.state.paused ? undefined : schedule.info.nextActionTimes[0];
  return {
    id: schedule.scheduleId,
    target,
    cron,
    ...(schedule.spec?.timezone ? { timezone: schedule.spec.timezone } : {}),
    every,
    paused: schedule.state.paused,
    ...(schedule.state.note ? { note: schedule.state.note } : {}),
    ...(next ? { nextRun: next.toISOString() } : {}),
    ...(runs.length > 0 ? { lastRun: runs.at(-1)! } : {}),
  };
}

export function scheduleDescription(
  schedule: TemporalScheduleView & { action: { args?: readonly unknown[] | undefined }; policies: { overlap?: string | undefined } },
  runningRuns: string[],
): ScheduleDescription {
  const summary = scheduleSummary(schedule);
  if (!summary) throw notDuragents(schedule.scheduleId);
  const argument = schedule.action.args?.[0];
  const toolContext = toolContextOf(argument);
  const overlap = overlapOf(schedule.policies.overlap);
  return {
    ...summary,
    input: inputOf(argument),
    ...(toolContext ? { toolContext } : {}),
    overlap,
    nextRuns: schedule.state.paused ? [] : schedule.info.nextActionTimes.map((time) => time.toISOString()),
    recentRuns: schedule.info.recentActions.map(scheduledRun),
    runningRuns,
    skippedRuns: schedule.info.numActionsSkippedOverlap ?? 0,
    missedRuns: schedule.info.numActionsMissedCatchupWindow ?? 0,
  };
}

/** The overlap policy as duragent names it, from Temporal's; `skip`, Temporal's default, when it gives none. */
export function overlapOf(policy: string | undefined): Overlap {
  return (Object.entries(overlapPolicies).find(([, known]) => known === policy)?.[0] ?? "skip") as Overlap;
}

/** What a trigger did, by the schedule's overlap policy and its runs running when it came. */
export interface TriggerOutcome {
  /** `starts`: a run starts now; `skipped`: none (a run still runs, under `skip`); `buffered`: one starts when the running one ends; `cancels` / `terminates`: the running one is ended first. */
  effect: "starts" | "skipped" | "buffered" | "cancels" | "terminates";
  overlap: Overlap;
  /** The schedule's runs running when the trigger came. */
  running: string[];
}

/** `buffered`: the runs the schedule already holds back until the running one ends. */
export function triggerOutcome(overlap: Overlap, running: string[], buffered = 0): TriggerOutcome {
  const effects: Record<Overlap, TriggerOutcome["effect"]> = { skip: "skipped", "buffer-one": "buffered", "buffer-all": "buffered", "cancel-other": "cancels", "terminate-other": "terminates", "allow-all": "starts" };
  // `buffer-one` holds one back: a trigger while it does is skipped.
  const effect = running.length === 0 ? "starts" : overlap === "buffer-one" && buffered > 0 ? "skipped" : effects[overlap];
  return { effect, overlap, running };
}

/** The tool context each run is started with (see `scheduledStart`). */
function toolContextOf(argument: unknown): Record<string, unknown> | undefined {
  const named = z.union([z.object({ agent: z.string() }), z.object({ pattern: z.string() })]).and(z.object({ toolContext: z.record(z.string(), z.unknown()) }));
  const parsed = named.safeParse(argument);
  return parsed.success ? parsed.data.toolContext : undefined;
}

/** The message or input inside what a run is started with (see `scheduledStart`). */
function inputOf(argument: unknown): unknown {
  if (typeof argument === "object" && argument !== null) {
    if ("agent" in argument && "message" in argument) return argument.message;
    if ("pattern" in argument && "input" in argument) return argument.input;
  }
  return argument;
}

function scheduledRun(action: TemporalScheduleView["info"]["recentActions"][number]): ScheduledRun {
  return { runId: action.action.workflow.workflowId, scheduledAt: action.scheduledAt.toISOString(), startedAt: action.takenAt.toISOString() };
}

/** No such schedule, or none duragent made (`reason` says which). */
export class ScheduleNotFound extends UserError {
  override name = "ScheduleNotFound" as const;
  constructor(
    readonly scheduleId: string,
    reason = `No schedule '${scheduleId}'. Check the id with \`duragent schedule list\`.`,
  ) {
    super(reason, { exitCode: ExitCode.notFound });
  }
}

export class ScheduleAlreadyExists extends UserError {
  override name = "ScheduleAlreadyExists" as const;
  constructor(readonly scheduleId: string) {
    super(`A schedule '${scheduleId}' already exists.`, { hint: `Give another id (--id), or delete it first (\`duragent schedule delete '${scheduleId}'\`).` });
  }
}

function notDuragents(scheduleId: string): ScheduleNotFound {
  return new ScheduleNotFound(scheduleId, `The schedule '${scheduleId}' was not made by duragent (its memo names no target): read it with \`temporal schedule describe --schedule-id '${scheduleId}'\`.`);
}

/** What an engine that keeps schedules does with them (the Temporal engine). */
export interface Schedules {
  create(target: RunTarget, input: unknown, options: ScheduleOptions): Promise<ScheduleDescription>;
  describe(scheduleId: string): Promise<ScheduleDescription>;
  list(limit: number): Promise<ScheduleSummary[]>;
  /** Starts a run now, whatever the time, under the schedule's overlap policy: what it did. */
  trigger(scheduleId: string): Promise<TriggerOutcome>;
  pause(scheduleId: string, note?: string): Promise<void>;
  unpause(scheduleId: string, note?: string): Promise<void>;
  /** Deletes the schedule; the runs it started go on. */
  delete(scheduleId: string): Promise<void>;
}
