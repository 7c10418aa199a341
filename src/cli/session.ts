/**
 * What every command shares: the loaded config, the output mode and, opened on first use, the
 * engine. Closing the session closes the engine, so no MCP process outlives a command.
 */
import { WorkflowFailedError } from "@temporalio/client";
import { runSettingsFromConfig, loadConfig } from "../config/load-config.js";
import type { DuragentConfig } from "../config/schema.js";
import type { Engine } from "../engines/engine.js";
import { MemoryEngine } from "../engines/memory-engine.js";
import { TemporalEngine } from "../engines/temporal-engine.js";
import { createLogger, type Logger } from "../logger.js";
import { temporalUnreachable } from "./temporal-errors.js";
import { ExitCode, UserError } from "../errors/user-error.js";

export interface GlobalOptions {
  config?: string;
  engine?: "memory" | "temporal";
  json?: boolean;
}

export class Session {
  private engineInstance?: Engine;

  private constructor(
    readonly config: DuragentConfig,
    readonly options: GlobalOptions,
    readonly logger: Logger,
  ) {}

  static async open(options: GlobalOptions): Promise<Session> {
    const { config } = await loadConfig({
      path: options.config ?? process.env.DURAGENT_CONFIG,
      overrides: options.engine ? { engine: options.engine } : undefined,
    });
    return new Session(config, options, createLogger("duragent"));
  }

  get engineName(): "memory" | "temporal" {
    return this.config.engine;
  }

  async engine(): Promise<Engine> {
    if (this.engineInstance) return this.engineInstance;
    const settings = runSettingsFromConfig(this.config);
    if (this.config.engine === "memory") {
      this.engineInstance = new MemoryEngine(this.config, settings, this.logger);
    } else {
      try {
        this.engineInstance = await TemporalEngine.connect(this.config, settings);
      } catch (error) {
        throw temporalUnreachable(this.config.temporal, error);
      }
    }
    return this.engineInstance;
  }

  async close(): Promise<void> {
    await this.engineInstance?.close();
  }
}

/** A run's failure as the user should read it: the innermost cause's message. */
export function runFailure(runId: string, error: unknown): UserError {
  let cause: unknown = error;
  const messages: string[] = [];
  while (cause instanceof Error) {
    if (!(cause instanceof WorkflowFailedError) && cause.message) messages.push(cause.message);
    cause = cause.cause;
  }
  const reason = messages.at(-1) ?? String(error);
  return new UserError(`Run ${runId} failed: ${reason}`, { exitCode: ExitCode.runFailed, cause: error });
}
