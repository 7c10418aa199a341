/**
 * History growth of a long chat: how many bytes of Temporal history 100 turns cost, next to the
 * size of the conversation itself, with transcript references off and on, and with the replies
 * streamed (each in 20 pieces, 10 ms apart) and not.
 *
 * Without references every model call repeats the conversation in its activity input, so history
 * grows with the square of the turns. With them each message is stored once, and what remains
 * is each reply's copy in its update's outcome plus Temporal's fixed cost per turn (about a dozen
 * events: the update, two workflow tasks, the activity), which the per-turn column shows.
 * History is summed over all of the chat's runs: the chat continues as new when Temporal suggests
 * it, which without references happens within 100 turns. A profile's modes run side by side, each
 * on its own worker, so the time column is each chat's wall time among the others.
 */
import { randomUUID } from "node:crypto";
import { Client, Connection } from "@temporalio/client";
import type { DuragentConfig } from "../src/config/schema.js";
import { ConfigSchema } from "../src/config/schema.js";
import { runSettingsFromConfig } from "../src/config/load-config.js";
import { startChat } from "../src/client/chat.js";
import { TemporalEngine } from "../src/client/temporal-engine.js";
import { createLogger } from "../src/logger.js";
import { runChainStats } from "../src/testing/history-stats.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { textOf } from "../src/common/messages.js";
import { historyLimitDefaults } from "../src/common/run-settings.js";
import { createWorker } from "../src/worker.js";
import type { Figure } from "./report.js";

export interface ConversationProfile {
  name: string;
  /** Bytes of each user message. */
  userBytes: number;
  /** Bytes of each reply. */
  replyBytes: number;
}

export interface ReferenceMode {
  name: string;
  /** `execution.transcriptReferenceBytes`; a huge value turns references off. */
  transcriptReferenceBytes: number;
  /** `llm.providers.openai.stream`; on unless false. */
  stream?: boolean;
}

export interface HistoryGrowthRow {
  profile: string;
  mode: string;
  turns: number;
  /** UTF-8 bytes of the conversation's messages as JSON. */
  transcriptBytes: number;
  /** The chat's history as the server counts it, over all its runs. */
  historyBytes: number;
  historyEvents: number;
  /** Runs the chat took: without references Temporal suggests continuing as new early. */
  runs: number;
  /** Bytes of all payloads in the history (inputs, results, update arguments and outcomes). */
  payloadBytes: number;
  /** The largest activity input: the model call that repeats the most. */
  largestActivityInputBytes: number;
  seconds: number;
}

export const defaultProfiles: ConversationProfile[] = [
  { name: "short chat", userBytes: 200, replyBytes: 800 },
  { name: "long-form", userBytes: 2_000, replyBytes: 4_000 },
];

export const defaultModes: ReferenceMode[] = [
  { name: "off", transcriptReferenceBytes: Number.MAX_SAFE_INTEGER },
  { name: "on (default, 8 KiB)", transcriptReferenceBytes: historyLimitDefaults.transcriptReferenceBytes },
  { name: "on (always)", transcriptReferenceBytes: 1 },
  { name: "on (default), not streamed", transcriptReferenceBytes: historyLimitDefaults.transcriptReferenceBytes, stream: false },
];

const streamedPieces = 20;

/** Deterministic filler of an exact length, so sizes are what the profile says. */
function filler(prefix: string, bytes: number): string {
  const words = "the quick brown fox jumps over the lazy dog and keeps on running through the long grass ";
  const body = words.repeat(Math.ceil(bytes / words.length) + 1);
  return `${prefix}${body}`.slice(0, bytes);
}

export async function measureHistoryGrowth(options: {
  address: string;
  turns: number;
  profiles?: ConversationProfile[];
  modes?: ReferenceMode[];
  log?: (line: string) => void;
}): Promise<HistoryGrowthRow[]> {
  const profiles = options.profiles ?? defaultProfiles;
  const modes = options.modes ?? defaultModes;
  const rows: HistoryGrowthRow[] = [];
  // Without references one page of history passes gRPC's default 4 MB message limit.
  const connection = await Connection.connect({
    address: options.address,
    channelArgs: { "grpc.max_receive_message_length": 256 * 1024 * 1024 },
  });
  const client = new Client({ connection });
  try {
    for (const profile of profiles) {
      rows.push(...(await measureProfile(options.address, client, profile, modes, options.turns, options.log)));
    }
  } finally {
    await connection.close();
  }
  return rows;
}

async function measureProfile(
  address: string,
  client: Client,
  profile: ConversationProfile,
  modes: ReferenceMode[],
  turns: number,
  log?: (line: string) => void,
): Promise<HistoryGrowthRow[]> {
  const model = await startScriptedModelServer(
    (call: ScriptedCall): ScriptedTurn => {
      const last = call.messages.at(-1);
      const said = last && last.role === "user" ? textOf(last.content).slice(0, 20) : "";
      const text = filler(`Reply to "${said}": `, profile.replyBytes);
      const size = Math.ceil(text.length / streamedPieces);
      const chunks = Array.from({ length: streamedPieces }, (_, index) => text.slice(index * size, (index + 1) * size)).filter((piece) => piece !== "");
      return { text, chunks, chunkDelayMs: 10 };
    },
    { quiet: true },
  );
  try {
    // The modes' chats run side by side: what they measure is bytes of history, which waiting
    // on each other's streamed replies would only make slower to find out.
    return await Promise.all(
      modes.map(async (mode) => {
        const row = await measureOne(address, client, model.openaiBaseURL, profile, mode, turns);
        log?.(`  ${profile.name}, references ${mode.name}: done`);
        return row;
      }),
    );
  } finally {
    await model.close();
  }
}

async function measureOne(
  address: string,
  client: Client,
  openaiBaseURL: string,
  profile: ConversationProfile,
  mode: ReferenceMode,
  turns: number,
): Promise<HistoryGrowthRow> {
  const config: DuragentConfig = ConfigSchema.parse({
    engine: "temporal",
    temporal: { address, taskQueue: `bench-${randomUUID()}` },
    llm: { providers: { openai: { apiKey: "bench-key", baseURL: openaiBaseURL, stream: mode.stream ?? true } } },
    execution: { transcriptReferenceBytes: mode.transcriptReferenceBytes, chatTurnsPerRun: turns + 1 },
  });
  const worker = await createWorker({ config, logger: createLogger("bench-worker", "silent") });
  const engine = await TemporalEngine.connect(config, runSettingsFromConfig(config));
  try {
    return await worker.worker.runUntil(async () => {
      const started = Date.now();
      const chat = await startChat(engine, { name: "bencher", instruction: "You are a helpful assistant." });
      for (let turn = 1; turn <= turns; turn++) await chat.send(filler(`Message ${turn}: `, profile.userBytes));
      const seconds = (Date.now() - started) / 1000;
      // Measured after the turns and before the end, so the end's own events do not count. Every
      // run counts: the chat continues as new whenever Temporal suggests it.
      const runs = await runChainStats(client, chat.runId);
      const sum = (field: "bytes" | "events" | "payloadBytes") => runs.reduce((total, run) => total + run[field], 0);
      const transcript = await chat.transcript();
      await chat.end();
      return {
        profile: profile.name,
        mode: mode.name,
        turns,
        transcriptBytes: transcript.reduce((sum, message) => sum + Buffer.byteLength(JSON.stringify(message)), 0),
        historyBytes: sum("bytes"),
        historyEvents: sum("events"),
        runs: runs.length,
        payloadBytes: sum("payloadBytes"),
        largestActivityInputBytes: Math.max(...runs.map((run) => run.largestPayloadByEvent.activityTaskScheduledEventAttributes ?? 0)),
        seconds,
      };
    });
  } finally {
    await engine.close();
    await worker.close();
  }
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** The rows as an aligned text table. */
export function formatHistoryGrowth(rows: HistoryGrowthRow[]): string {
  const header = ["conversation", "references", "transcript", "history", "history/transcript", "payloads/transcript", "per-turn overhead", "largest activity input", "events", "runs", "time"];
  const lines = rows.map((row) => [
    row.profile,
    row.mode,
    kib(row.transcriptBytes),
    kib(row.historyBytes),
    `${(row.historyBytes / row.transcriptBytes).toFixed(2)}x`,
    `${(row.payloadBytes / row.transcriptBytes).toFixed(2)}x`,
    `${Math.round((row.historyBytes - row.payloadBytes) / row.turns)} B`,
    kib(row.largestActivityInputBytes),
    String(row.historyEvents),
    String(row.runs),
    `${row.seconds.toFixed(1)} s`,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const render = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  return [render(header), render(widths.map((width) => "-".repeat(width))), ...lines.map(render)].join("\n");
}

/**
 * The bench table's history figures: per conversation, history over transcript with references on
 * (limit 2x) and off, and history with streaming on over history with it off (limit 1.10x).
 */
export function historyFigures(rows: HistoryGrowthRow[]): Figure[] {
  const streaming = rows.flatMap((row): Figure[] => {
    const plain = rows.find((other) => other.profile === row.profile && other.mode === "on (default), not streamed");
    if (!row.mode.startsWith("on (default") || row.mode === plain?.mode || !plain) return [];
    return [
      {
        section: "history",
        name: `${row.profile}, ${row.turns} turns, streamed over not streamed`,
        value: row.historyBytes / plain.historyBytes,
        unit: "x" as const,
        limit: { value: 1.1, label: "1.10x" },
        note: `streamed ${kib(row.historyBytes)} in ${row.historyEvents} events, not ${kib(plain.historyBytes)} in ${plain.historyEvents}`,
      },
    ];
  });
  return rows
    .filter((row) => row.mode !== "on (always)" && !row.mode.includes("not streamed"))
    .map((row): Figure => ({
      section: "history",
      name: `${row.profile}, ${row.turns} turns, references ${row.mode.startsWith("on") ? "on" : "off"}`,
      value: row.historyBytes / row.transcriptBytes,
      unit: "x" as const,
      ...(row.mode.startsWith("on") ? { limit: { value: 2, label: "2x the transcript" } } : {}),
      note: `history ${kib(row.historyBytes)}, transcript ${kib(row.transcriptBytes)}`,
    }))
    .concat(streaming);
}
