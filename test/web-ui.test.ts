/**
 * What Temporal's Web UI shows of a run, checked in headless Chromium: a run waiting for a person
 * names its agent and input in its summary, and its current details say what it waits for and the
 * command that answers it, all through the codec server, since the run's payloads are encrypted.
 * Screenshots land in test-results/.
 */
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { TemporalEngine } from "../src/client/temporal-engine.js";
import type { RunTarget } from "../src/client/run-targets.js";
import { startCodecServer, type CodecServer } from "../src/codec/codec-server.js";
import { payloadCodecFor } from "../src/codec/data-converter.js";
import { textOf } from "../src/common/messages.js";
import { duragentSearchAttributes } from "../src/common/search-attributes.js";
import { runSettingsFromConfig } from "../src/config/load-config.js";
import { createLogger } from "../src/logger.js";
import { freePort, startDevServer, type DevServer } from "../src/temporal/dev-server.js";
import { startScriptedModelServer, type ScriptedModelServer } from "../src/testing/scripted-model-server.js";
import { createWorker, type DuragentWorker } from "../src/worker.js";
import { installRuntimeLogging } from "../src/worker/create-worker.js";
import { filesystemServer } from "./support/mcp-servers.js";
import { builtinBundle, testConfig } from "./support/runtime.js";
import { waitForPhase } from "./support/wait.js";
import type { Page } from "playwright-core";
import { chromiumSkipReason, WebUi } from "./support/web-ui.js";

const results = fileURLToPath(new URL("../test-results/", import.meta.url));
const dir = realpathSync(mkdtempSync(join(tmpdir(), "duragent-web-ui-")));
const question = "What is the budget for Porto?";
const input = "Plan three days in Porto for me";

const agent: RunTarget = {
  kind: "agent",
  name: "planner",
  agent: { name: "planner", instruction: "Plan trips; ask for the budget.", servers: ["fs"], humanInput: true },
};

/** The UI shows a run's summary and current details on its "User Metadata" tab. */
async function openUserMetadata(page: Page): Promise<void> {
  await page.getByText("User Metadata", { exact: true }).first().click();
}

describe("the Web UI", { skip: chromiumSkipReason(), timeout: 180_000 }, () => {
  let server: DevServer;
  let codec: CodecServer;
  let model: ScriptedModelServer;
  let worker: DuragentWorker;
  let running: Promise<void>;
  let engine: TemporalEngine;
  let ui: WebUi;

  before(async () => {
    installRuntimeLogging();
    process.env.DURAGENT_TEST_WEB_UI_KEY = randomBytes(32).toString("base64");
    const codecConfig = { keys: [{ id: "ui-key", env: "DURAGENT_TEST_WEB_UI_KEY" }], compress: false };
    const uiPort = await freePort();
    const uiOrigin = `http://127.0.0.1:${uiPort}`;
    codec = await startCodecServer({ codec: payloadCodecFor(codecConfig), host: "127.0.0.1", port: 0, origins: [uiOrigin, `http://localhost:${uiPort}`] });
    server = await startDevServer({
      ui: true,
      uiPort,
      uiCodecEndpoint: codec.url,
      searchAttributes: Object.fromEntries(duragentSearchAttributes.map((attribute) => [attribute.name, "Keyword"])),
    });
    model = await startScriptedModelServer((call) => {
      const answers = call.messages.filter((message) => message.role === "tool");
      if (answers.length === 0) return { toolCalls: [{ name: "human_input", arguments: { question } }] };
      return { text: `Three days in Porto on ${textOf(answers[0]!.content)}.` };
    });
    const config = testConfig(model, {
      temporal: { address: server.address, uiUrl: uiOrigin, taskQueue: `web-ui-${randomUUID()}` },
      mcp: { servers: { fs: filesystemServer(dir) } },
      codec: codecConfig,
    });
    worker = await createWorker({ config, logger: createLogger("test-worker", "silent"), workflowBundle: await builtinBundle() });
    running = worker.run();
    engine = await TemporalEngine.connect(config, runSettingsFromConfig(config));
    ui = await WebUi.launch();
  });

  after(async () => {
    await ui?.close();
    await engine?.close();
    worker?.worker.shutdown();
    await running;
    await model?.close();
    await codec?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a waiting run's page names its agent and input, and says what it waits for and how to answer", async () => {
    const handle = await engine.start(agent, input);
    await waitForPhase(handle, "waiting_input");
    const url = `${server.uiUrl}/namespaces/default/workflows/${handle.runId}`;
    const page = await ui.view(url, [`agent planner: ${input}`, question, `duragent answer ${handle.runId} --value`, "waiting for an answer"], {
      screenshot: join(results, "web-ui-waiting-run.png"),
      timeoutMs: 60_000,
      page: openUserMetadata,
    });
    console.log(`screenshot: ${page.screenshot}`);
    // The input is shown decoded by the codec server: the history itself holds only ciphertext.
    const inputView = await ui.view(url, [`"message": "${input}"`], { screenshot: join(results, "web-ui-decoded-input.png"), timeoutMs: 60_000 });
    assert.ok(inputView.text.includes('"humanInput": true'));

    await handle.answer({ value: "500 euros" });
    assert.equal(((await handle.result()) as { text: string }).text, "Three days in Porto on 500 euros.");
    const done = await ui.view(url, ["completed · after step"], { screenshot: join(results, "web-ui-completed-run.png"), timeoutMs: 60_000, page: openUserMetadata });
    assert.ok(!done.text.includes(`duragent answer ${handle.runId}`), "a finished run asks for nothing");
  });

  test("the Queries tab offers duragent.status first", async () => {
    const handle = await engine.start(agent, input);
    await waitForPhase(handle, "waiting_input");
    const url = `${server.uiUrl}/namespaces/default/workflows/${handle.runId}`;
    let offered: string[] = [];
    await ui.view(url, ["Query Type"], {
      screenshot: join(results, "web-ui-queries-tab.png"),
      timeoutMs: 60_000,
      page: async (page) => {
        await page.getByText("Queries", { exact: true }).first().click();
        await page.locator("#query-select-select li[role=option]").first().waitFor({ state: "attached" });
        offered = (await page.locator("#query-select-select li[role=option]").allTextContents()).map((text) => text.trim().split(/\s+/)[0]!);
      },
    });
    // The UI orders queries by name and preselects the first.
    assert.equal(offered[0], "duragent.status", offered.join(", "));
    await handle.answer({ value: "100 euros" });
    await handle.result();
  });
});
