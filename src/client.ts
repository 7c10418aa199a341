/**
 * The duragent client: start agents, patterns and workflows, and steer their runs, on either
 * engine. The `duragent` CLI is a thin layer over it; programs import it from "duragent".
 *
 * ```js
 * import { createClient } from "duragent";
 * const client = await createClient({ engine: "temporal" });
 * const run = await client.start("finder", "Summarize README.md in two sentences.");
 * console.log(await run.result());
 * await client.close();
 * ```
 */
import { configFrom, loadConfig, runSettingsFromConfig, type ConfigSource } from "./config/load-config.js";
import type { DuragentConfig } from "./config/schema.js";
import { createLogger, type Logger } from "./logger.js";
import { tracingSettings } from "./telemetry/settings.js";
import type { Agent, AgentSpec } from "./workflows/agent/define-agent.js";
import type { AgentRunResult } from "./workflows/builtin-workflows.js";
import { isDuragentWorkflow, type DuragentWorkflow } from "./workflows/define-workflow.js";
import { rejoinChat, startChat, type ChatSession, type StartChatOptions } from "./client/chat.js";
import { isUserError, UserError } from "./errors/user-error.js";
import { checkRunId, checkStartOptions, memoryRetention, RunNotFound, type Engine, type EngineName, type ListOptions, type RunHandle, type RunSummary, type StartOptions } from "./client/engine.js";
import { loadRunTargets, RunTargetNotFound, type RunTarget } from "./client/run-targets.js";
import { clientClosed, explainTemporalError } from "./client/temporal-errors.js";
import type { DuragentWorker } from "./worker.js";
import type { RunCost } from "./client/run-cost.js";
import type { UsageByModel } from "./common/usage.js";
import type { ScheduleDescription, ScheduleOptions, Schedules, ScheduleSummary, TriggerOutcome } from "./client/schedules.js";

export interface ClientOptions {
  /**
   * The configuration: a `duragent.config.yaml` path (or its directory), or the config itself as
   * an object (validated like the file). `DURAGENT_CONFIG`, then `./duragent.config.yaml`, when absent.
   */
  config?: ConfigSource;
  /** Overrides the config's `engine`. */
  engine?: EngineName;
  /** Where the memory engine's worker-side logs go; warnings and errors to stderr by default. */
  logger?: Logger;
  /**
   * A worker in this process (`createWorker`): the Temporal engine shares its connection, and when
   * the worker polls the config's task queue, new runs start on it eagerly, a round trip sooner.
   * Close the client before the worker, which owns the connection.
   */
  worker?: DuragentWorker;
}

/**
 * What to start: the name of a configured agent, pattern or workflow, an agent from `defineAgent`,
 * or a workflow from `defineWorkflow` that one of the config's `modules:` exports. A workflow is
 * matched as the same object, which a JavaScript module gives your program and duragent alike; a
 * TypeScript module is loaded by duragent's own loader, another instance, so start its workflows
 * by export name (`start<Output>("exportName", input)`).
 */
export type Startable = string | Agent | DuragentWorkflow | RunTarget;

export async function createClient(options: ClientOptions = {}): Promise<DuragentClient> {
  const overrides = options.engine ? { engine: options.engine } : undefined;
  const logger = options.logger ?? createLogger("duragent");
  if (options.config === undefined && process.env.DURAGENT_CONFIG === undefined) {
    // A server started from another folder (a service manager's) finds no config: say so, rather than run on defaults unseen.
    const loaded = await loadConfig(overrides ? { overrides } : {});
    const missing = loaded.path === undefined ? noConfigFile(loaded.dir, loaded.config) : undefined;
    if (missing) logger.warn(missing);
    return new DuragentClient(loaded.config, logger, options.worker, missing);
  }
  return new DuragentClient(await configFrom(options.config, overrides), logger, options.worker);
}

function noConfigFile(dir: string, config: DuragentConfig): string {
  return `No duragent.config.yaml was found in ${dir} or above, so this client runs on the defaults (${config.engine} engine, Temporal at ${config.temporal.address}, task queue '${config.temporal.taskQueue}', no agents): pass createClient({ config: "<path>" }) or set DURAGENT_CONFIG.`;
}

export class DuragentClient {
  private readonly engines = new Map<EngineName, Promise<Engine>>();
  private runTargets?: Promise<Map<string, RunTarget>>;
  private closed = false;

  constructor(
    readonly config: DuragentConfig,
    private readonly logger: Logger,
    private readonly worker?: DuragentWorker,
    /** Set when no config file was found: what a target not found is then likely to be. */
    private readonly missingConfig?: string,
  ) {}

  /** The engine runs start on: the config's `engine`, unless the client was created with another. */
  get engine(): EngineName {
    return this.config.engine;
  }

  /** The agents, patterns and workflows this client can start, by name (the config's and its modules'). */
  targets(): Promise<ReadonlyMap<string, RunTarget>> {
    this.runTargets ??= loadRunTargets(this.config);
    return this.runTargets;
  }

  /** An agent by name; rejects with `RunTargetNotFound` listing the agents alone, or saying what else the name is. */
  async agentTarget(name: string): Promise<Extract<RunTarget, { kind: "agent" }>> {
    const target = await this.chatTarget(name);
    if (target.kind === "agent") return target;
    throw new UserError(`'${name}' is a pattern; an agent is needed here.`);
  }

  /** What a chat can be with, by name: an agent, or a pattern under `workflows:`. */
  async chatTarget(name: string): Promise<Extract<RunTarget, { kind: "agent" | "pattern" }>> {
    const targets = await this.targets();
    const target = targets.get(name);
    if (target?.kind === "agent" || target?.kind === "pattern") return target;
    if (target) throw new UserError(`'${name}' is a module workflow; a chat needs an agent or a pattern under \`workflows:\`.`);
    throw new RunTargetNotFound(name, [...targets.values()].filter((candidate) => candidate.kind !== "workflow").map((candidate) => candidate.name), this.missingConfig);
  }

  /** One target by name; rejects with `RunTargetNotFound`. */
  async target(name: string): Promise<RunTarget> {
    const targets = await this.targets();
    const target = targets.get(name);
    if (!target) throw new RunTargetNotFound(name, [...targets.keys()], this.missingConfig);
    return target;
  }

  /**
   * Starts a run and returns its handle at once. An agent takes its message as `input`; a
   * workflow its own input, validated by its schema (`InvalidRunInput` naming the field when not).
   * `R` is what the run's result holds: an agent's is an `AgentRunResult` (inferred when the
   * target is an `Agent`); name a workflow's yourself, e.g. `start<string>("summarize", …)`.
   */
  // The workflow's overload first: when its input is wrong, tsc types the call by the first one.
  async start<I, O>(target: DuragentWorkflow<I, O>, input: I, options?: StartOptions): Promise<RunHandle<O>>;
  async start(target: Agent, input: unknown, options?: StartOptions): Promise<RunHandle<AgentRunResult>>;
  async start<R = unknown>(target: Startable, input: unknown, options?: StartOptions): Promise<RunHandle<R>>;
  async start(target: Startable, input: unknown, options: StartOptions = {}): Promise<RunHandle> {
    checkStartOptions(options);
    const resolved = await this.resolve(target);
    if (resolved.kind === "agent") this.checkServers(resolved.agent);
    return (await this.engineFor(this.engine)).start(resolved, input, options);
  }

  /**
   * Starts a run and waits for its answer; rejects with `RunFailed` when the run fails. Nobody
   * watches it from here, so its model text streams only once someone reads its status.
   */
  async execute<I, O>(target: DuragentWorkflow<I, O>, input: I, options?: StartOptions): Promise<O>;
  async execute(target: Agent, input: unknown, options?: StartOptions): Promise<AgentRunResult>;
  async execute<R = unknown>(target: Startable, input: unknown, options?: StartOptions): Promise<R>;
  async execute(target: Startable, input: unknown, options: StartOptions = {}): Promise<unknown> {
    return (await this.start(target, input, { watch: false, ...options })).result();
  }

  /**
   * A run by its id. A memory run lives in the process that started it; an id this process does
   * not hold is looked for on Temporal too, whatever the default engine. `R` names what its
   * result holds (`getHandle<AgentRunResult>(id)`), which the id alone cannot tell.
   */
  async getHandle<R = unknown>(runId: string): Promise<RunHandle<R>> {
    return (await this.handleOf(runId)) as RunHandle<R>;
  }

  private async handleOf(runId: string): Promise<RunHandle> {
    checkRunId(runId);
    const first = await this.engineFor(this.engine);
    try {
      return await first.getHandle(runId);
    } catch (error) {
      if (!(error instanceof RunNotFound) || this.engine === "temporal") throw error;
      const temporal = await this.engineFor("temporal").catch((unopened: unknown) => {
        // A config the Temporal client refuses (a codec key it cannot read) is the user's to fix;
        // a server that cannot be reached is said beside the memory engine's answer.
        if (!(isUserError(unopened) && unopened.name === "TemporalUnreachable")) throw unopened;
        throw new RunNotFound(runId, `among this process's memory runs (${memoryRetention(this.config)}), and Temporal could not be asked (${unopened.message.split("\n")[0]})`);
      });
      return temporal.getHandle(runId).catch((missing: unknown) => {
        if (!(missing instanceof RunNotFound)) throw missing;
        throw new RunNotFound(runId, `in Temporal namespace '${this.config.temporal.namespace}', nor among this process's memory runs (${memoryRetention(this.config)})`);
      });
    }
  }

  /**
   * What `usage` (a run status's, a list entry's or a result's) costs at the configured prices:
   * `pricing:` over the built-in table. Undefined without usage; a model without a price is named
   * in `unpriced`, calls that reported no usage are counted in `unreported`, and either way there
   * is no total.
   */
  async cost(usage: UsageByModel | undefined): Promise<RunCost | undefined> {
    const { runCost } = await import("./client/run-cost.js");
    return runCost(usage, this.config.pricing);
  }

  /**
   * Recent runs on the client's engine (on Temporal in its visibility order: open runs first, then
   * by end); with `usage`, each run's token usage where it can be had, and what an open run waits on a person for.
   */
  async list(options: { limit?: number; engine?: EngineName } & ListOptions = {}): Promise<RunSummary[]> {
    const { limit = 20, usage = false, engine = this.engine, ...filters } = options;
    return (await this.engineFor(engine)).list(limit, { usage, ...filters });
  }

  /**
   * Starts `target` with `input` again and again, on a Temporal Schedule (`cron` and/or `every`),
   * whatever the client's engine: memory keeps nothing past its process. Each run names its target
   * and takes the workers' config of its day, so the target must be in the config they load.
   * Rejects with `ScheduleAlreadyExists` for an id in use (default: the target's name).
   */
  async schedule<I, O>(target: DuragentWorkflow<I, O>, input: I, options: ScheduleOptions): Promise<ScheduleHandle>;
  async schedule(target: Startable, input: unknown, options: ScheduleOptions): Promise<ScheduleHandle>;
  async schedule(target: Startable, input: unknown, options: ScheduleOptions): Promise<ScheduleHandle> {
    const { checkScheduleOptions } = await import("./client/schedules.js");
    checkScheduleOptions(options);
    const resolved = await this.resolve(target);
    if ((await this.targets()).get(resolved.name)?.kind !== resolved.kind) {
      throw new UserError(`A schedule starts its target by name, and '${resolved.name}' is not an agent, pattern or module workflow of the config the workers load.`, {
        hint: "Add it to the config (agents:, workflows: or modules:), then schedule it by name.",
      });
    }
    const schedules = await this.scheduleKeeper();
    const created = await schedules.create(resolved, input, options);
    return scheduleHandle(schedules, created.id);
  }

  /** A schedule by its id; rejects with `ScheduleNotFound`. */
  async getSchedule(scheduleId: string): Promise<ScheduleHandle> {
    const schedules = await this.scheduleKeeper();
    await schedules.describe(scheduleId);
    return scheduleHandle(schedules, scheduleId);
  }

  /** The schedules duragent made in the namespace. */
  async listSchedules(options: { limit?: number } = {}): Promise<ScheduleSummary[]> {
    return (await this.scheduleKeeper()).list(options.limit ?? 100);
  }

  private async scheduleKeeper(): Promise<Schedules> {
    const { schedules } = await this.engineFor("temporal");
    if (!schedules) throw new Error("The Temporal engine keeps no schedules.");
    return schedules;
  }

  /**
   * Starts a chat with an agent, or with a pattern under `workflows:` by its name: a long-lived run
   * that takes one message at a time. A pattern answers each turn given the conversation so far;
   * a swarm goes on with the agent that had it.
   */
  async startChat(agent: string | Agent | AgentSpec, options: StartChatOptions = {}): Promise<ChatSession> {
    let spec: AgentSpec;
    if (typeof agent === "string") {
      const target = await this.chatTarget(agent);
      if (target.kind === "pattern") return startChat(await this.engineFor(this.engine), target, options);
      spec = target.agent;
    } else spec = "spec" in agent ? agent.spec : agent;
    this.checkServers(spec);
    return startChat(await this.engineFor(this.engine), spec, options);
  }

  /** Config agents are checked at load; an agent from code is checked before its run exists. */
  private checkServers(agent: AgentSpec): void {
    const missing = (agent.servers ?? []).filter((server) => !Object.hasOwn(this.config.mcp.servers, server));
    if (missing.length === 0) return;
    const configured = Object.keys(this.config.mcp.servers);
    throw new UserError(
      `The agent '${agent.name}' uses MCP ${missing.length === 1 ? "server" : "servers"} ${missing.map((name) => `'${name}'`).join(", ")}, not under mcp.servers (${configured.length > 0 ? `configured: ${configured.join(", ")}` : "none are configured"}).`,
      { hint: "Add it under mcp.servers in duragent.config.yaml, or fix the agent's servers." },
    );
  }

  /** A chat started earlier (by this process, or on Temporal by any). */
  async rejoinChat(runId: string): Promise<ChatSession> {
    return rejoinChat({ getHandle: (id) => this.getHandle(id) }, runId);
  }

  /**
   * Why a run started now may wait with nothing happening (on Temporal: no worker polls the
   * task queue); undefined when nothing stands in its way, or when that cannot be told.
   */
  async startWarning(): Promise<string | undefined> {
    return this.workerWarning("the run waits until one does");
  }

  /** The same for anything sent to a run (an answer, a decision) that a worker must take: ending with `consequence`. */
  async workerWarning(consequence: string, { engine = this.engine, ...options }: { evenIfPolled?: boolean; engine?: EngineName } = {}): Promise<string | undefined> {
    return (await this.engineFor(engine)).workerWarning(consequence, options);
  }

  /**
   * Closes engine connections; on the memory engine, stops its runs and every MCP server. The
   * client and its Temporal runs' handles then refuse calls (`ClientClosed`).
   */
  async close(): Promise<void> {
    this.closed = true;
    const engines = await Promise.allSettled(this.engines.values());
    this.engines.clear();
    await Promise.all(engines.map((engine) => (engine.status === "fulfilled" ? engine.value.close() : undefined)));
  }

  /** A Temporal failure in user terms (unreachable cluster, missing namespace), or undefined. */
  explain(error: unknown): Error | undefined {
    return explainTemporalError(error, this.config.temporal);
  }

  private async resolve(target: Startable): Promise<RunTarget> {
    if (typeof target === "string") return this.target(target);
    if (isDuragentWorkflow(target)) {
      // A worker knows a workflow by its export name, which only the module that exports it can tell.
      const workflows = [...(await this.targets()).values()].filter((known) => known.kind === "workflow");
      const same = workflows.find((known) => known.workflow === target);
      if (same) return same;
      // A TypeScript module loaded by duragent's own loader, or by a test runner's transform, is
      // another instance of the same code than the program's: found by where it was defined,
      // else by its body's source, when exactly one export has it.
      const exported = (found: typeof workflows) => [...new Map(found.map((known) => [known.workflow, known])).values()];
      const sameSite = target.definedAt === undefined ? [] : exported(workflows.filter((known) => known.workflow?.definedAt === target.definedAt));
      if (sameSite.length === 1) return sameSite[0]!;
      const source = target.body.toString();
      const alike = source.includes("[native code]") ? [] : exported(workflows.filter((known) => known.workflow?.body.toString() === source));
      if (alike.length === 1) return alike[0]!;
      throw new UserError(
        alike.length > 1
          ? `This workflow object has the same code as several that the config's modules: export (${alike.map((known) => known.name).join(", ")}), so which one is meant is not known: start it by export name, start<Output>("exportName", input).`
          : "This workflow object is not one that the config's modules: export, so no worker could know it by name. Add its file to modules:, or start it by export name: start<Output>(\"exportName\", input).",
      );
    }
    if (typeof target === "object" && target !== null && "kind" in target) return target;
    if (typeof target === "object" && target !== null && "spec" in target) return { kind: "agent", name: target.spec.name, agent: target.spec };
    const given = typeof target === "object" ? JSON.stringify(target)?.slice(0, 80) : typeof target === "function" ? "a function" : String(target);
    throw new UserError(`Cannot start ${given}: give a target's name, an agent from defineAgent, or a workflow from defineWorkflow.`);
  }

  private engineFor(name: EngineName): Promise<Engine> {
    // Opening another would leave connections and MCP servers that nobody closes.
    if (this.closed) return Promise.reject(clientClosed());
    let engine = this.engines.get(name);
    if (!engine) {
      engine = this.openEngine(name).catch((error: unknown) => {
        // Temporal at the defaults' address is likely not the one meant when no config was found.
        if (!this.missingConfig || !isUserError(error) || error.name !== "TemporalUnreachable") throw error;
        throw new UserError(error.message, { name: error.name, exitCode: error.exitCode, hint: this.missingConfig, cause: error });
      });
      engine.catch(() => this.engines.delete(name));
      this.engines.set(name, engine);
    }
    return engine;
  }

  private async openEngine(name: EngineName): Promise<Engine> {
    const settings = runSettingsFromConfig(this.config);
    // Each engine is imported when first used: a Temporal client need not load the MCP pool, nor the reverse.
    if (name === "memory") {
      const { MemoryEngine } = await import("./client/memory-engine.js");
      // Runs in this process trace here: each run a span, its model and MCP calls spans under it.
      const tracingOn = tracingSettings(this.config, "client");
      if (!tracingOn) return new MemoryEngine(this.config, settings, this.logger);
      const tracing = await (await import("./telemetry/tracing.js")).startTracing(tracingOn);
      return new MemoryEngine(this.config, settings, this.logger, undefined, { flush: () => tracing.flush(), captureContent: tracingOn.captureContent });
    }
    const { TemporalEngine } = await import("./client/temporal-engine.js");
    try {
      return await TemporalEngine.connect(this.config, settings, this.worker);
    } catch (error) {
      throw await (await import("./client/tls-probe.js")).explainUnreachable(this.config.temporal, error);
    }
  }
}

/** A schedule, to read and steer. Deleting it leaves the runs it started going. */
export interface ScheduleHandle {
  readonly id: string;
  describe(): Promise<ScheduleDescription>;
  /** Starts a run now, as if it were due: under the overlap policy, which may skip or buffer it while a run still runs (`effect` says). */
  trigger(): Promise<TriggerOutcome>;
  pause(note?: string): Promise<void>;
  unpause(note?: string): Promise<void>;
  delete(): Promise<void>;
}

function scheduleHandle(schedules: Schedules, id: string): ScheduleHandle {
  return {
    id,
    describe: () => schedules.describe(id),
    trigger: () => schedules.trigger(id),
    pause: (note) => schedules.pause(id, note),
    unpause: (note) => schedules.unpause(id, note),
    delete: () => schedules.delete(id),
  };
}

export type { RunHandle, RunSummary, StartOptions, EngineName, TranscriptOptions } from "./client/engine.js";
export type { ScheduleDescription, ScheduleOptions, ScheduleSummary, ScheduledRun, Overlap, TriggerOutcome } from "./client/schedules.js";
export { ScheduleAlreadyExists, ScheduleNotFound } from "./client/schedules.js";
export type { RunEvent } from "./client/run-events.js";
export type { RunCost } from "./client/run-cost.js";
export type { AgentRunResult } from "./workflows/builtin-workflows.js";
export { InvalidRunInput, InvalidRunMessage, RunAlreadyEnded, RunFailed, RunNotFound } from "./client/engine.js";
export { RunTargetNotFound, type RunTarget } from "./client/run-targets.js";
export { ModuleLoadError } from "./client/module-loader.js";
export type { ChatSession, StartChatOptions } from "./client/chat.js";
export { ChatTurnFailed } from "./client/chat.js";
