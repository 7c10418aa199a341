/**
 * The test runner behind `npm test`: one Temporal dev server for every test file (so no file
 * pays for its own), then node's test runner over the files, two at a time on two cores. Test
 * files find the server by DURAGENT_TEST_TEMPORAL_ADDRESS (test/support/temporal.ts); each uses
 * task queues of its own. Run one file alone with `node --import tsx --test test/<file>`: it
 * then starts a server for itself.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync } from "node:fs";
import { duragentSearchAttributes } from "../src/common/search-attributes.js";
import { startDevServer } from "../src/temporal/dev-server.js";
import { loadWorkflowBundle } from "../src/worker/workflow-bundle.js";

const requested = process.argv.slice(2);
const files = requested.length > 0 ? requested : readdirSync("test").filter((name) => name.endsWith(".test.ts")).sort().map((name) => `test/${name}`);

const server = await startDevServer({
  ui: false,
  install: true,
  searchAttributes: Object.fromEntries(duragentSearchAttributes.map((key) => [key.name, "Keyword"])),
});
// The built-in workflows' bundle, built once here rather than by two test files at once.
await loadWorkflowBundle({ modules: [] });
const tests = spawn(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=600000", ...files], {
  stdio: "inherit",
  env: { ...process.env, DURAGENT_TEST_TEMPORAL_ADDRESS: server.address },
});
const stop = (signal: NodeJS.Signals) => tests.kill(signal);
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
const [code, signal] = (await once(tests, "exit")) as [number | null, NodeJS.Signals | null];
await server.stop();
process.exitCode = code ?? (signal ? 1 : 0);
