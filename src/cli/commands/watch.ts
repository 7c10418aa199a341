/** `duragent watch <runId>`: live progress of a run, answering its questions when on a terminal. */
import { resultNote, resultText, type CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";
import { followRun } from "../follow-run.js";

export async function watchCommand(context: CommandContext, runId: string, options: { interactive: boolean; events?: boolean; agents?: string[] }): Promise<CommandOutput | void> {
  const handle = await (await context.client()).getHandle(runId);
  if (options.events) {
    await followRun(handle, { interactive: false, verbose: false, events: true, ...(options.agents ? { agents: options.agents } : {}) });
    return;
  }
  if (handle.link) context.notice(`watching ${runId}\nWeb UI: ${handle.link}`);
  const result = await followRun(handle, { interactive: options.interactive, verbose: !context.options.json, ...(options.agents ? { agents: options.agents } : {}) });
  return { data: { runId, link: handle.link, result }, text: resultText(result), note: resultNote(result) };
}
