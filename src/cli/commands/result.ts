/** `duragent result <runId>`: wait for a Temporal run's answer. */
import { resultText, type CommandOutput } from "../command-output.js";
import { runFailure, type Session } from "../session.js";
import { UserError } from "../../errors/user-error.js";

export async function resultCommand(session: Session, runId: string): Promise<CommandOutput> {
  if (session.engineName === "memory") {
    throw new UserError("`result` reads runs from Temporal; memory runs end with their command.", {
      hint: "Add --engine temporal (or set engine: temporal in duragent.config.yaml).",
    });
  }
  const engine = await session.engine();
  const handle = await engine.getHandle(runId);
  const result = await handle.result().catch((error: unknown) => {
    throw runFailure(runId, error);
  });
  return { data: { runId, link: handle.link, result }, text: resultText(result) };
}
