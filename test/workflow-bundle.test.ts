/**
 * Proves the sandbox boundary: the workflow code bundles with Temporal's own bundler (which fails
 * on Node built-ins) and none of the LLM or MCP SDKs end up inside it. And the bundle cache: a
 * cached bundle is used only while everything that went into it is unchanged.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { isUserError } from "../src/errors/user-error.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { bundleWorkflowCode } from "@temporalio/worker";
import { loadWorkflowBundle, WorkflowBundleError } from "../src/worker/workflow-bundle.js";
import { bundleWorkflows } from "./support/runtime.js";

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

describe("the bundle cache", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "duragent-bundle-cache-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a worker reuses a bundle while nothing that went into it changed, and rebuilds when something did", async () => {
    const cacheDir = join(dir, "cache");
    const helper = join(dir, "helper.ts");
    const module = join(dir, "agents.ts");
    writeFileSync(helper, 'export const greeting = "first version";\n');
    writeFileSync(
      module,
      [
        `import { defineWorkflow } from ${JSON.stringify(fileURLToPath(new URL("../src/workflows/index.ts", import.meta.url)))};`,
        'import { greeting } from "./helper.js";',
        "export const greet = defineWorkflow(async () => greeting);",
        "",
      ].join("\n"),
    );
    const first = await loadWorkflowBundle({ modules: [module] }, { cacheDir });
    assert.equal(first.cached, false);
    assert.match(first.code, /first version/);

    const again = await loadWorkflowBundle({ modules: [module] }, { cacheDir });
    assert.equal(again.cached, true, "unchanged inputs: the cached bundle");
    assert.equal(again.code, first.code);

    // A change in a file the module imports (not the module itself) is seen too.
    writeFileSync(helper, 'export const greeting = "second version";\n');
    const changed = await loadWorkflowBundle({ modules: [module] }, { cacheDir });
    assert.equal(changed.cached, false, "a changed import rebuilds");
    assert.match(changed.code, /second version/);
    assert.doesNotMatch(changed.code, /first version/);

    // A file that now exists where webpack looked and found nothing could change what resolves.
    const webpackLookedFor = JSON.parse(readFileSync(changed.file.replace(/\.js$/, ".json"), "utf8")) as { missing: string[] };
    // Here: the package.json webpack looked for beside the module, whose fields would change how imports resolve.
    const shadow = webpackLookedFor.missing.find((path) => path.startsWith(dir));
    assert.equal(shadow, join(dir, "package.json"));
    writeFileSync(shadow, "{}\n");
    assert.equal((await loadWorkflowBundle({ modules: [module] }, { cacheDir })).cached, false, "a new file where webpack looked rebuilds");

    // Another module set is another entry; both stay cached.
    const builtinOnly = await loadWorkflowBundle({ modules: [] }, { cacheDir });
    assert.notEqual(builtinOnly.file, changed.file);
    assert.equal((await loadWorkflowBundle({ modules: [] }, { cacheDir })).cached, true);
  });

  test("a project whose package.json says \"type\": \"commonjs\" (npm init's default) bundles too", async () => {
    const project = join(dir, "commonjs-project");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "p", version: "1.0.0", type: "commonjs" }));
    // Its dependencies, as installed.
    mkdirSync(join(project, "node_modules"));
    symlinkSync(fileURLToPath(new URL("../node_modules/@temporalio", import.meta.url)), join(project, "node_modules", "@temporalio"));
    const module = join(project, "agents.ts");
    writeFileSync(module, `import { defineWorkflow } from ${JSON.stringify(fileURLToPath(new URL("../src/workflows/index.ts", import.meta.url)))};\nexport const hello = defineWorkflow(async () => "hello from commonjs");\n`);
    // A CommonJS module of its own, as such a project has: its exports reach the bundle's too.
    const legacy = join(project, "legacy.js");
    writeFileSync(legacy, 'async function legacyFlow() { return "legacy from commonjs"; }\nmodule.exports = { legacyFlow };\n');
    // Where an installed duragent keeps its entry files: inside the project's package scope.
    process.env.DURAGENT_CACHE_DIR = join(project, "node_modules", ".cache", "duragent");
    try {
      const { code } = await loadWorkflowBundle({ modules: [module, legacy] }, { cacheDir: join(project, "cache") });
      assert.match(code, /hello from commonjs/);
      assert.match(code, /legacyFlow: \(\) => \(\/\* reexport safe \*\/ \w+\.legacyFlow\)/);
    } finally {
      delete process.env.DURAGENT_CACHE_DIR;
    }
  });

  test("a project with its own, older @temporalio/workflow and @temporalio/common gets duragent's copies bundled, once", async () => {
    const project = join(dir, "temporal-project");
    // The project's own copies, as npm hoists them beside duragent: stand-ins that name themselves.
    for (const name of ["workflow", "common"]) {
      const root = join(project, "node_modules", "@temporalio", name);
      mkdirSync(join(root, "lib"), { recursive: true });
      writeFileSync(join(root, "package.json"), JSON.stringify({ name: `@temporalio/${name}`, version: "1.11.8", main: "lib/index.js" }));
      writeFileSync(join(root, "lib", "index.js"), `exports.patched = () => "the project's old ${name}";\nexports.ApplicationFailure = class {};\n`);
      writeFileSync(join(root, "lib", "worker-interface.js"), `exports.marker = "the project's old ${name} worker interface";\n`);
    }
    const module = join(project, "agents.ts");
    writeFileSync(
      module,
      [
        `import { patched } from "@temporalio/workflow";`,
        `import { ApplicationFailure } from "@temporalio/common";`,
        `import { defineWorkflow } from ${JSON.stringify(fileURLToPath(new URL("../src/workflows/index.ts", import.meta.url)))};`,
        `export const hello = defineWorkflow(async () => (patched("x") ? "hello" : String(ApplicationFailure)));`,
        "",
      ].join("\n"),
    );
    // Where an installed duragent keeps its entry files: inside the project, above its node_modules.
    process.env.DURAGENT_CACHE_DIR = join(project, "node_modules", ".cache", "duragent");
    try {
      const { code } = await loadWorkflowBundle({ modules: [module] }, { cacheDir: join(project, "cache") });
      assert.doesNotMatch(code, /the project's old/);
      assert.match(code, /hello/);
    } finally {
      delete process.env.DURAGENT_CACHE_DIR;
    }
  });

  test("a cache folder that cannot be written is a user error naming DURAGENT_CACHE_DIR, not a bug", { skip: !existsSync("/sys/kernel") && "needs Linux's /sys, where nothing can be made" }, async () => {
    await assert.rejects(loadWorkflowBundle({ modules: [] }, { cacheDir: "/sys/duragent-cache" }), (error: unknown) => {
      assert.ok(isUserError(error), String(error));
      assert.match(error.message, /^Cannot write the workflow bundle cache \(EPERM[^]*Set DURAGENT_CACHE_DIR to a folder this process can write \(it is \/sys\/duragent-cache now\)/);
      return true;
    });
  });

  test("workflow code that does not bundle is one user error naming the file", async () => {
    const bad = fileURLToPath(new URL("./fixtures/bad-workflow.ts", import.meta.url));
    await assert.rejects(loadWorkflowBundle({ modules: [bad] }, { cacheDir: join(dir, "bad") }), (error: unknown) => {
      assert.ok(error instanceof WorkflowBundleError);
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /^The workflow code could not be bundled for the worker:\nERROR in node:fs\n[^]*@ \.\/test\/fixtures\/bad-workflow\.ts 2:0/);
      assert.doesNotMatch(error.message, /asset workflow-bundle|orphan modules|^\s+at /m, "webpack's statistics and stack frames are left out");
      return true;
    });
  });
});

test("a prebuilt bundle from another duragent or Temporal workflow package is stale; one from this install is not", async () => {
  const { bundleStaleness, stampedBundle } = await import("../src/worker/workflow-bundle.js");
  const inputs = { modules: [] };
  const code = stampedBundle("// the bundle's code\n", inputs, {});
  assert.deepEqual(bundleStaleness(code, inputs), []);
  // The eighteenth user test's: a bundle `duragent build` wrote with 0.1.1, served by a worker on this version.
  const at = code.indexOf("//# duragentBundle=") + "//# duragentBundle=".length;
  const stamp = JSON.parse(Buffer.from(code.slice(at, code.indexOf("\n", at)), "base64").toString("utf8")) as { packages: Record<string, string> };
  const mine = stamp.packages.duragent!;
  const other = `${code.slice(0, at)}${Buffer.from(JSON.stringify({ ...stamp, packages: { ...stamp.packages, duragent: "9.9.9" } })).toString("base64")}\n`;
  assert.deepEqual(bundleStaleness(other, inputs), [`it was built with duragent 9.9.9, and this worker has ${mine}`]);
  // A bundle built before versions were recorded says nothing of them.
  const { packages: _, ...older } = stamp;
  assert.deepEqual(bundleStaleness(`${code.slice(0, at)}${Buffer.from(JSON.stringify(older)).toString("base64")}\n`, inputs), []);
});
