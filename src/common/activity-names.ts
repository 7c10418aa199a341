/** Activity names, in one place so that workflows, workers and tests never drift apart. */
export const ActivityName = {
  callLlm: "callLlm",
  listTools: "listTools",
  callTool: "callTool",
  listPrompts: "listPrompts",
  getPrompt: "getPrompt",
  listResources: "listResources",
  listResourceTemplates: "listResourceTemplates",
  readResource: "readResource",
} as const;
export type ActivityName = (typeof ActivityName)[keyof typeof ActivityName];
