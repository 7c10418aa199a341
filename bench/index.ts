/**
 * `npm run bench`: starts its own Temporal dev server and scripted model, runs 100-turn chats
 * with transcript references off and on, and prints history bytes next to the transcript's size.
 * `BENCH_TURNS=<n>` changes the number of turns.
 */
import { startDevServer } from "../src/temporal/dev-server.js";
import { DefaultLogger, Runtime } from "@temporalio/worker";
import { formatHistoryGrowth, measureHistoryGrowth } from "./history-growth.js";

const TARGET_RATIO = 2;

async function main(): Promise<void> {
  const turns = Number(process.env.BENCH_TURNS ?? 100);
  if (!Number.isInteger(turns) || turns < 1) throw new Error(`BENCH_TURNS must be a positive whole number, not "${process.env.BENCH_TURNS}".`);
  // The runs without references pass Temporal's 512 KiB payload warning by design; the worker's
  // native side would print each time, so only its errors are shown.
  Runtime.install({ logger: new DefaultLogger("ERROR"), telemetryOptions: { logging: { filter: "error", forward: {} } } });
  console.error("Starting a Temporal dev server...");
  const server = await startDevServer({ ui: false });
  try {
    console.error(`History growth: chats of ${turns} turns`);
    const rows = await measureHistoryGrowth({ address: server.address, turns, log: (line) => console.error(line) });
    console.log(`\nHistory after ${turns} chat turns, next to the transcript's own size (target with references: at most ${TARGET_RATIO}x)\n`);
    console.log(formatHistoryGrowth(rows));
    console.log(
      "\nhistory: the chat's history over all its runs, as the server counts it (its 50 MB limit applies per run);" +
        "\npayloads: the data in it. Without references Temporal suggests continuing as new early (the runs column)." +
        "\nWith references each message is stored once (a reply is read by query, not returned by its update); the" +
        "\nper-turn overhead is Temporal's own bookkeeping (about 11 events, ~1.7 KB a turn), the same in every row," +
        "\nso short messages cannot get near 1x.\n",
    );
    for (const profile of new Set(rows.map((row) => row.profile))) {
      const ratio = (mode: string) => {
        const row = rows.find((candidate) => candidate.profile === profile && candidate.mode === mode)!;
        return row.historyBytes / row.transcriptBytes;
      };
      const on = ratio(rows.find((row) => row.mode.startsWith("on (default"))!.mode);
      const verdict = on <= TARGET_RATIO ? "within" : "over";
      console.log(`${profile}: ${on.toFixed(2)}x with references (default), ${verdict} the ${TARGET_RATIO}x target; ${ratio("off").toFixed(2)}x without`);
    }
  } finally {
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
