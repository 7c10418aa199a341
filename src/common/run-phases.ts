/** A run's phases; without zod, so the CLI can offer them before it loads anything. Sandbox-safe. */
export const runPhases = [
  "running",
  "waiting_input",
  "waiting_approval",
  "paused",
  "completed",
  "failed",
  "cancelled",
  /** Ended from outside (`duragent terminate`), its workflow code given no say: only Temporal's runs end so. */
  "terminated",
] as const;
export type RunPhase = (typeof runPhases)[number];

/** What runs can be listed by: a phase, or `waiting` for every run waiting for a person, for an answer or an approval. */
export const listPhases = [...runPhases, "waiting"] as const;
export type ListPhase = (typeof listPhases)[number];

/** The phases a list filter takes in. */
export function phasesListed(filter: ListPhase): RunPhase[] {
  return filter === "waiting" ? ["waiting_input", "waiting_approval"] : [filter];
}
