/**
 * Chats through an engine: start a chat with an agent, send messages and get the agent's
 * replies, end it, or rejoin it later by its run id. This is the API under `duragent chat`; it
 * works the same on both engines (a Temporal chat can be rejoined from another process, a memory
 * chat only from the process that holds it).
 */
import { ApplicationFailure } from "@temporalio/common";
import { ChatMessages, ChatReplySchema, ChatTurnSchema, ChatResultSchema, type ChatReply, type ChatResult } from "../common/chat.js";
import type { Message } from "../common/messages.js";
import { hasEnded, type RunStatus } from "../common/run-status.js";
import type { AgentSpec } from "../workflows/agent/define-agent.js";
import { chatWorkflow } from "../workflows/builtin-workflows.js";
import { chatTurnFailed, type ChatInput } from "../workflows/chat/chat-session.js";
import type { DuragentWorkflow } from "../workflows/define-workflow.js";
import { chatWorkflowName, checkStartOptions, InvalidRunMessage, RunAlreadyEnded, type Engine, type RunHandle } from "./engine.js";
import { textEvents, type RunEvent, type ShownText } from "./run-events.js";
import type { RunTarget } from "./run-targets.js";
import { ExitCode, UserError } from "../errors/user-error.js";

export interface ChatSession {
  /** The chat's run id; it stays the same across continue-as-new, so it is what to rejoin with. */
  readonly runId: string;
  /** The Web UI page of the chat's current run, when the engine has a UI. */
  readonly link?: string;
  /** The run underneath, for status, pause, resume and cancel. */
  readonly handle: RunHandle;
  /**
   * Sends one user message and resolves with the agent's reply once the turn (tool calls
   * included) is done. Messages are answered one at a time, in the order they arrive. Rejects
   * with `InvalidRunMessage` for an empty message or an ended chat, and with the turn's failure
   * when the agent could not answer (the chat goes on).
   *
   * With `onText`, the turn's model answers are told as they stream (every model call of the
   * turn, labelled by call id; a restart when an attempt failed and began again), the reply's
   * text included, before the promise resolves.
   */
  send(text: string, options?: SendOptions): Promise<ChatReply>;
  /** The whole conversation so far, across runs: user messages, model turns and tool results. */
  transcript(): Promise<Message[]>;
  status(): Promise<RunStatus>;
  /** Ends the chat once the turns already sent are answered; resolves with the final tally. */
  end(): Promise<ChatResult>;
  /**
   * For a chat rejoined while a turn is under way: tells that turn's model answers from their
   * start as they stream, as `send` tells its own, and resolves with the chat's status once the
   * turn has ended (the chat waits for the next message), waits for a person, or the chat stopped.
   */
  followTurn(onText: (event: ChatTextEvent) => void): Promise<RunStatus>;
}

/** Whether a chat's turn is under way: it runs, and waits neither for the next message nor for a person. */
export function turnUnderWay(status: RunStatus): boolean {
  return status.phase === "running" && status.waitingFor === undefined && status.pending.length === 0;
}

export interface SendOptions {
  onText?: (event: ChatTextEvent) => void;
}

/** A piece of a model answer in a turn, or the marker that its attempt starts over. */
export type ChatTextEvent = Extract<RunEvent, { type: "text" | "restart" }>;

/** How often a streaming turn reads the chat's status. */
const textPollMs = 100;

export interface StartChatOptions {
  /** Continue as a new run after this many turns; the config's `execution.chatTurnsPerRun` when absent. */
  turnsPerRun?: number;
  /** The chat's id; `chat-<agent>-<8 hex>` when absent. */
  runId?: string;
  /** Values the chat's function tools read and no model sees (the user it is for): see `StartOptions.toolContext`. */
  toolContext?: Record<string, unknown>;
}

/** The built-in chat workflow as a run target; its type name is what workers register. */
const chatTarget: RunTarget = {
  kind: "workflow",
  name: chatWorkflowName,
  workflow: chatWorkflow as unknown as DuragentWorkflow,
};

/** A chat with an agent, or with a pattern under `workflows:` (`duragent chat desk` for a swarm). */
export async function startChat(engine: Engine, who: AgentSpec | Extract<RunTarget, { kind: "pattern" }>, options: StartChatOptions = {}): Promise<ChatSession> {
  const turns = options.turnsPerRun !== undefined ? { turnsPerRun: options.turnsPerRun } : {};
  const input: ChatInput = "kind" in who ? { pattern: who.spec, ...turns } : { agent: who, ...turns };
  const name = who.name;
  const id = options.runId !== undefined ? { runId: options.runId } : { runIdPrefix: `chat-${name}` };
  const toolContext = options.toolContext !== undefined ? { toolContext: checkStartOptions({ toolContext: options.toolContext }).toolContext } : {};
  return chatSession(await engine.start(chatTarget, input, { ...id, listedAs: name, ...toolContext }));
}

/** A chat started earlier (by this or, on Temporal, another process); rejects with `RunNotFound`. */
export async function rejoinChat(engine: Pick<Engine, "getHandle">, runId: string): Promise<ChatSession> {
  const handle = await engine.getHandle(runId);
  // Said before anything is typed into it, not after the first message.
  const { phase } = await handle.status({ watch: false });
  if (hasEnded(phase)) throw new RunAlreadyEnded(runId, phase, "rejoin; start a new chat with `duragent chat <agent>`");
  return chatSession(handle);
}

/**
 * A turn whose agent could not answer (its model or a tool failed past its retries): the message
 * was taken, the conversation is as it was before it, and the chat goes on.
 */
export class ChatTurnFailed extends UserError {
  override name = "ChatTurnFailed" as const;
  constructor(message: string) {
    super(message, { exitCode: ExitCode.runFailed });
  }
}

/** The same error from both engines: the memory engine's is the session's own failure, Temporal's the update's. */
function turnFailure(error: unknown): unknown {
  if (error instanceof ApplicationFailure && error.type === chatTurnFailed) return new ChatTurnFailed(error.message);
  if (error instanceof InvalidRunMessage && error.failureType === chatTurnFailed) return new ChatTurnFailed(error.message);
  return error;
}

function chatSession(handle: RunHandle): ChatSession {
  return {
    runId: handle.runId,
    ...(handle.link !== undefined ? { link: handle.link } : {}),
    handle,
    send: async (text, options = {}) => {
      const follower = options.onText && (await followText(handle, options.onText));
      try {
        const { turn } = ChatTurnSchema.parse(
          await handle.update(ChatMessages.send, { text }).catch((error: unknown) => {
            throw turnFailure(error);
          }),
        );
        const reply = await handle.query(ChatMessages.reply, { turn });
        if (reply === null) throw new Error(`The reply to turn ${turn} is no longer kept; read it with the transcript.`);
        await follower?.finish();
        return ChatReplySchema.parse(reply);
      } finally {
        follower?.stop();
      }
    },
    transcript: () => handle.transcript(),
    status: () => handle.status(),
    end: async () => ChatResultSchema.parse(await handle.update(ChatMessages.end, {})),
    followTurn: async (onText) => {
      let status = await handle.status();
      // Texts that ended before now are earlier turns' (or shown in the rejoin's recap); one under way is told from its start.
      const shown = shownAlready(status, (text) => text.done === true);
      for (;;) {
        tellTexts(status, shown, onText);
        if (!turnUnderWay(status)) return status;
        await new Promise((resolve) => setTimeout(resolve, textPollMs));
        status = await handle.status();
      }
    },
  };
}

/**
 * Tells the text of model calls that start after it began, until stopped. Texts already in the
 * status (earlier turns' answers) count as shown; `finish` reads the status once more, for the rest
 * of the answer that ended the turn.
 */
async function followText(handle: RunHandle, onText: (event: ChatTextEvent) => void): Promise<{ finish(): Promise<void>; stop(): void }> {
  // Text under way when this turn was sent is an earlier turn's (a chat rejoined mid-reply): never told as this one's.
  const shown = shownAlready(await handle.status(), () => true);
  const tell = (status: RunStatus | undefined) => status && tellTexts(status, shown, onText);
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const poll = async () => {
    const status = await handle.status().catch(() => undefined);
    if (stopped) return;
    tell(status);
    timer = setTimeout(() => void poll(), textPollMs);
  };
  timer = setTimeout(() => void poll(), textPollMs);
  return {
    finish: async () => {
      stopped = true;
      clearTimeout(timer);
      tell(await handle.status().catch(() => undefined));
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

/** The status's texts that `counts` picks, as already told in full: they are never told again. */
function shownAlready(status: RunStatus, counts: (text: NonNullable<RunStatus["streaming"]>[number]) => boolean): ShownText {
  return new Map((status.streaming ?? []).filter(counts).map((text) => [text.id, { attempt: text.attempt, text: text.text, done: true }]));
}

/** Tells what the status's texts add to what was shown: their new pieces, and restarts. */
function tellTexts(status: RunStatus, shown: ShownText, onText: (event: ChatTextEvent) => void): void {
  for (const streaming of status.streaming ?? []) {
    for (const event of textEvents(streaming, shown, status.retrying)) if (event.type === "text" || event.type === "restart") onText(event);
  }
}
