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
