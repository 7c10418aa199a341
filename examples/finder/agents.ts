/**
 * The finder: the classic "hello world" MCP agent. It reads local files through the filesystem
 * server and may use the demo tools of the `everything` server.
 */
import { z } from "zod";
import { defineAgent, defineWorkflow } from "duragent/workflow";

export const finder = defineAgent({
  name: "finder",
  instruction:
    "You answer questions about local files. Read them with the filesystem tools, " +
    "then answer briefly and only from what the files say.",
  servers: ["filesystem", "everything"],
});

/** A workflow written in code: the same agent, asked for a summary of one file. Its input schema refuses a bad input at start. */
export const summarizeFile = defineWorkflow(
  async (ctx, { path }) => {
    const llm = await finder.attachLlm(ctx);
    return llm.generateStr(`Summarize ${path} in two sentences.`);
  },
  { input: z.object({ path: z.string().min(1) }) },
);
