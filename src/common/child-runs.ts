/**
 * Nested patterns run as child runs, each with its own status. A watcher of the parent follows
 * their steps and streamed text too: the parent's status gains each child's step labels
 * (`childSteps`, by the child's id within the parent, e.g. `research-1`) and its streamed text,
 * with ids prefixed by that id (`research-1/llm-2`), so the pieces of different calls, in
 * whatever run, never mix.
 */
import type { RunStatus } from "./run-status.js";

/** `childStatus` reads a child's status with its own children's steps and text already added. */
export async function withChildren(status: RunStatus, childStatus: (id: string) => Promise<RunStatus | undefined>): Promise<RunStatus> {
  if (!status.children?.length) return status;
  const texts = [...(status.streaming ?? [])];
  const steps: NonNullable<RunStatus["childSteps"]> = [];
  const children = await Promise.all(status.children.map((id) => childStatus(id).catch(() => undefined)));
  for (const [index, child] of children.entries()) {
    if (!child) continue;
    const id = status.children[index]!;
    const prefix = id.startsWith(`${status.runId}/`) ? id.slice(status.runId.length + 1) : id;
    if (child.stepCount > 0) steps.push({ run: prefix, stepCount: child.stepCount, recentSteps: child.recentSteps ?? (child.currentStep ? [child.currentStep] : []) });
    // A grandchild's steps are named by the path to it.
    for (const inner of child.childSteps ?? []) steps.push({ ...inner, run: `${prefix}/${inner.run}` });
    for (const text of child.streaming ?? []) texts.push({ ...text, id: `${prefix}/${text.id}` });
  }
  return { ...status, ...(texts.length > 0 ? { streaming: texts } : {}), ...(steps.length > 0 ? { childSteps: steps } : {}) };
}
