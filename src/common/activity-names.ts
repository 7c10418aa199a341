/** Activity names, in one place so that workflows, workers and tests never drift apart. */
export const ActivityName = {
  callLlm: "callLlm",
  listTools: "listTools",
  callTool: "callTool",
} as const;
export type ActivityName = (typeof ActivityName)[keyof typeof ActivityName];
