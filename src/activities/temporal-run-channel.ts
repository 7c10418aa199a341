/**
 * The tool-call activity's line to its own workflow run on Temporal, through the worker's client:
 * a server's request for a person is registered by an Update (which returns the answer at once if
 * a previous attempt already got one) and then polled with a query, while the activity heartbeats.
 * The answer lives in the workflow's state, never in this process, so it survives a worker crash.
 * Progress travels as heartbeat details, which cost no history events.
 */
import type { Context } from "@temporalio/activity";
import { ApplicationFailure } from "@temporalio/common";
import { FailureType } from "../common/failures.js";
import { isGrpcServiceError, ServiceError, WorkflowUpdateFailedError } from "@temporalio/client";
import { RunMessages } from "../common/run-status.js";
import { abandonOnAbort } from "./abandon-on-abort.js";
import {
  RunUnreachable,
  ServerRequestAnswerSchema,
  type RunChannel,
  type ServerRequestAnswer,
  appendStreamed,
  maxStepLogs,
  type StepLog,
  type StepLogs,
  type StepProgress,
  type StepText,
} from "../common/server-requests.js";

/** gRPC codes of a request the service will refuse again: malformed, or too large. */
const refusedCodes = new Set([3 /* INVALID_ARGUMENT */, 8 /* RESOURCE_EXHAUSTED */]);

/**
 * A failed message to the run, sorted: the run's own refusal (its validator: the request's
 * schema) and a request the service refuses as such go to the server as they are; anything else
 * failed on the way, and becomes {@link RunUnreachable}. That includes an Update the server
 * failed itself, which it does when the workflow task that carried it failed (a worker stopping
 * under it), so the tool call's next attempt asks again.
 */
export function unreachableUnlessRefused(error: unknown): unknown {
  if (error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure && error.cause.type === FailureType.invalidServerRequest) return error;
  const grpc = error instanceof ServiceError && isGrpcServiceError(error.cause) ? error.cause : isGrpcServiceError(error) ? error : undefined;
  if (grpc && refusedCodes.has(grpc.code)) return error;
  return new RunUnreachable(error instanceof Error ? error.message : String(error), { cause: error });
}

/** How often a waiting activity asks its run whether the person has answered. */
const ANSWER_POLL_MS = 300;

/** How often a streaming answer's text is offered as a heartbeat. */
const TEXT_HEARTBEAT_MS = 250;

export interface TemporalRunChannel extends RunChannel {
  /** The heartbeat details to send: the latest progress, or a model call's text so far. */
  details(): StepProgress | StepText | StepLogs | undefined;
}

export function temporalRunChannel(context: Context): TemporalRunChannel | undefined {
  const { workflowExecution } = context.info;
  // A standalone activity has no run to ask.
  if (!workflowExecution) return undefined;
  let latest: StepProgress | StepText | StepLogs | undefined;
  let streamed: StepText | undefined;
  // Counted from the call's start: a call that ends sooner sends no text heartbeat at all. Its
  // answer arrives as soon, and a heartbeat in flight held the activity's completion ~2.5 ms.
  let textSentAt = Date.now();
  // A tool call's server log messages ride along with its progress, once there are any.
  let progressed: StepProgress | undefined;
  const logs: StepLog[] = [];
  const handle = () => context.client.workflow.getHandle(workflowExecution.workflowId, workflowExecution.runId);
  const parse = (value: unknown): ServerRequestAnswer | null => (value == null ? null : ServerRequestAnswerSchema.parse(value));
  return {
    async ask(request, signal) {
      const workflow = handle();
      // Both wait on the run's workflow, which a worker that is stopping no longer runs.
      const send = <T>(message: () => Promise<T>): Promise<T> => abandonOnAbort(signal, message).catch((error: unknown) => Promise.reject(unreachableUnlessRefused(error)));
      let answer = parse(await send(() => workflow.executeUpdate(RunMessages.serverRequest, { args: [request] })));
      while (!answer) {
        await context.sleep(ANSWER_POLL_MS);
        answer = parse(await send(() => workflow.query(RunMessages.serverAnswer, request.key)));
      }
      return answer;
    },
    progress(progress) {
      progressed = progress;
      latest = logs.length > 0 ? { kind: "logs", progress, logs: [...logs] } : progress;
      context.heartbeat(latest);
    },
    log(entry) {
      logs.push(entry);
      if (logs.length > maxStepLogs) logs.shift();
      latest = { kind: "logs", ...(progressed ? { progress: progressed } : {}), logs: [...logs] };
      context.heartbeat(latest);
    },
    // Watchers read the text from the pending activity's heartbeat details: no history event, and
    // a retried attempt starts from nothing, so no watcher ever sees two attempts mixed. The server
    // takes a heartbeat a second at most, so encoding one per token would be wasted: the text goes
    // at most every TEXT_HEARTBEAT_MS, the first time once the call has run that long (watchers
    // poll a few times a second anyway), and the activity's own heartbeat carries the latest.
    text({ id, step, agent, delta }) {
      streamed = appendStreamed(
        streamed ?? { kind: "text", id: id ?? context.info.activityId, step, ...(agent ? { agent } : {}), attempt: context.info.attempt, text: "", length: 0 },
        delta,
      );
      latest = streamed;
      const now = Date.now();
      if (now - textSentAt >= TEXT_HEARTBEAT_MS) {
        textSentAt = now;
        context.heartbeat(streamed);
      }
    },
    details: () => latest,
  };
}
