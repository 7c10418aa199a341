/**
 * Custom search attributes that make runs findable in the Web UI and with
 * `temporal workflow list --query "DuragentAgent='finder' AND DuragentPhase='waiting_input'"`.
 * Sandbox-safe: imported by workflow code.
 */
import { defineSearchAttributeKey, SearchAttributeType } from "@temporalio/common";

/** The agent, pattern or workflow a run was started for. */
export const agentSearchAttribute = defineSearchAttributeKey("DuragentAgent", SearchAttributeType.KEYWORD);
/** The run's phase (`running`, `waiting_input`, ...), kept current by the workflow. */
export const phaseSearchAttribute = defineSearchAttributeKey("DuragentPhase", SearchAttributeType.KEYWORD);

export const duragentSearchAttributes = [agentSearchAttribute, phaseSearchAttribute];

/** What a run starts tagged with: the target it was started as, running. */
export function startedAs(target: string): [{ key: typeof agentSearchAttribute; value: string }, { key: typeof phaseSearchAttribute; value: string }] {
  return [
    { key: agentSearchAttribute, value: target },
    { key: phaseSearchAttribute, value: "running" },
  ];
}
