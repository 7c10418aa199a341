/**
 * The Temporal dev server a test file uses: the one `npm test` started for every file
 * (DURAGENT_TEST_TEMPORAL_ADDRESS), or, for a file run alone, one of its own from the `temporal`
 * CLI binary (never downloaded).
 */
import { TestWorkflowEnvironment } from "@temporalio/testing";
import { duragentSearchAttributes } from "../../src/common/search-attributes.js";
import { devServerDynamicConfigArgs } from "../../src/temporal/dev-server.js";
import { findTemporalCli } from "../../src/temporal/temporal-cli.js";
import { installRuntimeLogging } from "../../src/worker/create-worker.js";

export async function startTestTemporal(): Promise<TestWorkflowEnvironment> {
  installRuntimeLogging();
  const shared = process.env.DURAGENT_TEST_TEMPORAL_ADDRESS;
  // Its teardown closes this file's connections and leaves the shared server running.
  if (shared) return TestWorkflowEnvironment.createFromExistingServer({ address: shared });
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: "existing-path", path: findTemporalCli({ install: true }) },
      ip: "127.0.0.1",
      searchAttributes: duragentSearchAttributes,
      extraArgs: ["--headless", "--log-level", "error", ...devServerDynamicConfigArgs()],
    },
  });
}
