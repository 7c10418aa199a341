/**
 * What every command shares: the global options and, opened on first use, the config, the client
 * and a logger. Closing the context closes the client, so no MCP process outlives a command.
 */
import type { DuragentClient } from "../client.js";
import type { EngineName } from "../client/engine.js";
import type { DuragentConfig } from "../config/schema.js";
import type { Logger, LogFormat } from "../logger.js";

export interface GlobalOptions {
  config?: string;
  engine?: EngineName;
  address?: string;
  namespace?: string;
  taskQueue?: string;
  json?: boolean;
}

export class CommandContext {
  private loadedConfig?: Promise<DuragentConfig>;
  private openedClient?: Promise<DuragentClient>;
  private createdLogger?: Promise<Logger>;

  constructor(
    readonly options: GlobalOptions,
    private readonly logFormat: LogFormat = "text",
    /** The command steers runs and calls no model or MCP server (`LoadConfigOptions.steering`). */
    private readonly steering = false,
  ) {}

  /** The config file loaded; null once loading found none (the defaults apply), undefined before. */
  configFile: string | null | undefined;

  /** The config file (`--config`, `DURAGENT_CONFIG` or `./duragent.config.yaml`), with `--engine` and the Temporal flags over it. */
  config(): Promise<DuragentConfig> {
    this.loadedConfig ??= import("../config/load-config.js").then(async ({ loadConfig }) => {
      const { engine, address, namespace, taskQueue } = this.options;
      const temporal = { ...(address ? { address } : {}), ...(namespace ? { namespace } : {}), ...(taskQueue ? { taskQueue } : {}) };
      const overrides = { ...(engine ? { engine } : {}), ...(Object.keys(temporal).length > 0 ? { temporal } : {}) };
      const { config, path } = await loadConfig({
        path: this.options.config ?? process.env.DURAGENT_CONFIG,
        ...(Object.keys(overrides).length > 0 ? { overrides } : {}),
        ...(this.steering ? { steering: true } : {}),
      });
      this.configFile = path ?? null;
      return config;
    });
    return this.loadedConfig;
  }

  /** The config read again from its files, for a long-running command that follows their changes (`dev`). */
  reloadConfig(): Promise<DuragentConfig> {
    this.loadedConfig = undefined;
    return this.config();
  }

  client(): Promise<DuragentClient> {
    this.openedClient ??= Promise.all([this.config(), import("../client.js"), this.logger()]).then(
      ([config, { DuragentClient }, logger]) => new DuragentClient(config, logger),
    );
    return this.openedClient;
  }

  /**
   * Logs on stderr; pino is loaded only by commands that log. Services (a worker, `serve`, the
   * codec server) log JSON lines for collectors; other commands, lines a person reads.
   */
  logger(): Promise<Logger> {
    this.createdLogger ??= import("../logger.js").then(({ createLogger }) => createLogger("duragent", undefined, this.logFormat));
    return this.createdLogger;
  }

  /** Says so when duragent's scripted model will stand in for the configured one (no API key). */
  async noticeScriptedModel(): Promise<void> {
    const [config, { scriptedModelNotice }] = await Promise.all([this.config(), import("../activities/llm/provider-keys.js")]);
    const notice = scriptedModelNotice(config.llm);
    if (!notice) return;
    // A service's logs are JSON lines, read by collectors: its notices are lines among them.
    if ((await import("../logger.js")).chosenLogFormat(this.logFormat) === "json") (await this.logger()).warn(notice);
    else this.notice(`duragent: ${notice}`);
  }

  /**
   * A service's start line (`serving task queue …`): for a person, as it reads; where logs are JSON
   * lines, one of them, at info whatever the log level, so that a collector reads every line and
   * sees the service start.
   */
  async announce(text: string, fields: Record<string, unknown>): Promise<void> {
    (await import("../logger.js")).announce(text, fields, this.logFormat);
  }

  /** Said when Ctrl-C or SIGTERM stops the command (e.g. that a Temporal run goes on without it). */
  interruptNotice?: string;

  /**
   * `sending`, a message a worker must take (an answer, a decision): when it has not arrived
   * within a few seconds, says so, and whether any worker polls, rather than wait in silence.
   */
  async whileAWorkerTakes<T>(sending: Promise<T>, what: string): Promise<T> {
    let arrived = false;
    const slow = setTimeout(() => {
      void this.client()
        .then((client) => client.workerWarning(`${what} is delivered when one does, and this command waits until then`, { evenIfPolled: true }))
        // Not once it has arrived meanwhile: the command has said so.
        .then((warning) => warning && !arrived && this.notice(`duragent: ${warning}`))
        .catch(() => undefined);
    }, 3_000);
    try {
      return await sending;
    } finally {
      arrived = true;
      clearTimeout(slow);
    }
  }

  /**
   * A line for people, on stderr. With `--json`, only when stderr is a terminal: a person is
   * there to read it, and a script that reads both streams gets its JSON alone.
   */
  notice(text: string): void {
    if (!this.options.json || process.stderr.isTTY) process.stderr.write(`${text}\n`);
  }

  async close(): Promise<void> {
    const client = await this.openedClient?.catch(() => undefined);
    await client?.close();
  }
}
