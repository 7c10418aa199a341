/**
 * The tool-call activity's line to its own workflow run on Temporal, through the worker's client:
 * a server's request for a person is registered by an Update (which returns the answer at once if
 * a previous attempt already got one) and then polled with a query, while the activity heartbeats.
 * The answer lives in the workflow's state, never in this process, so it survives a worker crash.
 * Progress travels as heartbeat details, which cost no history events.
 */
import type { Context } from "@temporalio/activity";
import { RunMessages } from "../common/run-status.js";
import {
  ServerRequestAnswerSchema,
  type RunChannel,
  type ServerRequestAnswer,
  type StepProgress,
} from "../common/server-requests.js";

/** How often a waiting activity asks its run whether the person has answered. */
const ANSWER_POLL_MS = 300;

export interface TemporalRunChannel extends RunChannel {
  /** The heartbeat details to send: the latest progress, if any. */
  details(): StepProgress | undefined;
}

export function temporalRunChannel(context: Context): TemporalRunChannel | undefined {
  const { workflowExecution } = context.info;
  // A standalone activity has no run to ask.
  if (!workflowExecution) return undefined;
  let latest: StepProgress | undefined;
  const handle = () => context.client.workflow.getHandle(workflowExecution.workflowId, workflowExecution.runId);
  const parse = (value: unknown): ServerRequestAnswer | null => (value == null ? null : ServerRequestAnswerSchema.parse(value));
  return {
    async ask(request, signal) {
      const workflow = handle();
      let answer = parse(await workflow.executeUpdate(RunMessages.serverRequest, { args: [request] }));
      while (!answer) {
        await context.sleep(ANSWER_POLL_MS);
        signal.throwIfAborted();
        answer = parse(await workflow.query(RunMessages.serverAnswer, request.key));
      }
      return answer;
    },
    progress(progress) {
      latest = progress;
      context.heartbeat(progress);
    },
    details: () => latest,
  };
}
