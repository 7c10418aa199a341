/**
 * What a person sees of a run and sends to it: its phase, the requests it waits on (questions
 * and approvals), and the answers and decisions that resolve them. Plain JSON, shared by workflow code and clients.
 * Sandbox-safe: imported by workflow code.
 */
import { z } from "zod";
import { runPhases, type RunPhase } from "./run-phases.js";
import { TokenUsageSchema } from "./llm.js";
import type { UsageByModel } from "./usage.js";
import { ServerRequestActionSchema, ServerRequestKindSchema, StepLogSchema, StepProgressSchema, StepTextSchema, type StepProgress } from "./server-requests.js";

export const RunPhaseSchema = z.enum(runPhases);
export type { RunPhase };

/** How many tool calls a status keeps (`toolCalls`), and how much of each one's arguments and result. */
export const maxRecentToolCalls = 8;
export const maxToolCallText = 300;

/** How many step labels a status keeps (`recentSteps`). */
export const maxRecentSteps = 32;
/** How many settled requests a status keeps (`settled`). */
export const maxSettledRequests = 10;

/** The phases a run never leaves. */
export const endedPhases: readonly RunPhase[] = ["completed", "failed", "cancelled", "terminated"];
export const hasEnded = (phase: RunPhase): boolean => endedPhases.includes(phase);

/** A question the run (or one of its MCP servers) puts to a person; `kind: "input"` on the wire and in status JSON. */
export const QuestionRequestSchema = z.object({
  kind: z.literal("input"),
  /** Short and readable (`input-1`), so a person can type it. */
  id: z.string(),
  prompt: z.string(),
  /** JSON Schema the answer must satisfy; a plain string when absent. */
  schema: z.record(z.string(), z.unknown()).optional(),
  /** When the request gives up, in ms since the epoch. */
  expiresAt: z.number().optional(),
  /**
   * Set when an MCP server asks during a tool call (elicitation, or a sampling request held for
   * approval) rather than the run itself. Such a request may also be declined or cancelled
   * (`Answer.action`).
   */
  origin: z
    .object({
      server: z.string(),
      tool: z.string(),
      kind: ServerRequestKindSchema,
    })
    .optional(),
  /** URL-mode elicitation: the page the person must open; answer with `action: "accept"` once done there. */
  url: z.string().optional(),
});

export const ApprovalRequestSchema = z.object({
  kind: z.literal("approval"),
  id: z.string(),
  prompt: z.string(),
  server: z.string(),
  tool: z.string(),
  arguments: z.record(z.string(), z.unknown()),
});

export const PendingRequestSchema = z.discriminatedUnion("kind", [QuestionRequestSchema, ApprovalRequestSchema]);
export type QuestionRequest = z.infer<typeof QuestionRequestSchema>;
export type ApprovalRequest = z.infer<typeof ApprovalRequestSchema>;
export type PendingRequest = z.infer<typeof PendingRequestSchema>;

export const RunStatusSchema = z.object({
  runId: z.string(),
  phase: RunPhaseSchema,
  /** The step started last, e.g. `llm openai:gpt-4.1-mini` or `tool filesystem/read_text_file`. */
  currentStep: z.string().optional(),
  /** What a running run waits for between steps, when its code says (a chat: `the next message`); its last step has ended. */
  waitingFor: z.string().optional(),
  /** Steps (model and tool calls) started so far. */
  stepCount: z.number(),
  /**
   * The latest steps' labels, oldest first, up to `maxRecentSteps`: the last is `currentStep`,
   * numbered `stepCount`. A watcher that reads the status now and then still names every step.
   */
  recentSteps: z.array(z.string()).optional(),
  /**
   * The run's latest tool calls (the last few), as the model made them: an MCP tool by the name the
   * model sees (`<server>_<tool>`), a local tool (a handoff, a swarm function) by its own; the
   * arguments as sent and, once it came, the result's text, each cut to a few hundred characters.
   * A child run's are in its own status.
   */
  toolCalls: z
    .array(
      z.object({
        /** Its place among the run's tool calls, from 1: what tells two calls apart (a provider may reuse ids). */
        number: z.number(),
        /** The model's id for the call. */
        id: z.string(),
        tool: z.string(),
        agent: z.string().optional(),
        arguments: z.string(),
        result: z.string().optional(),
        isError: z.boolean().optional(),
      }),
    )
    .optional(),
  /** The labels of the steps in flight, oldest first, when there are several (a fan-out's branches). */
  inFlight: z.array(z.string()).optional(),
  pending: z.array(PendingRequestSchema),
  /**
   * The latest requests that were pending and are no more (answered, decided, timed out, or
   * withdrawn), oldest first, up to `maxSettledRequests`: a watcher that reads the status now and
   * then still learns of a request opened and settled between two reads. A child run's are added
   * with their ids prefixed, as its pending requests are.
   */
  settled: z.array(PendingRequestSchema).optional(),
  /** Tokens by model (`provider:model`), the run's child runs included. */
  usage: z.record(z.string(), TokenUsageSchema),
  /**
   * This run's own model calls' tokens by the agent that made them, then by model (a child run's
   * are in its own status; a continued run counts from its own start). `client.cost()` prices each.
   */
  usageByAgent: z.record(z.string(), z.record(z.string(), TokenUsageSchema)).optional(),
  /**
   * Of `usage`, what ended child runs spent that never reached this run's own count: a terminated
   * child's (it had no say) and what its children's statuses say of theirs. An ancestor adds it
   * for a child that ended, whose own report left it out.
   */
  unreportedUsage: z.record(z.string(), TokenUsageSchema).optional(),
  /** Why the run (or its last failed step) failed, in the words of whoever knew: the provider, the MCP server, the timeout. */
  lastError: z.string().optional(),
  /** The step that failed, when a step did. */
  failedStep: z.string().optional(),
  /** The step in flight is being retried: its next attempt and why the last one failed. */
  retrying: z
    .object({ step: z.string(), attempt: z.number(), maximumAttempts: z.number().optional(), error: z.string() })
    .optional(),
  /**
   * Retries of the run's steps, each with an id of its own, as `retrying` is, for watchers to tell
   * each once when many steps are in flight: in memory the run's latest 10; on Temporal the steps
   * retrying now.
   */
  retries: z
    .array(z.object({ id: z.string(), step: z.string(), attempt: z.number(), maximumAttempts: z.number().optional(), error: z.string() }))
    .optional(),
  /** The latest progress notification of each tool call in flight that reports progress. */
  progress: z.array(StepProgressSchema).optional(),
  /** The latest log messages of the run's MCP servers during its tool calls, oldest first (memory engine: the run's last 20; Temporal: those of calls in flight). */
  logs: z.array(StepLogSchema).optional(),
  /** The answer text so far of each model call that is streaming. */
  streaming: z.array(StepTextSchema).optional(),
  /**
   * Set when no worker answered in time (Temporal): why. The phase and what the server keeps (the
   * step in flight's progress, retries and streamed text) are shown; steps, questions and usage are not.
   */
  partial: z.string().optional(),
  /**
   * The run's child runs (nested patterns) in flight, then the last few that ended. On both
   * engines a run's status includes its children's streamed text, with ids `<child suffix>/<call id>`.
   */
  children: z.array(z.string()).optional(),
  /**
   * The latest step labels of those child runs (and theirs), by the child's id within this run
   * (`research-1`, `research-1/review-2`), as `recentSteps` are for this run. Added when a client
   * reads the status, on both engines.
   */
  childSteps: z
    .array(
      z.object({
        run: z.string(),
        stepCount: z.number(),
        recentSteps: z.array(z.string()),
        /** How the child ended, for one of the last few that ended (still listed in `children`). */
        ended: RunPhaseSchema.optional(),
      }),
    )
    .optional(),
  /**
   * Temporal: the run was started unwatched (`execute`, or `start` with `watch: false`), and no
   * one has read its status since, so its model calls do not stream their text. A client that
   * reads this tells the run (the `duragent.watch` signal), and its next model call streams.
   */
  unwatched: z.boolean().optional(),
});
export type RunStatus = z.infer<typeof RunStatusSchema>;

export const AnswerSchema = z.object({
  /** Which request this answers; may be left out when only one is pending. */
  requestId: z.string().optional(),
  /**
   * What the question asks for: a value that fits the pending request's `schema` when it has one
   * (`human_input`'s questions have none and take text), or the run refuses it as
   * `InvalidRunMessage` and the request stays open.
   */
  value: z.unknown(),
  /**
   * For requests an MCP server made (`origin` set): `accept` (the default) sends `value`,
   * validated against the request's schema with its defaults filled in; `decline` and `cancel`
   * send no data. The run's own questions can only be answered.
   */
  action: ServerRequestActionSchema.optional(),
});
export type Answer = z.infer<typeof AnswerSchema>;

export const ApprovalDecisionSchema = z.object({
  requestId: z.string().optional(),
  approved: z.boolean(),
  /** Replaces the model's arguments when approving. */
  arguments: z.record(z.string(), z.unknown()).optional(),
  /** Why it was rejected; the model reads it. */
  reason: z.string().optional(),
});
export type ApprovalDecision = z.infer<typeof ApprovalDecisionSchema>;

/** Message names a client uses to talk to a running workflow. */
export const RunMessages = {
  status: "duragent.status",
  transcript: "duragent.transcript",
  /** Who wrote each stretch of the transcript (\`TranscriptAgents[]\`), for \`duragent history\`. */
  transcriptAgents: "duragent.transcriptAgents",
  /** A person's answer (Update, or a signal for fire-and-forget senders). The name predates the word "answer"; running workflows know it by this one. */
  answer: "duragent.input",
  decide: "duragent.decide",
  pause: "duragent.pause",
  resume: "duragent.resume",
  /** Update from a tool-call activity: registers an MCP server's request for a person, or returns its answer. */
  serverRequest: "duragent.serverRequest",
  /** Query from a tool-call activity: the answer to a server request, by key, once given. */
  serverAnswer: "duragent.worker.serverAnswer",
  /** Signal from a client reading the status of an unwatched run: its model calls stream from now on. */
  watch: "duragent.watch",
  /** Signal from a child run to its parent: what it waits for now (`ChildWaits`), for the parent's Web UI details. */
  childWaits: "duragent.childWaits",
  /** Signal from a child run that ends short of completing to its parent: what it spent (`ChildUsage`), which no result carries. */
  childUsage: "duragent.childUsage",
} as const;

/** What a running run waits for between its steps, when its code says (`waitingFor`; a chat: the next message). */
export function waitingBetweenSteps(status: RunStatus): string | undefined {
  return status.phase === "running" ? status.waitingFor : undefined;
}

/**
 * A tool call's progress as people read it: `2/5, Step 2 of 5` (or `2` when the server gives no
 * total). The message is the server's, so it is kept to one line without control characters.
 */
export function progressText({ progress, total, message }: StepProgress): string {
  // eslint-disable-next-line no-control-regex
  const said = message?.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
  const shown = said && said.length > maxProgressMessage ? `${said.slice(0, maxProgressMessage - 1)}…` : said;
  // A bare 0 before a message says nothing (a model call waiting for its provider).
  if (progress === 0 && total === undefined && shown) return shown;
  return `${progress}${total !== undefined ? `/${total}` : ""}${shown ? `, ${shown}` : ""}`;
}

const maxProgressMessage = 100;

/** What a child run that failed or was cancelled spent, its own children included. */
export interface ChildUsage {
  /** The child's workflow id. */
  child: string;
  usage: UsageByModel;
}

/** What a child run (and its own children) waits for: ids as its parent's status shows them, texts cut. */
export interface ChildWaits {
  /** The child's workflow id. */
  child: string;
  pending: PendingRequest[];
  /** Counts the child's reports, so that one delivered late is not taken over a newer one. */
  sequence?: number;
}
