/** `duragent watch <runId>`: live progress of a run, answering its questions when on a terminal. */
import { resultText, type CommandOutput } from "../command-output.js";
import { followRun } from "../follow-run.js";
import { findRun } from "../run-lookup.js";
import { runFailure, type Session } from "../session.js";

export async function watchCommand(session: Session, runId: string, options: { interactive: boolean }): Promise<CommandOutput> {
  const handle = await findRun(session, runId);
  if (!session.options.json && handle.link) process.stderr.write(`watching ${runId}\nWeb UI: ${handle.link}\n`);
  const result = await followRun(handle, { interactive: options.interactive, verbose: !session.options.json }).catch(
    (error: unknown) => {
      throw runFailure(runId, error);
    },
  );
  return { data: { runId, link: handle.link, result }, text: resultText(result) };
}
