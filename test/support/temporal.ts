/** A real Temporal dev server for tests, from the `temporal` CLI binary (never downloaded). */
import { TestWorkflowEnvironment } from "@temporalio/testing";
import { duragentSearchAttributes } from "../../src/common/search-attributes.js";
import { findTemporalCli } from "../../src/temporal/temporal-cli.js";
import { installRuntimeLogging } from "../../src/worker/create-worker.js";

export async function startTestTemporal(): Promise<TestWorkflowEnvironment> {
  installRuntimeLogging();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: "existing-path", path: findTemporalCli({ install: true }) },
      ip: "127.0.0.1",
      searchAttributes: duragentSearchAttributes,
      extraArgs: ["--headless", "--log-level", "error"],
    },
  });
}
