/**
 * An engine starts runs and hands back their results. The CLI talks to this interface only, so
 * `--engine memory|temporal` is one switch. (The executor, in src/workflows, is the seam inside a
 * run; the engine is the seam around it.)
 */
import type { Message } from "../common/messages.js";
import type { ApprovalDecision, HumanAnswer, RunPhase, RunStatus } from "../common/run-status.js";
import type { RunTarget } from "./run-targets.js";

export interface RunHandle {
  /** The run's id; on Temporal, the workflow id. */
  readonly runId: string;
  /** Where a person can watch the run, when the engine has a UI. */
  readonly link?: string;
  /** Waits for the run to end; rejects with the run's failure. */
  result(): Promise<unknown>;
  /** Phase, steps, pending requests, usage and last error; cheap enough to poll. */
  status(): Promise<RunStatus>;
  /** Every message the run's agents exchanged so far. */
  transcript(): Promise<Message[]>;
  /** Answers a pending input request; rejects with `InvalidRunMessage` when the answer does not fit. */
  sendInput(answer: HumanAnswer): Promise<void>;
  /** Approves or rejects a pending tool call; rejects with `InvalidRunMessage` when none fits. */
  decide(decision: ApprovalDecision): Promise<void>;
  /** Holds the run before its next step; a step in flight finishes. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stops in-flight steps; the run ends as cancelled. */
  cancel(): Promise<void>;
  /**
   * Sends the named update (a workflow's own request type, e.g. `duragent.chat.send`) and returns
   * the run's answer. Rejects with `InvalidRunMessage` when the run refuses it; the run is then
   * untouched. Follows the run across continue-as-new.
   */
  update<R = unknown>(name: string, payload?: unknown): Promise<R>;
  /** Sends the named signal; fire and forget. */
  signal(name: string, payload?: unknown): Promise<void>;
  /** Asks the named query of the run's current state (across continue-as-new, the latest run). */
  query<R = unknown>(name: string, payload?: unknown): Promise<R>;
}

export interface StartOptions {
  /** The run's id; a readable unique one (`<target>-<8 hex>`) when absent. */
  runId?: string;
}

export interface RunSummary {
  runId: string;
  /** The workflow type: `agentWorkflow`, `patternWorkflow` or a module's workflow. */
  type: string;
  phase: RunPhase;
  startedAt?: string;
  link?: string;
}

export interface Engine {
  readonly name: "memory" | "temporal";
  start(target: RunTarget, input: unknown, options?: StartOptions): Promise<RunHandle>;
  /** Finds a run this engine started earlier; rejects with `RunNotFound`. */
  getHandle(runId: string): Promise<RunHandle>;
  /** Recent runs, newest first. */
  list(limit: number): Promise<RunSummary[]>;
  /** Releases connections and child processes. */
  close(): Promise<void>;
}

/** A message the run refused (an invalid answer, no such request); the run is untouched. */
export class InvalidRunMessage extends Error {
  override readonly name = "InvalidRunMessage";
}

export class RunNotFound extends Error {
  override readonly name = "RunNotFound";
  constructor(readonly runId: string, where: string) {
    super(`No run '${runId}' ${where}. Check the id with \`duragent list\`.`);
  }
}

/** The input a target receives: agents take a message, patterns their spec and input, workflows their own input. */
export function targetInput(target: RunTarget, input: unknown): unknown {
  if (target.kind === "agent") {
    const message = typeof input === "string" ? input : JSON.stringify(input);
    return { agent: target.agent, message };
  }
  if (target.kind === "pattern") {
    return { spec: target.spec, input: typeof input === "string" ? input : JSON.stringify(input) };
  }
  return target.workflow.inputSchema ? target.workflow.inputSchema.parse(input) : input;
}

/** The Temporal workflow type that runs a target. */
export function workflowType(target: RunTarget): string {
  if (target.kind === "agent") return "agentWorkflow";
  return target.kind === "pattern" ? "patternWorkflow" : target.name;
}

/** A readable, unique run id: `finder-3f9a1c2b`. */
export function newRunId(target: RunTarget, uuid: string): string {
  return `${target.name}-${uuid.replace(/-/g, "").slice(0, 8)}`;
}
