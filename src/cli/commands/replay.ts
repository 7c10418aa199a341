/** `duragent replay <files…>`: replays saved run histories against the config's workflow code, the check before a deploy. */
import { existsSync } from "node:fs";
import { displayPath, ExitCode, UserError } from "../../errors/user-error.js";
import type { CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";

export async function replayCommand(context: CommandContext, files: string[]): Promise<CommandOutput> {
  const missing = files.filter((file) => !existsSync(file));
  if (missing.length > 0) {
    throw new UserError(`No such file: ${missing.join(", ")}.`, { name: "FileNotFound", exitCode: ExitCode.notFound, hint: saveHint });
  }
  const config = await context.config();
  const [{ replayRunHistories }, { createLogger }] = await Promise.all([import("../../testing/replay.js"), import("../../logger.js")]);
  // The SDK's warning for each history that fails says what the summary below says; shown when asked for.
  const logger = process.env.DURAGENT_LOG_LEVEL ? await context.logger() : createLogger("duragent", "error", "text");
  const outcomes = await replayRunHistories({ files, config, logger });
  const lines = outcomes.map(({ file, workflowId, reason }) => (reason !== undefined ? `${displayPath(file)}: does not replay: ${reason}` : `${displayPath(file)}: replays (${workflowId})`));
  const failed = outcomes.filter((outcome) => outcome.error).length;
  if (failed > 0) {
    throw new UserError(`${lines.join("\n")}\n${failed} of ${outcomes.length} ${outcomes.length === 1 ? "history does" : "histories do"} not replay against this code.`, {
      name: "ReplayFailed",
      exitCode: ExitCode.usage,
      hint: 'Runs like these would stop on workers with this code. Put a change of shape behind patched() from duragent/workflow (see "Changing workflow code safely" in the README), or keep the code that replays them.',
    });
  }
  return {
    data: { outcomes: outcomes.map(({ file, workflowId }) => ({ file, workflowId, replays: true })) },
    text: `${lines.join("\n")}\n${outcomes.length === 1 ? "the history replays" : `all ${outcomes.length} histories replay`} against this code`,
  };
}

const saveHint = "Save a run's history with `temporal workflow show --workflow-id <run> --output json > <file>`, or saveRunHistory from duragent/testing.";
