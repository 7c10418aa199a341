/**
 * Proves the sandbox boundary: the workflow code bundles with Temporal's own bundler (which fails
 * on Node built-ins) and none of the LLM or MCP SDKs end up inside it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { bundleWorkflowCode } from "@temporalio/worker";
import { bundleWorkflows } from "../src/worker.js";

test("the built-in and example workflows bundle for the sandbox without Node, LLM or MCP modules", async () => {
  const finder = fileURLToPath(new URL("../examples/finder/agents.ts", import.meta.url));
  const { code } = await bundleWorkflows([finder]);
  for (const forbidden of ["openai/", "@anthropic-ai/", "@modelcontextprotocol/", "node_modules/pino", "node:fs", "node:child_process"]) {
    assert.ok(!code.includes(forbidden), `the workflow bundle pulls in ${forbidden}`);
  }
  assert.match(code, /agentWorkflow/);
  assert.match(code, /summarizeFile/);
});

test("the bundler rejects workflow code that reaches a Node built-in", async () => {
  const bad = fileURLToPath(new URL("./fixtures/bad-workflow.ts", import.meta.url));
  const reported: string[] = [];
  const collect = (message: string) => void reported.push(message);
  const logger = { log: collect, trace: collect, debug: collect, info: collect, warn: collect, error: collect };
  await assert.rejects(bundleWorkflowCode({ workflowsPath: bad, logger }), /Webpack finished with errors/);
  assert.match(reported.join("\n"), /node:fs|disallowed/i);
});
