/**
 * duragent as an MCP server: every agent, pattern and workflow it can run becomes a tool, and a
 * handful of control tools steer the runs those tools start. One McpServer serves one client
 * connection; many may share one client, so a run started over one connection can be followed
 * from another.
 *
 * - `<name>` starts a run and waits for its answer (up to `waitTimeoutMs`), sending progress (with
 *   a streaming model answer's text so far) and asking the run's questions back through
 *   elicitation; otherwise it returns the run id.
 * - `<name>_start` starts a run and returns its id at once.
 * - `run_status`, `run_input`, `run_approve`, `run_reject`, `run_pause`, `run_resume`,
 *   `run_cancel` and `runs_list` work on runs by id.
 *
 * Refusals (an unknown run id, an answer that does not fit) come back as `isError` results the
 * caller can act on; only faults of duragent itself are thrown.
 *
 * The server declares `logging`: while `<name>` waits, the run's steps, retries and failure and its
 * MCP servers' own log messages go to the caller as `notifications/message`, at or above the level
 * the client set with `logging/setLevel` (`info` until it sets one).
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  SetLevelRequestSchema,
  type CallToolResult,
  type LoggingLevel,
  type ServerNotification,
  type ServerRequest,
  type ToolAnnotations,
} from "@modelcontextprotocol/sdk/types.js";
import { z, ZodError } from "zod";
import { formatZodError } from "../errors/zod-issues.js";
import type { PendingRequest, RunStatus } from "../common/run-status.js";
import { InvalidRunMessage, RunNotFound, type RunHandle, type RunSummary } from "../client/engine.js";
import type { RunTarget } from "../client/run-targets.js";
import type { Logger } from "../logger.js";
import { duragentVersion } from "../package-info.js";
import { McpLogLevelSchema } from "../common/server-requests.js";
import { waitForRun, type CallerElicitation, type RunLogMessage, type WaitOutcome } from "./wait-for-run.js";

/** What the server needs of a client (`DuragentClient` fits): start runs, and find them by id. */
export interface ServedRuns {
  start(target: RunTarget, input: unknown): Promise<RunHandle>;
  getHandle(runId: string): Promise<RunHandle>;
  list(options: { limit: number }): Promise<RunSummary[]>;
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
}

const defaultWaitTimeoutMs = 50_000;
/** The least severe log message a caller gets until its client sets a level. */
const defaultLogLevel: LoggingLevel = "info";

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

/** One tool of the server: its name, what `registerTool` is told, and how it answers. */
interface ServedTool {
  name: string;
  config: { title?: string; description: string; inputSchema: z.ZodObject; annotations?: ToolAnnotations };
  answer(args: Record<string, unknown>, extra: ToolExtra): Promise<CallToolResult>;
}

type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** What the tools need: the runs, and the connection's server (to elicit from its client). */
interface ToolContext extends DuragentMcpServerOptions {
  server: McpServer;
  waitTimeoutMs: number;
  /** The least severe log message the client wants now (`logging/setLevel`). */
  logLevel(): LoggingLevel;
}

export function createDuragentMcpServer(options: DuragentMcpServerOptions): McpServer {
  const names = targetToolNames(options.targets);
  const server = new McpServer(
    { name: "duragent", version: duragentVersion },
    {
      capabilities: { logging: {} },
      instructions:
        "Each tool named after an agent or workflow runs it durably. If it returns a run id instead of an answer, " +
        "follow the run with run_status, answer its questions with run_input, approve tool calls with run_approve.",
    },
  );
  // One McpServer per client connection, so the level the client sets is this connection's.
  let logLevel = defaultLogLevel;
  server.server.setRequestHandler(SetLevelRequestSchema, (request) => {
    logLevel = request.params.level;
    return {};
  });
  const context: ToolContext = { ...options, server, waitTimeoutMs: options.waitTimeoutMs ?? defaultWaitTimeoutMs, logLevel: () => logLevel };
  const tools = [...[...options.targets.values()].flatMap((target) => targetTools(target, names.get(target.name)!, context)), ...controlTools(context)];
  for (const tool of tools) {
    server.registerTool(tool.name, tool.config, (args: Record<string, unknown>, extra: ToolExtra) => refusalsAsResults(() => tool.answer(args, extra)));
  }
  return server;
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
      answer: (args, extra) => runAndWait(target, toRunInput(args), extra, context),
    },
    {
      name: `${name}_start`,
      config: { title: `${target.name} (start)`, description: `${what} Starts a run and returns its run id at once; follow it with run_status.`, inputSchema: schema, annotations },
      answer: async (args) => {
        const handle = await context.runs.start(target, toRunInput(args));
        context.logger?.info({ runId: handle.runId, target: target.name }, "serve: run started");
        return jsonResult(
          { runId: handle.runId, ...(handle.link ? { link: handle.link } : {}) },
          `Started run ${handle.runId}. Call run_status with {"runId":"${handle.runId}"} for its progress and, once completed, its answer.`,
        );
      },
    },
  ];
}

/** Starts a run and follows it for the caller: progress, its questions by elicitation, its answer. */
async function runAndWait(target: RunTarget, input: unknown, extra: ToolExtra, context: ToolContext): Promise<CallToolResult> {
  const { server } = context;
  const handle = await context.runs.start(target, input);
  context.logger?.info({ runId: handle.runId, target: target.name }, "serve: run started (waiting)");
  const progressToken = extra._meta?.progressToken;
  const elicitation = server.server.getClientCapabilities()?.elicitation;
  const onProgress =
    progressToken === undefined
      ? undefined
      : (progress: number, message: string) => extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress, message } });
  const severity = (level: LoggingLevel) => McpLogLevelSchema.options.indexOf(level);
  // On the call's own stream (resumable over HTTP), and filtered when sent: the level may change meanwhile.
  const onLog = async (message: RunLogMessage) => {
    if (severity(message.level) < severity(context.logLevel())) return;
    await extra.sendNotification({ method: "notifications/message", params: message });
  };
  const elicit: CallerElicitation | undefined = elicitation && {
    form: elicitation.form !== undefined,
    url: elicitation.url !== undefined,
    ask: (params, timeout) => server.server.elicitInput(params, { relatedRequestId: extra.requestId, signal: extra.signal, timeout }),
  };
  try {
    const outcome = await waitForRun(handle, {
      deadline: Date.now() + context.waitTimeoutMs,
      signal: extra.signal,
      onLog,
      ...(onProgress ? { onProgress } : {}),
      ...(elicit ? { elicit } : {}),
    });
    return outcomeResult(handle, outcome);
  } catch (error) {
    // The caller cancelled the request that started this run, so the run goes too. A closed
    // connection aborts the wait as well, but then the server is disconnected by now and the run
    // carries on: the caller may come back for it with run_status. (Runs started with
    // `<name>_start` belong to no request and are never cancelled here.)
    if (extra.signal.aborted && server.isConnected()) await handle.cancel().catch(() => undefined);
    throw error;
  }
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
        const status = await handle.status();
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
        const value = await answerValue(handle, args.requestId, args.answer);
        await handle.answer({ ...(args.requestId ? { requestId: args.requestId } : {}), value, ...(args.action ? { action: args.action } : {}) });
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
        description: "Recent runs, newest first, with their phase.",
        inputSchema: z.object({ limit: z.number().int().min(1).max(100).default(20).describe("How many runs at most.") }),
        annotations: { readOnlyHint: true },
      },
      answer: async (args) => jsonResult({ runs: await runs.list({ limit: args.limit as number }) }),
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
    const instruction = target.agent.instruction.trim();
    const brief = instruction.length > 300 ? `${instruction.slice(0, 297)}...` : instruction;
    return `Asks the duragent agent '${target.name}'. Its instructions: ${brief}`;
  }
  if (target.kind === "pattern") return `Runs the duragent ${target.spec.pattern} workflow '${target.name}'.`;
  return `Runs the duragent workflow '${target.name}'.`;
}

function outcomeResult(handle: RunHandle, outcome: WaitOutcome): CallToolResult {
  const id = handle.runId;
  switch (outcome.kind) {
    case "completed":
      return textResult(answerText(outcome.result));
    case "failed":
      return errorResult(outcome.error instanceof Error ? outcome.error.message : `Run ${id} failed: ${String(outcome.error)}`);
    case "cancelled":
      return errorResult(`Run ${id} was cancelled.`);
    case "waiting": {
      const lead =
        outcome.reason === "timeout" ? `Run ${id} is still running (it goes on without you).` : `Run ${id} is waiting for you.`;
      return textResult([lead, outcome.detail, statusHint(outcome.status)].filter(Boolean).join(" "));
    }
  }
}

/** What to do next with a run in this state, as the caller would phrase the tool calls. */
function statusHint(status: RunStatus): string {
  const id = JSON.stringify(status.runId);
  if (status.phase === "completed") return `Run ${status.runId} completed.`;
  if (status.phase === "failed") return `Run ${status.runId} failed${status.lastError ? `: ${status.lastError}` : "."}`;
  if (status.phase === "cancelled") return `Run ${status.runId} was cancelled.`;
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

/**
 * Callers (models especially) often send a JSON answer as a string; when the request expects
 * structured JSON, a string that parses is taken as that JSON.
 */
async function answerValue(handle: RunHandle, requestId: string | undefined, answer: unknown): Promise<unknown> {
  if (typeof answer !== "string") return answer;
  const status = await handle.status();
  const request = status.pending.find((pending) => pending.kind === "input" && (requestId === undefined || pending.id === requestId));
  if (request?.kind !== "input" || !request.schema || request.schema.type === "string") return answer;
  try {
    return JSON.parse(answer);
  } catch {
    return answer;
  }
}

function answerText(result: unknown): string {
  if (typeof result === "string") return result;
  if (typeof result === "object" && result !== null && "text" in result && typeof result.text === "string") return result.text;
  return JSON.stringify(result, null, 2);
}

function textResult(text: string): CallToolResult {
  return { content: [{ type: "text", text }] };
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
async function refusalsAsResults(body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof RunNotFound || error instanceof InvalidRunMessage) return errorResult(error.message);
    if (error instanceof ZodError) return errorResult(formatZodError(error, "input"));
    throw error;
  }
}
