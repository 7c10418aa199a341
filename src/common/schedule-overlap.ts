/** What a scheduled run does when the last one still runs at its time: duragent's words, Temporal's policies. A module of its own, as the CLI names the choices before it loads anything. */
export const overlapPolicies = {
  skip: "SKIP",
  "buffer-one": "BUFFER_ONE",
  "buffer-all": "BUFFER_ALL",
  "cancel-other": "CANCEL_OTHER",
  "terminate-other": "TERMINATE_OTHER",
  "allow-all": "ALLOW_ALL",
} as const;
export type Overlap = keyof typeof overlapPolicies;
