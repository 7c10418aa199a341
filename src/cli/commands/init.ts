/**
 * `duragent init [dir]`: a runnable project. It writes package.json (duragent and the MCP server
 * the config names), duragent.config.yaml, an agent in agents.ts, tsconfig.json and .gitignore,
 * keeping every file that already exists, then installs the packages. Without an API key the
 * project runs on duragent's scripted model, so `npx duragent run assistant` works at once.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { displayPath, ExitCode, UserError } from "../../errors/user-error.js";
import { duragentVersion, packageManifest } from "../../package-info.js";
import type { CommandOutput } from "../command-output.js";
import type { CommandContext } from "../context.js";

const filesystemServer = "@modelcontextprotocol/server-filesystem";

export async function initCommand(context: CommandContext, options: { dir: string; install: boolean; duragent?: string }): Promise<CommandOutput> {
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  // Asked for, it replaces what the project has; inherited, it only fills a gap.
  const duragentSpec = options.duragent !== undefined ? { spec: dependencySpec(options.duragent, dir), replace: true } : { spec: inheritedSpec(dir), replace: false };
  const name = packageName(basename(dir));
  const written: string[] = [];
  const kept: string[] = [];
  const write = (file: string, content: string) => {
    const path = join(dir, file);
    if (existsSync(path)) return void kept.push(file);
    writeFileSync(path, content);
    written.push(file);
  };

  const hadManifest = existsSync(join(dir, "package.json"));
  writePackageJson(dir, name, duragentSpec);
  written.push("package.json");
  write("duragent.config.yaml", configFile(name));
  write("agents.ts", agentsFile);
  write("tsconfig.json", `${JSON.stringify(tsconfig, null, 2)}\n`);
  write("README.md", readmeFile(name));
  appendGitignore(dir);

  // The package manager that started this command installs and runs, as its user would.
  const manager = packageManager();
  if (options.install) {
    context.notice(`installing packages in ${displayPath(dir)} (${manager.name} install)`);
    await install(dir, manager);
  }
  // A config of the user's own is kept as it is; it may not load the agent written beside it.
  const unwired = kept.includes("duragent.config.yaml") && !loadsAgentsFile(join(dir, "duragent.config.yaml"));
  const where = dir === process.cwd() ? "" : `cd ${displayPath(dir)} && `;
  // A kept agents.ts or config may not have the `assistant` written into a new project.
  const ownAgents = kept.includes("agents.ts") || kept.includes("duragent.config.yaml");
  const steps = [
    ownAgents
      ? `${where}${manager.run} duragent run <agent> --input "…"     # one of your agents (the ones it finds are listed when the name is wrong)`
      : `${where}${manager.run} duragent run assistant --input "Summarize README.md in two sentences."`,
    `${manager.run} duragent dev     # Temporal with its Web UI, and a worker; then add --engine temporal to run`,
  ];
  return {
    data: { dir, written, kept, installed: options.install },
    text: [
      `Created a duragent project in ${displayPath(dir)}: ${written.map((file) => (file === "package.json" && hadManifest ? "package.json (added to yours)" : file)).join(", ")}${kept.length > 0 ? ` (kept your ${kept.join(", ")})` : ""}.`,
      "Without OPENAI_API_KEY, duragent's scripted model answers, so it runs offline; set the key for a real model.",
      ...(options.install ? [] : [`Install its packages with \`${manager.name} install\` first.`]),
      ...(unwired
        ? ["Your duragent.config.yaml does not load agents.ts: for its `assistant` agent, add `modules: [./agents.ts]` and, under `mcp.servers`, the `filesystem` server it uses (`duragent init` in an empty folder shows both)."]
        : []),
      "Next:",
      ...steps.map((step) => `  ${step}`),
    ].join("\n"),
  };
}

/** package.json with duragent, the filesystem MCP server and TypeScript; an existing one keeps its entries. */
function writePackageJson(dir: string, name: string, duragent: { spec: string | undefined; replace: boolean }): void {
  const path = join(dir, "package.json");
  let manifest: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      manifest = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new UserError(`${displayPath(path)} is not valid JSON: ${(error as Error).message}`, { hint: "Fix it, or run `duragent init` in an empty folder." });
    }
  }
  const section = (key: string) => ({ ...((manifest[key] as Record<string, string> | undefined) ?? {}) });
  const dependencies = section("dependencies");
  const devDependencies = section("devDependencies");
  const scripts = section("scripts");
  if (duragent.replace) dependencies.duragent = duragent.spec!;
  dependencies.duragent ??= duragent.spec ?? `^${duragentVersion}`;
  dependencies[filesystemServer] ??= versionOf(filesystemServer);
  // Schemas for questions and structured output: the zod duragent itself takes (another major is refused).
  dependencies.zod ??= versionOf("zod");
  devDependencies.typescript ??= versionOf("typescript");
  devDependencies["@types/node"] ??= versionOf("@types/node");
  scripts.start ??= 'duragent run assistant --input "Summarize README.md in two sentences."';
  scripts.dev ??= "duragent dev";
  scripts.worker ??= "duragent worker";
  scripts.typecheck ??= "tsc --noEmit";
  // A project with JavaScript of its own keeps its module type: "type": "module" would make its
  // .js files ESM. A bare package.json (say, from `npm i duragent`) becomes an ES module project.
  const ownJavaScript = readdirSync(dir).some((file) => /\.js$/.test(file));
  // A project's own manifest keeps its name and version, and gets none it did not have.
  const next = {
    ...(existsSync(path) ? {} : { name, version: "0.1.0", private: true }),
    ...(ownJavaScript ? {} : { type: "module" }),
    ...manifest,
    scripts,
    dependencies,
    devDependencies,
  };
  writeFileSync(path, `${JSON.stringify(next, null, 2)}\n`);
}

/**
 * `--duragent`: a version range as it is; a path (a packed tarball, a folder) as `file:`, relative
 * to the project, so the project installs the same duragent wherever it is run from.
 */
function dependencySpec(spec: string, dir: string): string {
  const looksLikePath = /^(\.{1,2}[\\/]|[\\/]|file:)/.test(spec) || spec.endsWith(".tgz");
  if (!looksLikePath) return spec;
  const target = resolve(spec.replace(/^file:/, ""));
  if (!existsSync(target)) throw new UserError(`--duragent ${spec}: no such file or folder (${target}).`, { exitCode: ExitCode.notFound });
  return `file:${relative(dir, target) || "."}`;
}

/**
 * A project made inside one that has duragent from a file (a packed tarball, before duragent is
 * on the registry) gets the same file, rather than a registry range that cannot install.
 */
function inheritedSpec(dir: string): string | undefined {
  for (let folder = dirname(dir); ; folder = dirname(folder)) {
    const manifestPath = join(folder, "package.json");
    if (existsSync(manifestPath)) {
      try {
        const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
        const spec = manifest.dependencies?.duragent ?? manifest.devDependencies?.duragent;
        if (spec?.startsWith("file:")) return `file:${relative(dir, resolve(folder, spec.slice("file:".length))) || "."}`;
        if (spec !== undefined) return undefined;
      } catch {
        return undefined;
      }
    }
    if (dirname(folder) === folder) return undefined;
  }
}

/** Whether a config lists `agents.ts` under `modules:`. */
function loadsAgentsFile(configPath: string): boolean {
  try {
    const config = parseYaml(readFileSync(configPath, "utf8")) as { modules?: unknown } | null;
    return Array.isArray(config?.modules) && config.modules.some((entry) => typeof entry === "string" && /(^|[\\/])agents\.ts$/.test(entry));
  } catch {
    return false;
  }
}

/** The range duragent itself is built and tested with. */
function versionOf(name: string): string {
  return packageManifest.dependencies?.[name] ?? packageManifest.devDependencies?.[name] ?? "latest";
}

function packageName(folder: string): string {
  const cleaned = folder.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+/, "");
  return cleaned || "duragent-project";
}

function appendGitignore(dir: string): void {
  const path = join(dir, ".gitignore");
  const existing = existsSync(path) ? readFileSync(path, "utf8") : "";
  const lines = existing.split(/\r?\n/);
  const wanted = ["node_modules/", ".duragent/", "duragent.secrets.yaml"].filter((line) => !lines.includes(line));
  if (wanted.length === 0) return;
  writeFileSync(path, `${existing}${existing && !existing.endsWith("\n") ? "\n" : ""}${wanted.join("\n")}\n`);
}

interface PackageManager {
  name: "npm" | "pnpm" | "yarn";
  /** How a project's installed commands are run with it. */
  run: string;
}

/** The package manager that started this command (`pnpm exec duragent init`), by the user agent it sets; npm otherwise. */
function packageManager(): PackageManager {
  const agent = process.env.npm_config_user_agent ?? "";
  if (agent.startsWith("pnpm/")) return { name: "pnpm", run: "pnpm exec" };
  if (agent.startsWith("yarn/")) return { name: "yarn", run: "yarn" };
  return { name: "npm", run: "npx" };
}

function install(dir: string, manager: PackageManager): Promise<void> {
  const command = process.platform === "win32" ? `${manager.name}.cmd` : manager.name;
  const args = manager.name === "npm" ? ["install", "--no-audit", "--no-fund"] : ["install"];
  return new Promise((resolvePromise, reject) => {
    // The installer's own output goes to stderr, so stdout carries only the command's result.
    const child = spawn(command, args, { cwd: dir, stdio: ["ignore", 2, 2] });
    child.once("error", (error) => reject(new UserError(`Cannot run ${manager.name} install: ${error.message}`, { exitCode: ExitCode.unavailable, cause: error })));
    child.once("exit", (code) =>
      code === 0
        ? resolvePromise()
        : reject(
            new UserError(`${manager.name} install failed in ${displayPath(dir)} (exit ${code}).`, {
              exitCode: ExitCode.unavailable,
              hint: `Its output is above; fix the cause and run \`${manager.name} install\` there. If it could not find duragent itself, point the project at a packed copy: \`duragent init --duragent ./duragent-<version>.tgz\`.`,
            }),
          ),
    );
  });
}

function configFile(name: string): string {
  return `# ${name}: agents that use MCP servers as tools, run by duragent.
# Reference: node_modules/duragent/README.md (the "Configuration" section).

# memory runs in this process; temporal runs durably on a Temporal cluster (\`npx duragent dev\` starts one here).
engine: memory

temporal:
  # TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and TEMPORAL_API_KEY (or a temporal.toml profile) say where.
  taskQueue: ${name}

mcp:
  servers:
    filesystem:
      command: npx
      args: [--no-install, "${filesystemServer}", .]
      allowedTools: [read_text_file, list_directory, search_files, get_file_info]

llm:
  defaultModel: openai:gpt-4.1-mini
  # Without OPENAI_API_KEY, duragent's scripted model answers, so the project runs offline.
  withoutApiKey: scripted

modules:
  - ./agents.ts
`;
}

const agentsFile = `import { defineAgent } from "duragent/workflow";

/** Answers questions about the files in this folder, reading them through the filesystem MCP server. */
export const assistant = defineAgent({
  name: "assistant",
  instruction: "You answer questions about the files in this folder. Read them with the filesystem tools, then answer briefly and only from what they say.",
  servers: ["filesystem"],
});
`;

const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ["node"],
  },
  include: ["*.ts", "src"],
};

function readmeFile(name: string): string {
  return `# ${name}

An agent project on duragent (its guide: \`node_modules/duragent/README.md\`): durable AI agents that use MCP servers as tools.

- \`agents.ts\` defines the \`assistant\` agent; \`duragent.config.yaml\` its MCP servers and model.
- \`npx duragent run assistant --input "Summarize README.md in two sentences."\` runs it in this process.
- \`npx duragent dev\` starts Temporal (Web UI included) and a worker; \`--engine temporal\` then runs it durably.
`;
}
