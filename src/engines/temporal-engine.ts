/** Starts runs on a Temporal cluster, where workers execute them. */
import { randomUUID } from "node:crypto";
import { Client, Connection, WorkflowNotFoundError } from "@temporalio/client";
import type { RunSettings } from "../common/run-settings.js";
import type { DuragentConfig } from "../config/schema.js";
import { newRunId, targetInput, workflowType, type Engine, type RunHandle } from "./engine.js";
import type { RunTarget } from "./run-targets.js";
import { temporalConnectionOptions, webUiLink } from "./temporal-connection.js";

export class RunNotFound extends Error {
  override readonly name = "RunNotFound";
  constructor(readonly runId: string, namespace: string) {
    super(`No run '${runId}' in Temporal namespace '${namespace}'. Check the id with \`duragent list\`.`);
  }
}

export class TemporalEngine implements Engine {
  readonly name = "temporal" as const;

  private constructor(
    private readonly connection: Connection,
    readonly client: Client,
    private readonly config: DuragentConfig,
    private readonly settings: RunSettings,
  ) {}

  static async connect(config: DuragentConfig, settings: RunSettings): Promise<TemporalEngine> {
    const connection = await Connection.connect({ ...temporalConnectionOptions(config.temporal), connectTimeout: 5_000 });
    const client = new Client({ connection, namespace: config.temporal.namespace });
    return new TemporalEngine(connection, client, config, settings);
  }

  async start(target: RunTarget, input: unknown): Promise<RunHandle> {
    const workflowId = newRunId(target, randomUUID());
    await this.client.workflow.start(workflowType(target), {
      workflowId,
      taskQueue: this.config.temporal.taskQueue,
      args: [{ input: targetInput(target, input), settings: this.settings }],
      staticSummary: `${target.kind} ${target.name}`,
    });
    return this.handle(workflowId);
  }

  async getHandle(runId: string): Promise<RunHandle> {
    try {
      await this.client.workflow.getHandle(runId).describe();
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) throw new RunNotFound(runId, this.config.temporal.namespace);
      throw error;
    }
    return this.handle(runId);
  }

  private handle(workflowId: string): RunHandle {
    return {
      runId: workflowId,
      link: webUiLink(this.config.temporal, workflowId),
      result: () => this.client.workflow.getHandle(workflowId).result(),
    };
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
