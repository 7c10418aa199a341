/**
 * Nested patterns run as child runs, each with its own status. A watcher of the parent follows
 * their steps, streamed text and requests too: the parent's status gains each child's step labels
 * (`childSteps`, by the child's id within the parent, e.g. `research-1`), its streamed text, its
 * tools' progress, its pending questions and approvals, with ids prefixed by that id (`research-1/llm-2`,
 * `research-1/input-1`), so the pieces of different calls, in whatever run, never mix, and an
 * answer to `research-1/input-1` finds its run. The usage of a child still in flight counts in
 * its parent's, as an ended child's does once its end is in (with its result, or reported as it
 * failed or was cancelled; a terminated child's is read from it). A running parent whose child
 * waits for a person reads as waiting too (`phaseWithChildren`): the run as a whole cannot go on.
 */
import { hasEnded, type PendingRequest, type RunPhase, type RunStatus } from "./run-status.js";
import { addUsage, type UsageByModel } from "./usage.js";

/** The id a parent shows its child's request by: the child's id within the parent, `/`, the request's (`requestOwner` reads it back). */
export const childRequestId = (child: string, requestId: string): string => `${child}/${requestId}`;

/** Child runs' requests, by their id within the parent, as the parent shows them. */
export function childRequests(byChild: ReadonlyMap<string, readonly PendingRequest[]>): { child: string; request: PendingRequest }[] {
  return [...byChild].flatMap(([child, pending]) => pending.map((request) => ({ child, request: { ...request, id: childRequestId(child, request.id) } })));
}

/**
 * A run's phase counting what its child runs wait for: a running parent whose child waits for an
 * approval or an answer waits for it too. A paused or ended parent keeps its own phase.
 */
export function phaseWithChildren(phase: RunPhase, childPending: readonly Pick<PendingRequest, "kind">[]): RunPhase {
  if (phase !== "running" || childPending.length === 0) return phase;
  return childPending.some((request) => request.kind === "approval") ? "waiting_approval" : "waiting_input";
}

/** `childStatus` reads a child's status with its own children's steps and text already added. */
export async function withChildren(status: RunStatus, childStatus: (id: string) => Promise<RunStatus | undefined>): Promise<RunStatus> {
  if (!status.children?.length) return status;
  const texts = [...(status.streaming ?? [])];
  const progress = [...(status.progress ?? [])];
  const pending = [...status.pending];
  const ownPending = pending.length;
  const settled = [...(status.settled ?? [])];
  const steps: NonNullable<RunStatus["childSteps"]> = [];
  let usage: UsageByModel | undefined;
  let unreported: UsageByModel | undefined;
  const children = await Promise.all(status.children.map((id) => childStatus(id).catch(() => undefined)));
  for (const [index, child] of children.entries()) {
    if (!child) continue;
    const id = status.children[index]!;
    const prefix = id.startsWith(`${status.runId}/`) ? id.slice(status.runId.length + 1) : id;
    const ended = hasEnded(child.phase) ? { ended: child.phase } : {};
    if (child.stepCount > 0) steps.push({ run: prefix, stepCount: child.stepCount, recentSteps: child.recentSteps ?? (child.currentStep ? [child.currentStep] : []), ...ended });
    // A grandchild's steps are named by the path to it.
    for (const inner of child.childSteps ?? []) steps.push({ ...inner, run: `${prefix}/${inner.run}` });
    for (const text of child.streaming ?? []) texts.push({ ...text, id: `${prefix}/${text.id}` });
    for (const call of child.progress ?? []) progress.push({ ...call, callId: `${prefix}/${call.callId}` });
    // A parent that has ended takes no answers for its children, which end with it.
    if (!hasEnded(status.phase)) for (const request of child.pending) pending.push({ ...request, id: childRequestId(prefix, request.id) });
    for (const request of child.settled ?? []) settled.push({ ...request, id: childRequestId(prefix, request.id) });
    // An ended child's usage came to the parent with its result, or as it failed or was cancelled;
    // one in flight is counted meanwhile, and a terminated one, which had no say, from its state,
    // as is what an ended child's own status read of its terminated children, which its report left out.
    const uncounted = !hasEnded(child.phase) ? child.usage : child.phase === "terminated" ? child.usage : child.unreportedUsage;
    for (const [model, used] of Object.entries(uncounted ?? {})) addUsage((usage ??= { ...status.usage }), model, used);
    const lost = child.phase === "terminated" ? child.usage : hasEnded(child.phase) ? child.unreportedUsage : undefined;
    for (const [model, used] of Object.entries(lost ?? {})) addUsage((unreported ??= {}), model, used);
  }
  return {
    ...status,
    phase: phaseWithChildren(status.phase, pending.slice(ownPending)),
    pending,
    ...(settled.length > 0 ? { settled } : {}),
    ...(usage ? { usage } : {}),
    ...(unreported ? { unreportedUsage: unreported } : {}),
    ...(texts.length > 0 ? { streaming: texts } : {}),
    ...(progress.length > 0 ? { progress } : {}),
    ...(steps.length > 0 ? { childSteps: steps } : {}),
  };
}

/**
 * The run a request shown by its parent belongs to, and its id there: `sw-1/input-1` of run `r`
 * is `input-1` of `r/sw-1` (a child run's id is its parent's, `/`, its suffix).
 */
export function requestOwner(runId: string, requestId: string): { runId: string; requestId: string } {
  const cut = requestId.lastIndexOf("/");
  return cut < 0 ? { runId, requestId } : { runId: `${runId}/${requestId.slice(0, cut)}`, requestId: requestId.slice(cut + 1) };
}
