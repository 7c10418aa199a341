/** duragent's waiting run for the scale benchmark: one model call, then a question to a person. */
import { defineWorkflow } from "duragent/workflow";

export const askAfterOneCall = defineWorkflow(async (ctx) => {
  const response = await ctx.callLlm({ model: ctx.run.settings.defaultModel, messages: [{ role: "user", content: "Ready?" }] });
  const answer = await ctx.ask({ prompt: "Go ahead?" });
  return { said: response.message.content, answer: answer.status === "answered" ? answer.value : null };
});
