/**
 * duragent as an MCP server: every agent, pattern and workflow it can run becomes a tool, and a
 * handful of control tools steer the runs those tools start. It speaks both MCP eras (see
 * ServeEra): one server instance serves one legacy client session, or one modern request; all of
 * them share the runs, so a run started by one can be followed from another.
 *
 * - `<name>` starts a run and waits for its answer (up to `waitTimeoutMs`), sending progress (with
 *   a streaming model answer's text so far) and asking the run's questions back (elicitation
 *   requests to a legacy client, `input_required` results to a modern one); otherwise it returns
 *   the run id.
 * - `<name>_start` starts a run and returns its id at once.
 * - `run_status`, `run_input`, `run_approve`, `run_reject`, `run_pause`, `run_resume`,
 *   `run_cancel` and `runs_list` work on runs by id.
 *
 * Refusals (an unknown run id, an answer that does not fit) come back as `isError` results the
 * caller can act on; only faults of duragent itself are thrown.
 *
 * The server declares `logging`: while `<name>` waits, the run's steps, retries and failure and its
 * MCP servers' own log messages go to the caller as `notifications/message`, at or above the level
 * the client set (`logging/setLevel` in a legacy session, the request's `logLevel` in modern
 * `_meta`; a modern request that sets none gets none).
 */
import { randomBytes } from "node:crypto";
import {
  CLIENT_CAPABILITIES_META_KEY,
  createRequestStateCodec,
  inputRequired,
  McpServer,
  type CallToolResult,
  type ElicitResult,
  type InputRequest,
  type InputRequiredResult,
  type LoggingLevel,
  type RequestStateCodec,
  type ServerContext,
  type ToolAnnotations,
} from "@modelcontextprotocol/server";
import { z, ZodError } from "zod";
import { formatIssues, formatZodError } from "../errors/zod-issues.js";
import type { PendingRequest, QuestionRequest, RunStatus } from "../common/run-status.js";
import { listPhases, type ListPhase } from "../common/run-phases.js";
import { isPlainObject } from "../config/interpolate.js";
import { questionFor, sendTypedAnswer } from "../client/answer-text.js";
import { InvalidRunInput, InvalidRunMessage, RunNotFound, type RunHandle, type RunSummary, type StartOptions } from "../client/engine.js";
import type { RunTarget } from "../client/run-targets.js";
import { endingNote } from "../client/result-note.js";
import type { Logger } from "../logger.js";
import { duragentVersion } from "../package-info.js";
import { McpLogLevelSchema } from "../common/server-requests.js";
import { elicitationForm } from "./elicitation-form.js";
import { takeReply, waitForRun, type CallerElicitation, type RunLogMessage, type WaitOutcome } from "./wait-for-run.js";

/** What the server needs of a client (`DuragentClient` fits): start runs, and find them by id. */
export interface ServedRuns {
  start(target: RunTarget, input: unknown, options?: StartOptions): Promise<RunHandle>;
  getHandle(runId: string): Promise<RunHandle>;
  list(options: { limit: number; phase?: ListPhase; target?: string }): Promise<RunSummary[]>;
}

export interface DuragentMcpServerOptions {
  /** What to expose, from `loadRunTargets`. */
  targets: ReadonlyMap<string, RunTarget>;
  runs: ServedRuns;
  /**
   * How long `<name>` waits for an answer before it returns the run id instead. The default, 50 s,
   * stays under the 60 s request timeout most MCP clients use.
   */
  waitTimeoutMs?: number;
  logger?: Logger;
  /**
   * The key that seals `input_required` results' `requestState` (at least 32 bytes). Give every
   * `serve` behind one URL the same key, and keep it across restarts, so that any of them takes
   * an answer to a question another asked. A random key per process when absent.
   */
  requestStateKey?: Uint8Array;
}

const defaultWaitTimeoutMs = 50_000;
/** The least severe log message a legacy session gets until its client sets a level. */
const defaultLogLevel: LoggingLevel = "info";
/** How long a question put in an `input_required` result may take to come back answered. */
const askedStateTtlSeconds = 24 * 60 * 60;
/** Answers refused in a row before the caller is sent to `run_input` (as with elicitation). */
const maxAskRounds = 3;

/** The control tools; a target whose tool name would clash with one of these cannot be served. */
const controlToolNames = [
  "run_status",
  "run_input",
  "run_approve",
  "run_reject",
  "run_pause",
  "run_resume",
  "run_cancel",
  "runs_list",
] as const;

/** A configuration that cannot be served as it is: the message says what to rename. */
export class ServeSetupError extends Error {
  override readonly name = "ServeSetupError";
}

// MCP allows `.` too, but some model APIs (OpenAI function names) do not, and callers pass tool
// names on to models; 122 leaves room for the `_start` suffix within MCP's 128.
function toolNameFor(targetName: string): string {
  return targetName.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 122);
}

/** The tool name of each target, checked for clashes with each other and the control tools. */
export function targetToolNames(targets: ReadonlyMap<string, RunTarget>): Map<string, string> {
  const owners = new Map<string, string>(controlToolNames.map((name) => [name, "a built-in control tool"]));
  const names = new Map<string, string>();
  const clashes: string[] = [];
  for (const target of targets.values()) {
    const name = toolNameFor(target.name);
    for (const tool of [name, `${name}_start`]) {
      const owner = owners.get(tool);
      if (owner) clashes.push(`'${tool}' (from ${target.kind} '${target.name}') is already ${owner}`);
      owners.set(tool, `the tool of ${target.kind} '${target.name}'`);
    }
    names.set(target.name, name);
  }
  if (clashes.length > 0) {
    throw new ServeSetupError(
      `Cannot serve these tool names: ${clashes.join("; ")}. Rename the agent or workflow in duragent.config.yaml (or its module) so each tool name is unique.`,
    );
  }
  return names;
}

/**
 * The protocol era a server instance speaks: `legacy` is MCP up to 2025-11-25 (a session opened
 * with `initialize`; questions go out as elicitation requests), `modern` is 2026-07-28 (every
 * request stands alone; questions come back as `input_required` results).
 */
export type ServeEra = "legacy" | "modern";

/** A fresh server for one client session (legacy) or one request (modern), all serving the same runs. */
export type DuragentServerFactory = (era: ServeEra) => McpServer;

/** What an `input_required` result carries through the caller, sealed (HMAC) so it comes back unaltered. */
interface AskedState {
  /** The tool that asked: the state is only good for another call of it. */
  tool: string;
  runId: string;
  /** The run's pending requests put to the caller, by id. */
  asked: string[];
  /** How many times in a row the caller's answers were refused. */
  round: number;
}

type ToolResult = CallToolResult | InputRequiredResult;

/** One tool of the server: its name, what `registerTool` is told, and how it answers. */
interface ServedTool {
  name: string;
  config: { title?: string; description: string; inputSchema: z.ZodObject; annotations?: ToolAnnotations };
  answer(args: Record<string, unknown>, ctx: ServerContext): Promise<ToolResult>;
}

/** What the tools need: the runs, the server instance (for its client's capabilities), its era. */
interface ToolContext extends DuragentMcpServerOptions {
  server: McpServer;
  era: ServeEra;
  /** The least severe log message a legacy session wants now (`logging/setLevel`). */
  logLevel(): LoggingLevel;
  waitTimeoutMs: number;
  askedState: RequestStateCodec<AskedState>;
}

/**
 * The server factory for `duragent serve`: every instance offers the same tools. Tool names are
 * checked once, here; a clash throws ServeSetupError.
 */
export function duragentMcpServers(options: DuragentMcpServerOptions): DuragentServerFactory {
  const names = targetToolNames(options.targets);
  // Without a shared key, a question asked by one process is answered only to the same one, which
  // holds for stdio and for a single `serve --transport http` that is not restarted.
  const askedState = createRequestStateCodec<AskedState>({ key: options.requestStateKey ?? randomBytes(32), ttlSeconds: askedStateTtlSeconds });
  return (era) => {
    const server = new McpServer(
      { name: "duragent", version: duragentVersion },
      {
        capabilities: { logging: {}, tools: {} },
        instructions:
          "Each tool named after an agent or workflow runs it durably. If it returns a run id instead of an answer, " +
          "follow the run with run_status, answer its questions with run_input, approve tool calls with run_approve.",
        requestState: { verify: askedState.verify },
      },
    );
    // One instance per legacy session, so the level its client sets is that session's. (The SDK's
    // own handler would send everything until a level is set; duragent's default is `info`.)
    let logLevel: LoggingLevel = defaultLogLevel;
    if (era === "legacy") {
      server.server.setRequestHandler("logging/setLevel", (request) => {
        logLevel = request.params.level;
        return {};
      });
    }
    const context: ToolContext = { ...options, server, era, askedState, logLevel: () => logLevel, waitTimeoutMs: options.waitTimeoutMs ?? defaultWaitTimeoutMs };
    const tools = [...[...options.targets.values()].flatMap((target) => targetTools(target, names.get(target.name)!, context)), ...controlTools(context)];
    for (const tool of tools) {
      server.registerTool(tool.name, tool.config, (args: Record<string, unknown>, ctx: ServerContext) => refusalsAsResults(() => tool.answer(args, ctx)));
    }
    return server;
  };
}

/** `<name>` runs a target and waits for its answer; `<name>_start` starts it and returns its id. */
function targetTools(target: RunTarget, name: string, context: ToolContext): ServedTool[] {
  const { schema, toRunInput } = targetInputSchema(target);
  const what = describeTarget(target);
  const annotations = { openWorldHint: true };
  return [
    {
      name,
      config: {
        title: target.name,
        description: `${what} Waits up to ${Math.round(context.waitTimeoutMs / 1000)} s for the answer; a longer run returns its run id to follow with run_status.`,
        inputSchema: schema,
        annotations,
      },
      answer: (args, ctx) => runAndWait(name, target, () => toRunInput(args), ctx, context),
    },
    {
      name: `${name}_start`,
      config: { title: `${target.name} (start)`, description: `${what} Starts a run and returns its run id at once; follow it with run_status.`, inputSchema: schema, annotations },
      answer: async (args) => {
        // Nobody follows it until its caller asks run_status: until then its model calls need not stream.
        const handle = await context.runs.start(target, toRunInput(args), { watch: false });
        context.logger?.info({ runId: handle.runId, target: target.name }, "serve: run started");
        return jsonResult(
          { runId: handle.runId, ...(handle.link ? { link: handle.link } : {}) },
          `Started run ${handle.runId}. Call run_status with {"runId":"${handle.runId}"} for its progress and, once completed, its answer.`,
        );
      },
    },
  ];
}

/**
 * Starts a run (or, on a modern call that brings answers, goes back to the run that asked) and
 * follows it for the caller: progress, log messages, its questions, its answer.
 */
async function runAndWait(tool: string, target: RunTarget, input: () => unknown, ctx: ServerContext, context: ToolContext): Promise<ToolResult> {
  const { server } = context;
  const request = ctx.mcpReq;
  const resumed = context.era === "modern" ? await takeAnswers(tool, ctx, context) : undefined;
  if (resumed && "content" in resumed) return resumed;
  const handle = resumed?.handle ?? (await context.runs.start(target, input()));
  if (!resumed) context.logger?.info({ runId: handle.runId, target: target.name }, "serve: run started (waiting)");
  const progressToken = request._meta?.progressToken;
  const onProgress =
    progressToken === undefined
      ? undefined
      : (progress: number, message: string) => request.notify({ method: "notifications/progress", params: { progressToken, progress, message } });
  // On the call's own stream, at or above the level the caller set: a legacy session's (`info`
  // until it sets one), a modern request's own (none when it names none; the SDK filters those).
  const severity = (level: LoggingLevel) => McpLogLevelSchema.options.indexOf(level);
  const onLog = async (message: RunLogMessage) => {
    if (context.era === "legacy" && severity(message.level) < severity(context.logLevel())) return;
    await request.log(message.level, message.data, message.logger);
  };
  const elicitation = server.server.getClientCapabilities()?.elicitation;
  const elicit: CallerElicitation | undefined =
    context.era === "legacy" && elicitation
      ? {
          form: elicitation.form !== undefined,
          url: elicitation.url !== undefined,
          // Sent as part of the call (on its own, resumable stream over HTTP), not as a request of the session.
          ask: (params, timeout, withdraw) => request.send({ method: "elicitation/create", params }, { signal: AbortSignal.any([request.signal, withdraw]), timeout }),
        }
      : undefined;
  try {
    const outcome = await waitForRun(handle, {
      deadline: Date.now() + context.waitTimeoutMs,
      signal: request.signal,
      onLog,
      ...(onProgress ? { onProgress } : {}),
      ...(elicit ? { elicit } : {}),
    });
    if (context.era === "modern" && outcome.kind === "waiting" && outcome.reason === "input" && resumed?.ask !== false) {
      const asked = await askInResult(tool, handle, outcome.status, resumed?.note, resumed?.round ?? 0, ctx, context);
      if (asked) return asked;
    }
    return outcomeResult(handle, outcome, resumed?.detail);
  } catch (error) {
    // The caller cancelled the request that started this run, so the run goes too. A closed
    // connection aborts the wait as well, but then the server is disconnected by now and the run
    // carries on: the caller may come back for it with run_status. (Runs started with
    // `<name>_start` belong to no request and are never cancelled here.) A modern request has no
    // connection of its own to tell the two apart, so its run always carries on.
    if (request.signal.aborted && context.era === "legacy" && server.isConnected()) await handle.cancel().catch(() => undefined);
    throw error;
  }
}

/**
 * Puts the run's open questions to a modern caller as an `input_required` result: one form (or
 * URL) per question, and a sealed state naming the run, so the call that brings the answers goes
 * on with the same run. Undefined when the caller declared no elicitation of the kind needed, or
 * no question fits a form: the caller then gets the run id and `run_input` instead.
 */
async function askInResult(
  tool: string,
  handle: RunHandle,
  status: RunStatus,
  note: string | undefined,
  round: number,
  ctx: ServerContext,
  context: ToolContext,
): Promise<InputRequiredResult | undefined> {
  const elicitation = callerElicitation(ctx);
  if (!elicitation) return undefined;
  const inputRequests: Record<string, InputRequest> = {};
  for (const request of status.pending) {
    if (request.kind !== "input") continue;
    // The run and request ids ride along, so a caller that cannot answer now can with run_input.
    const form = elicitationForm(request, `${handle.runId}/${request.id}`, [note, `(run ${handle.runId}, ${request.id})`].filter(Boolean).join(" "));
    if (!form) continue;
    if (form.params.mode === "url") {
      if (elicitation.url === undefined) continue;
      const { mode: _mode, elicitationId: _id, ...params } = form.params;
      inputRequests[request.id] = inputRequired.elicitUrl(params);
    } else {
      // A client that declares elicitation with no mode supports forms (2025-06-18 and on).
      if (elicitation.form === undefined && elicitation.url !== undefined) continue;
      inputRequests[request.id] = inputRequired.elicit(form.params);
    }
  }
  const asked = Object.keys(inputRequests);
  if (asked.length === 0) return undefined;
  const requestState = await context.askedState.mint({ tool, runId: handle.runId, asked, round });
  return inputRequired({ inputRequests, requestState });
}

const EnvelopeElicitation = z.object({
  [CLIENT_CAPABILITIES_META_KEY]: z.object({ elicitation: z.object({ form: z.unknown(), url: z.unknown() }).partial().optional() }).loose(),
});

/** The elicitation a modern caller declared in this request's `_meta`, if any. */
function callerElicitation(ctx: ServerContext): { form?: unknown; url?: unknown } | undefined {
  const envelope = EnvelopeElicitation.safeParse(ctx.mcpReq.envelope);
  return envelope.success ? envelope.data[CLIENT_CAPABILITIES_META_KEY].elicitation : undefined;
}

interface Resumed {
  handle: RunHandle;
  /** Why the last answers were refused, for the forms that ask again. */
  note?: string;
  round: number;
  /** False once the caller declined a question, or its answers were refused too often: no asking again in this call. */
  ask: boolean;
  /** Why this call does not ask again, told with the result. */
  detail?: string;
}

/**
 * A modern call that brings answers (its state was verified by the SDK before this handler ran):
 * the answers go to the run that asked, whose wait then goes on. An answer the run refuses is
 * asked again, up to `maxAskRounds` times.
 */
async function takeAnswers(tool: string, ctx: ServerContext, context: ToolContext): Promise<Resumed | CallToolResult | undefined> {
  const state = ctx.mcpReq.requestState<AskedState>();
  if (state === undefined) return undefined;
  if (state.tool !== tool) return errorResult(`The requestState was issued by the tool ${state.tool}, not ${tool}; call ${tool} again without it.`);
  const handle = await context.runs.getHandle(state.runId);
  const responses = ctx.mcpReq.inputResponses ?? {};
  const status = await handle.status();
  const notes: string[] = [];
  let detail: string | undefined;
  for (const id of state.asked) {
    const request = status.pending.find((pending): pending is QuestionRequest => pending.kind === "input" && pending.id === id);
    // Answered meanwhile (with run_input, say), or timed out: nothing to give.
    if (!request) continue;
    const reply = elicitResult(responses[id]);
    if (!reply) {
      notes.push(`No answer came for "${request.prompt}".`);
      continue;
    }
    const form = elicitationForm(request, `${handle.runId}/${request.id}`);
    if (!form) continue;
    const taken = await takeReply(handle, request, form, reply);
    if (taken.kind === "refused") notes.push(taken.note);
    else if (taken.kind === "open") detail = taken.detail;
  }
  if (detail) return { handle, round: 0, ask: false, detail };
  if (notes.length === 0) return { handle, round: 0, ask: true };
  const round = state.round + 1;
  if (round >= maxAskRounds) return { handle, round, ask: false, detail: `${maxAskRounds} answers in a row were refused. ${notes.join(" ")}` };
  return { handle, round, ask: true, note: notes.join(" ") };
}

const CallerReply = z.object({ action: z.enum(["accept", "decline", "cancel"]), content: z.record(z.string(), z.unknown()).optional() });

/** The caller's reply to one question, when it is shaped as an elicitation result. */
function elicitResult(value: unknown): ElicitResult | undefined {
  const parsed = CallerReply.safeParse(value);
  return parsed.success ? (parsed.data as ElicitResult) : undefined;
}

const runIdArgument = z.string().min(1).describe("The run id, as a tool of this server returned it (or from runs_list).");
const requestIdArgument = z
  .string()
  .optional()
  .describe("Which pending request (e.g. input-1, approval-1) this is for; may be left out when only one is pending.");

/** The tools that work on runs by id. */
function controlTools(context: ToolContext): ServedTool[] {
  const { runs } = context;
  const onRun = <S extends z.ZodRawShape>(
    name: (typeof controlToolNames)[number],
    description: string,
    shape: S,
    act: (handle: RunHandle, args: z.infer<z.ZodObject<S & { runId: typeof runIdArgument }>>) => Promise<CallToolResult>,
    annotations?: ToolAnnotations,
  ): ServedTool => ({
    name,
    config: { description, inputSchema: z.object({ runId: runIdArgument, ...shape }), ...(annotations ? { annotations } : {}) },
    // The SDK has validated the arguments against this very schema.
    answer: async (args) => act(await runs.getHandle(args.runId as string), args as Parameters<typeof act>[1]),
  });
  return [
    onRun(
      "run_status",
      "A run's phase, steps, pending questions and approvals, token usage, and its answer once completed.",
      {},
      async (handle) => {
        // Its tool calls' texts would crowd the calling model's context on every poll.
        const { toolCalls: _toolCalls, ...status } = await handle.status();
        const report: Record<string, unknown> = { ...status };
        if (status.phase === "completed") report.result = await handle.result();
        return jsonResult(report, statusHint(status));
      },
      { readOnlyHint: true },
    ),
    onRun(
      "run_input",
      "Answers a run's pending question (see run_status). The answer must match the request's schema; a plain string when it has none. " +
        "A question one of the run's MCP servers asked (it has an origin) may be declined or cancelled instead.",
      {
        answer: z.unknown().optional().describe("The answer: a string, or JSON matching the request's schema. Not needed to decline or cancel."),
        requestId: requestIdArgument,
        action: z
          .enum(["accept", "decline", "cancel"])
          .optional()
          .describe("For a question from one of the run's MCP servers: decline or cancel it; accept (the default) sends the answer."),
      },
      async (handle, args) => {
        const send = (value: unknown) => handle.answer({ ...(args.requestId ? { requestId: args.requestId } : {}), value, ...(args.action ? { action: args.action } : {}) });
        // Callers (models especially) often send a JSON answer as a string: read as its question expects, as the CLI reads a typed answer.
        if (typeof args.answer !== "string") await send(args.answer);
        else await sendTypedAnswer(args.answer, async () => questionFor(await handle.status({ watch: false }), args.requestId), send);
        return textResult(`${args.action === "decline" ? "Declined" : args.action === "cancel" ? "Cancelled" : "Answer accepted"}; run ${args.runId} continues.`);
      },
    ),
    onRun(
      "run_approve",
      "Approves a tool call the run waits on (see run_status), optionally with edited arguments.",
      { requestId: requestIdArgument, arguments: z.record(z.string(), z.unknown()).optional().describe("Replaces the tool call's arguments.") },
      async (handle, args) => {
        await handle.approve({ ...(args.requestId ? { requestId: args.requestId } : {}), ...(args.arguments ? { arguments: args.arguments } : {}) });
        return textResult(`Approved; run ${args.runId} continues.`);
      },
    ),
    onRun(
      "run_reject",
      "Rejects a tool call the run waits on; the run's model reads the reason and carries on without it.",
      { requestId: requestIdArgument, reason: z.string().optional().describe("Why; the run's model reads it.") },
      async (handle, args) => {
        await handle.decide({ approved: false, ...(args.requestId ? { requestId: args.requestId } : {}), ...(args.reason ? { reason: args.reason } : {}) });
        return textResult(`Rejected; run ${args.runId} continues without that tool call.`);
      },
    ),
    onRun("run_pause", "Holds a run before its next step; a step in flight finishes.", {}, async (handle) => {
      await handle.pause();
      return textResult(`Run ${handle.runId} will pause before its next step.`);
    }),
    onRun("run_resume", "Lets a paused run go on.", {}, async (handle) => {
      await handle.resume();
      return textResult(`Run ${handle.runId} resumes.`);
    }),
    onRun(
      "run_cancel",
      "Stops a run: in-flight steps are cancelled and it ends as cancelled.",
      {},
      async (handle) => {
        await handle.cancel();
        return textResult(`Run ${handle.runId} is being cancelled.`);
      },
      { destructiveHint: true },
    ),
    {
      name: "runs_list",
      config: {
        description: "Recent runs with their phase; `phase` and `target` narrow them (the runs waiting for a person, for an answer or an approval: phase waiting).",
        inputSchema: z.object({
          limit: z.number().int().min(1).max(100).default(20).describe("How many runs at most."),
          phase: z.enum(listPhases).optional().describe("Only runs in this phase; waiting: in waiting_input or waiting_approval."),
          target: z.string().min(1).optional().describe("Only runs started as this agent, pattern or workflow (a tool's name without _start)."),
        }),
        annotations: { readOnlyHint: true },
      },
      answer: async (args) =>
        jsonResult({
          runs: await runs.list({
            limit: args.limit as number,
            ...(args.phase !== undefined ? { phase: args.phase as ListPhase } : {}),
            ...(args.target !== undefined ? { target: args.target as string } : {}),
          }),
        }),
    },
  ];
}

/** The tool's input schema for a target, and how its arguments become the run's input. */
function targetInputSchema(target: RunTarget): { schema: z.ZodObject; toRunInput: (args: Record<string, unknown>) => unknown } {
  const fromInput = (args: Record<string, unknown>) => args.input;
  if (target.kind !== "workflow") {
    const input = z.string().describe(target.kind === "agent" ? "The message for the agent." : "The input for the pattern.");
    return { schema: z.object({ input }), toRunInput: fromInput };
  }
  const inputSchema = target.workflow.inputSchema;
  // An object schema is the tool's arguments as they are; anything else is wrapped as `input`.
  if (inputSchema instanceof z.ZodObject) return { schema: inputSchema, toRunInput: (args) => args };
  if (inputSchema) return { schema: z.object({ input: inputSchema }), toRunInput: fromInput };
  return { schema: z.object({ input: z.unknown().optional().describe("The workflow's input: any JSON value.") }), toRunInput: fromInput };
}

function describeTarget(target: RunTarget): string {
  if (target.kind === "agent") {
    // A description is what the agent's author chose to show; the instruction may not be meant for callers.
    if (target.agent.description) return `Asks the duragent agent '${target.name}'. ${target.agent.description.trim()}`;
    const instruction = target.agent.instruction.trim();
    const brief = instruction.length > 300 ? `${instruction.slice(0, 297)}...` : instruction;
    return `Asks the duragent agent '${target.name}'. Its instructions: ${brief}`;
  }
  if (target.kind === "pattern") return `Runs the duragent ${target.spec.pattern} workflow '${target.name}'.${target.spec.description ? ` ${target.spec.description.trim()}` : ""}`;
  return `Runs the duragent workflow '${target.name}'.`;
}

function outcomeResult(handle: RunHandle, outcome: WaitOutcome, detail?: string): CallToolResult {
  const id = handle.runId;
  switch (outcome.kind) {
    case "completed":
      // A workflow's own object value is structured output too; an agent's or pattern's answer is its text.
      return isPlainObject(outcome.result) && typeof outcome.result.text !== "string" ? jsonResult(outcome.result) : textResult(answerText(outcome.result), endingNote(outcome.result));
    case "failed":
      return errorResult(outcome.error instanceof Error ? outcome.error.message : `Run ${id} failed: ${String(outcome.error)}`);
    case "cancelled":
      return errorResult(`Run ${id} was cancelled.`);
    case "waiting": {
      const lead =
        outcome.reason === "timeout" ? `Run ${id} is still running; this call stopped waiting for it.` : `Run ${id} is waiting for you.`;
      return textResult([lead, outcome.detail ?? detail, statusHint(outcome.status)].filter(Boolean).join(" "));
    }
  }
}

/** What to do next with a run in this state, as the caller would phrase the tool calls. */
function statusHint(status: RunStatus): string {
  const id = JSON.stringify(status.runId);
  if (status.phase === "completed") return `Run ${status.runId} completed.`;
  if (status.phase === "failed") return `Run ${status.runId} failed${status.lastError ? `: ${status.lastError}` : "."}`;
  if (status.phase === "cancelled" || status.phase === "terminated") return `Run ${status.runId} was ${status.phase}.`;
  const pending = status.pending.map((request) => pendingHint(id, request));
  if (pending.length > 0) return pending.join(" ");
  const step = status.currentStep ? ` (step ${status.stepCount}: ${status.currentStep})` : "";
  if (status.phase === "paused") return `It is paused${step}; call run_resume with {"runId":${id}} to let it go on.`;
  return `It is ${status.phase}${step}. Call run_status with {"runId":${id}} to check on it; its answer is there once it completes.`;
}

function pendingHint(id: string, request: PendingRequest): string {
  if (request.kind === "approval") {
    return (
      `It waits for approval (${request.id}) to call ${request.server}/${request.tool} with ${JSON.stringify(request.arguments)}: ` +
      `call run_approve with {"runId":${id},"requestId":"${request.id}"} or run_reject with a reason.`
    );
  }
  const asker = request.origin ? ` its MCP server ${request.origin.server} (during ${request.origin.tool})` : "";
  const decline = request.origin ? `, or decline it with "action":"decline"` : "";
  if (request.url !== undefined) {
    return (
      `It asks${asker} (${request.id}) that you open ${request.url}: ${request.prompt} ` +
      `Once done there, call run_input with {"runId":${id},"requestId":"${request.id}","action":"accept"}${decline}.`
    );
  }
  const schema = request.schema ? ` The answer must match this JSON Schema: ${JSON.stringify(request.schema)}.` : "";
  return `It asks${asker} (${request.id}): ${request.prompt}${schema} Answer with run_input {"runId":${id},"requestId":"${request.id}","answer":...}${decline}.`;
}

function answerText(result: unknown): string {
  if (typeof result === "string") return result;
  if (typeof result === "object" && result !== null && "text" in result && typeof result.text === "string") return result.text;
  return JSON.stringify(result, null, 2);
}

/** The answer, and apart from it what it does not say of how the run ended (a pattern that fell short, an empty answer). */
function textResult(text: string, note?: string): CallToolResult {
  return { content: [{ type: "text", text }, ...(note ? [{ type: "text" as const, text: `(duragent: ${note})` }] : [])] };
}

function jsonResult(data: Record<string, unknown>, hint?: string): CallToolResult {
  // The JSON alone in the first block, as the spec asks of structured results; the hint apart.
  const content: CallToolResult["content"] = [{ type: "text", text: JSON.stringify(data, null, 2) }];
  if (hint) content.push({ type: "text", text: hint });
  return { content, structuredContent: data };
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

/** A refusal the caller can fix becomes an error result; anything else is a fault and is thrown. */
async function refusalsAsResults(body: () => Promise<ToolResult>): Promise<ToolResult> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof RunNotFound || error instanceof InvalidRunMessage) return errorResult(error.message);
    if (error instanceof ZodError) return errorResult(formatZodError(error, "input"));
    if (error instanceof InvalidRunInput) return errorResult(error.issues.length > 0 ? formatIssues("input", error.issues) : error.message);
    throw error;
  }
}
