/**
 * Crash recovery: two `duragent worker` processes serve one task queue; a run's model call hangs
 * on one of them, which is then killed (SIGKILL, its whole process group). The figure is the time
 * from the kill to the call's next attempt reaching the model, made by the standby worker: what a
 * dead worker costs a run. The limit is 5 s.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Client, Connection } from "@temporalio/client";
import { createClient } from "../dist/client.js";
import { defaultRunSettings } from "../src/common/run-settings.js";
import { startScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { median, type Figure } from "./report.js";

const cli = fileURLToPath(new URL("../bin/duragent.js", import.meta.url));

export async function measureRecovery(options: { address: string; quick: boolean; log: (line: string) => void }): Promise<{ figures: Figure[]; samples: number[] }> {
  const trials = options.quick ? 2 : 5;
  const arrivals: number[] = [];
  let hang = true;
  // Each run's first model call hangs until its worker dies; the retry answers at once.
  const model = await startScriptedModelServer(
    () => {
      arrivals.push(Date.now());
      return hang ? { text: "too late", delayMs: 120_000 } : { text: "recovered" };
    },
    { quiet: true },
  );
  const project = mkdtempSync(join(tmpdir(), "duragent-bench-recovery-"));
  writeFileSync(
    join(project, "duragent.config.yaml"),
    ["engine: temporal", "temporal: { taskQueue: bench-recovery }", "agents:", "  patient: { instruction: Answer. }", ""].join("\n"),
  );
  const env = { ...process.env, TEMPORAL_ADDRESS: options.address, OPENAI_API_KEY: "bench", OPENAI_BASE_URL: model.openaiBaseURL, DURAGENT_LOG_LEVEL: "error" };
  const workers = new Set<ChildProcess>();
  const startWorker = async () => {
    const worker = spawn(process.execPath, [cli, "worker"], { cwd: project, env, detached: true, stdio: ["ignore", "ignore", "pipe"] });
    workers.add(worker);
    for await (const line of createInterface({ input: worker.stderr! })) if (line.includes("serving task queue")) return worker;
    throw new Error("a worker exited before it served");
  };
  const connection = await Connection.connect({ address: options.address });
  const temporal = new Client({ connection });
  process.env.TEMPORAL_ADDRESS = options.address;
  const client = await createClient({ config: join(project, "duragent.config.yaml") });
  const samples: number[] = [];
  try {
    await Promise.all([startWorker(), startWorker()]);
    for (let trial = 0; trial < trials; trial++) {
      hang = true;
      const asked = arrivals.length;
      const run = await client.start("patient", "Answer slowly.");
      // Wait until a worker holds the model call and its request has reached the model (else that
      // request, still on its way, would count as the retry), and find out which worker.
      let identity: string | undefined;
      for (;;) {
        const pending = (await temporal.workflow.getHandle(run.runId).describe()).raw.pendingActivities ?? [];
        identity = pending.find((activity) => activity.lastStartedTime && activity.lastWorkerIdentity)?.lastWorkerIdentity ?? undefined;
        if (identity && arrivals.length > asked) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const pid = Number(identity.split("@")[0]);
      const victim = [...workers].find((worker) => worker.pid === pid);
      if (!victim) throw new Error(`no worker process ${pid} (identity ${identity})`);
      hang = false;
      const before = arrivals.length;
      const killedAt = Date.now();
      process.kill(-pid, "SIGKILL");
      workers.delete(victim);
      await run.result();
      samples.push((arrivals[before] ?? Date.now()) - killedAt);
      options.log(`  trial ${trial + 1}: the step ran again ${samples.at(-1)} ms after the kill`);
      // A new standby takes the dead worker's place; it serves from the bundle cache.
      if (trial + 1 < trials) await startWorker();
    }
  } finally {
    for (const worker of workers) if (worker.pid) process.kill(-worker.pid, "SIGKILL");
    await client.close();
    await connection.close();
    await model.close();
    rmSync(project, { recursive: true, force: true });
  }
  const p50 = median(samples) / 1000;
  return {
    samples,
    figures: [
      {
        section: "crash recovery",
        name: "kill -9 of the worker holding a step, until it runs again",
        value: p50,
        unit: "s",
        limit: { value: 5, label: "5 s" },
        note: `p50 of ${samples.length}; a standby worker is up; heartbeats every 1 s, heartbeat timeout ${defaultRunSettings.llm.heartbeatTimeoutMs! / 1000} s`,
      },
    ],
  };
}
