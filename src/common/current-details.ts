/**
 * What a run needs, as markdown for the Temporal Web UI's "Current Details" (set with
 * `setCurrentDetails`): its phase and step, and when it waits, the question or the tool call to
 * approve with the exact command that answers it. Sandbox-safe and pure.
 */
import { RunMessages, waitingBetweenSteps, type ChildWaits, type PendingRequest, type RunStatus } from "./run-status.js";
import { childRequests, phaseWithChildren } from "./child-runs.js";
import { soleFormField } from "./elicitation-schema.js";

const phaseWords: Record<RunStatus["phase"], string> = {
  running: "running",
  waiting_input: "waiting for an answer",
  waiting_approval: "waiting for an approval",
  paused: "paused",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
  terminated: "terminated",
};

/** Long prompts and arguments are cut: the page is a summary, `duragent status` has the rest. */
const maxText = 500;

/**
 * `childWaits`: what the run's child runs wait for, by their id within this run (`inner-1`), as
 * they reported it; answered through this run, like its own requests.
 */
export function currentDetails(status: RunStatus, childWaits: ReadonlyMap<string, PendingRequest[]> = new Map()): string {
  const step = status.currentStep ? `step ${status.stepCount}: \`${status.currentStep}\`` : `step ${status.stepCount}`;
  // A question or approval is not a step of its own: the run waits after its last one.
  const waitingFor = waitingBetweenSteps(status);
  const ofChildren = childRequests(childWaits);
  // A running parent whose child waits for a person waits for it too.
  const own = phaseWithChildren(status.phase, ofChildren.map(({ request }) => request));
  const phase = own !== status.phase || !waitingFor ? phaseWords[own] : `waiting for ${waitingFor}`;
  // A run that has taken no step of its own (a fan-out whose branches are child runs) names none.
  const where = status.stepCount === 0 && !status.currentStep ? "" : ` · ${waitingFor || status.pending.length > 0 || ofChildren.length > 0 || status.phase === "completed" ? `after ${step}` : step}`;
  const lines = [`**${phase}**${where}`];
  if (status.retrying) {
    const of = status.retrying.maximumAttempts ? ` of ${status.retrying.maximumAttempts}` : "";
    lines.push(`Retrying \`${status.retrying.step}\` (attempt ${status.retrying.attempt}${of}): ${cut(status.retrying.error)}`);
  }
  const several = status.pending.length + ofChildren.length > 1;
  for (const request of status.pending) lines.push(...pendingLines(status.runId, request, several));
  for (const { child, request } of ofChildren) lines.push(...pendingLines(status.runId, request, several, child));
  if (status.phase === "paused") lines.push(`Resume: \`duragent resume ${status.runId}\``);
  if (status.lastError && status.phase === "failed") lines.push(`Failed${status.failedStep ? ` in \`${status.failedStep}\`` : ""}: ${cut(status.lastError)}`);
  return lines.join("\n\n");
}

function pendingLines(runId: string, request: PendingRequest, several: boolean, child?: string): string[] {
  const which = several ? ` --request ${request.id}` : "";
  const inChild = child === undefined ? "" : ` in child run \`${child}\``;
  // For people who use Temporal's own tools (the Web UI, `temporal workflow update`): a child's
  // request (`inner-1/input-1`) goes to the run that asked, by the id it knows it by.
  const slash = request.id.lastIndexOf("/");
  const owner = slash < 0 ? "" : ` of \`${runId}/${request.id.slice(0, slash)}\``;
  const ownId = request.id.slice(slash + 1);
  const native = (update: string, payload: string) => `Or with Temporal's tools: update \`${update}\`${owner} with \`${payload}\``;
  if (request.kind === "approval") {
    return [
      `**Approve the tool call**${inChild} \`${request.server}/${request.tool}\`: ${cut(request.prompt)}`,
      `Arguments: \`${cut(JSON.stringify(request.arguments))}\``,
      `Approve: \`duragent approve ${runId}${which}\` · Reject: \`duragent reject ${runId}${which} --reason "…"\``,
      native(RunMessages.decide, `{"approved": true, "requestId": "${ownId}"}`),
    ];
  }
  const from = request.origin ? ` (from \`${request.origin.server}/${request.origin.tool}\`)` : "";
  return [
    `**Question**${inChild}${from}: ${cut(request.prompt)}`,
    `Answer: \`duragent answer ${runId}${which} --value ${valueShape(answeredSchema(request))}\``,
    native(RunMessages.answer, `{"value": …, "requestId": "${ownId}"}`),
  ];
}

/** An MCP server's form of one field is answered with the field's value alone, as `duragent answer` reads it. */
function answeredSchema(request: Extract<PendingRequest, { kind: "input" }>): Record<string, unknown> | undefined {
  return (request.origin && request.schema?.type === "object" ? soleFormField(request.schema)?.schema : undefined) ?? request.schema;
}

/** What `--value` takes for a question's schema, in the shape a shell passes it. */
function valueShape(schema: Record<string, unknown> | undefined): string {
  const type = schema?.type;
  if (type === "object") return "'{…}'  (JSON)";
  if (type === "array") return "'[…]'  (JSON)";
  if (type === "boolean") return "yes|no";
  if (type === "number" || type === "integer") return "<number>";
  return '"…"';
}

/**
 * What a child run tells its parent it waits for: its own requests and its children's (ids
 * prefixed, as in the parent's status), texts cut as the page cuts them, so the signal stays small.
 */
export function waitsForParent(child: string, own: readonly PendingRequest[], childWaits: ReadonlyMap<string, PendingRequest[]>): ChildWaits {
  const nested = childRequests(childWaits).map(({ request }) => request);
  const pending = [...own, ...nested].map((request): PendingRequest => {
    if (request.kind === "input") return { kind: "input", id: request.id, prompt: cut(request.prompt), ...(request.origin ? { origin: request.origin } : {}) };
    const args = JSON.stringify(request.arguments);
    return { ...request, prompt: cut(request.prompt), arguments: args.length > maxText ? { "…": cut(args) } : request.arguments };
  });
  return { child, pending };
}

function cut(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > maxText ? `${flat.slice(0, maxText)}…` : flat;
}
