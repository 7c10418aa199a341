/**
 * Nested patterns run as child runs, each with its own status. A watcher of the parent follows
 * their streamed text too: it is added to the parent's status with ids prefixed by the child's
 * suffix (`research-1/llm-2`), so the pieces of different calls, in whatever run, never mix.
 */
import type { RunStatus } from "./run-status.js";

/** `childStatus` reads a child's status with its own children's text already added. */
export async function withChildText(status: RunStatus, childStatus: (id: string) => Promise<RunStatus | undefined>): Promise<RunStatus> {
  if (!status.children?.length) return status;
  const texts = [...(status.streaming ?? [])];
  const children = await Promise.all(status.children.map((id) => childStatus(id).catch(() => undefined)));
  for (const [index, child] of children.entries()) {
    const id = status.children[index]!;
    const prefix = id.startsWith(`${status.runId}/`) ? id.slice(status.runId.length + 1) : id;
    for (const text of child?.streaming ?? []) texts.push({ ...text, id: `${prefix}/${text.id}` });
  }
  return texts.length > 0 ? { ...status, streaming: texts } : status;
}
