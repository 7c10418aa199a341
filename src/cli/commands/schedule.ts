/** `duragent schedule create|list|describe|trigger|pause|unpause|delete`: Temporal Schedules that start a target again and again. */
import { InvalidRunInput } from "../../client/engine.js";
import type { Overlap, ScheduleDescription, ScheduledRun, ScheduleSummary, TriggerOutcome } from "../../client/schedules.js";
import { UserError } from "../../errors/user-error.js";
import { formatIssues } from "../../errors/zod-issues.js";
import { alignedLines, linkLine, readInput, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import { readInputSource, readToolContext } from "../input-source.js";

export interface ScheduleCreateOptions {
  input: string;
  cron: string[];
  every: string[];
  id?: string;
  timezone?: string;
  overlap?: Overlap;
  note?: string;
  paused: boolean;
  /** Each run's tool context as given (`--tool-context <json|@file|->`). */
  toolContext?: string;
}

export async function scheduleCreateCommand(context: CommandContext, targetName: string, options: ScheduleCreateOptions): Promise<CommandOutput> {
  const client = await context.client();
  const target = await client.target(targetName);
  const { value: input, notJson } = readInput(await readInputSource(options.input, "--input"));
  if (notJson !== undefined) (await context.logger()).warn(`--input begins as JSON but is not JSON (${notJson}); it is sent as text`);
  const toolContext = options.toolContext === undefined ? undefined : await readToolContext(options.toolContext);
  const schedule = await client
    .schedule(target, input, {
      ...(options.cron.length > 0 ? { cron: options.cron } : {}),
      ...(options.every.length > 0 ? { every: options.every } : {}),
      ...(options.id !== undefined ? { id: options.id } : {}),
      ...(options.timezone !== undefined ? { timezone: options.timezone } : {}),
      ...(options.overlap !== undefined ? { overlap: options.overlap } : {}),
      ...(options.note !== undefined ? { note: options.note } : {}),
      ...(toolContext !== undefined ? { toolContext } : {}),
      paused: options.paused,
    })
    .catch((error: unknown) => {
      if (error instanceof InvalidRunInput && error.issues.length > 0) throw new UserError(formatIssues("--input", error.issues));
      throw error;
    });
  const described = await schedule.describe();
  const warning = await client.workerWarning("its runs wait until one does", { engine: "temporal" });
  if (warning) (await context.logger()).warn(warning);
  return { data: described, text: `scheduled ${described.id}: ${when(described)}; ${next(described)}${linkLine(described.link)}` };
}

export async function scheduleListCommand(context: CommandContext, options: { limit: number }): Promise<CommandOutput> {
  const schedules = await (await context.client()).listSchedules({ limit: options.limit });
  if (schedules.length === 0) return { data: [], text: "no schedules (create one with `duragent schedule create <target> --cron … --input …`)" };
  const rows = schedules.map((schedule) => [schedule.id, schedule.target, when(schedule), schedule.paused ? "paused" : (schedule.nextRun ?? "-"), schedule.lastRun?.runId ?? "-"]);
  return { data: schedules, text: alignedLines([["SCHEDULE", "TARGET", "WHEN", "NEXT RUN", "LAST RUN"], ...rows]).join("\n") };
}

export async function scheduleDescribeCommand(context: CommandContext, scheduleId: string): Promise<CommandOutput> {
  const schedule = await (await (await context.client()).getSchedule(scheduleId)).describe();
  const input = typeof schedule.input === "string" ? schedule.input : JSON.stringify(schedule.input);
  const skipped = [
    ...(schedule.skippedRuns > 0 ? [`${schedule.skippedRuns} skipped (due while a run still ran; overlap ${schedule.overlap})`] : []),
    ...(schedule.missedRuns > 0 ? [`${schedule.missedRuns} missed (Temporal could not start them in time)`] : []),
  ];
  const lines = [
    `schedule ${schedule.id}: ${schedule.target}, ${when(schedule)}`,
    // A batch's input can be megabytes: --json gives it whole.
    `input: ${input.length > maxInputShown ? `${input.slice(0, maxInputShown)}… (${input.length} characters; --json shows it whole)` : input}`,
    ...(schedule.toolContext ? [`tool context: ${JSON.stringify(schedule.toolContext)}`] : []),
    `overlap: ${schedule.overlap}`,
    schedule.paused ? `paused${schedule.note ? `: ${schedule.note}` : ""}` : `next runs: ${schedule.nextRuns.slice(0, 3).join(", ") || "none"}`,
    ...(schedule.paused || !schedule.note ? [] : [`note: ${schedule.note}`]),
    ...(skipped.length > 0 ? [`not started: ${skipped.join(", ")}`] : []),
    `recent runs: ${schedule.recentRuns.length === 0 ? "none yet" : ""}`,
    ...schedule.recentRuns.map((run) => `  ${runLine(run)}${schedule.runningRuns.includes(run.runId) ? " (running)" : ""}`),
  ];
  return { data: schedule, text: `${lines.join("\n")}${linkLine(schedule.link)}` };
}

export async function scheduleActionCommand(context: CommandContext, action: "trigger" | "pause" | "unpause" | "delete", scheduleId: string, options: { note?: string } = {}): Promise<CommandOutput> {
  const schedule = await (await context.client()).getSchedule(scheduleId);
  if (action === "trigger") {
    const outcome = await schedule.trigger();
    return { data: { scheduleId, triggered: true, ...outcome }, text: `${scheduleId}: triggered; ${triggerText(outcome)}` };
  }
  if (action === "pause") await schedule.pause(options.note);
  else if (action === "unpause") await schedule.unpause(options.note);
  else await schedule.delete();
  const done = { trigger: "triggered", pause: "paused", unpause: "unpaused", delete: "deleted" }[action];
  const more = { pause: "", unpause: "", delete: " (the runs it started go on)" }[action];
  return { data: { scheduleId, [done]: true }, text: `${scheduleId}: ${done}${more}` };
}

const maxInputShown = 300;

/** What a trigger did, by the overlap policy: a skipped one must not read as started. */
function triggerText({ effect, overlap, running }: TriggerOutcome): string {
  const runs = running.join(", ");
  switch (effect) {
    case "starts":
      return "a run starts now (`duragent schedule describe` names it)";
    case "skipped":
      return `no run starts: ${runs} still runs, and the overlap policy is ${overlap}${overlap === "buffer-one" ? ", which holds one back already" : ""} (\`--overlap\` on create; \`duragent run\` starts one regardless)`;
    case "buffered":
      return `a run starts when ${runs} ends (overlap ${overlap})`;
    case "cancels":
      return `${runs} is cancelled, then a run starts (overlap ${overlap})`;
    case "terminates":
      return `${runs} is terminated, then a run starts (overlap ${overlap})`;
  }
}

function when(schedule: ScheduleSummary): string {
  const cron = schedule.cron.map((expression) => `cron '${expression}'${schedule.timezone ? ` (${schedule.timezone})` : ""}`);
  const every = schedule.every.map((interval) => `every ${interval}`);
  return [...cron, ...every].join(", ");
}

function next(schedule: ScheduleDescription): string {
  if (schedule.paused) return "paused: no run until `duragent schedule unpause`";
  return schedule.nextRuns[0] ? `next run ${schedule.nextRuns[0]}` : "no run due";
}

function runLine(run: ScheduledRun): string {
  return `${run.runId} (due ${run.scheduledAt}, started ${run.startedAt})`;
}
