/**
 * An agent's model with its tools attached: runs the tool loop in workflow code, so each model
 * turn and each tool call is its own durable step.
 */
import { argumentTypeMisfits } from "./argument-types.js";
import { ApplicationFailure, TemporalFailure } from "@temporalio/common";
import { inWorkflowContext, isCancellation, patched } from "@temporalio/workflow";
import { z } from "zod";
import { failureTypeOf, FailureType, rootCause } from "../../common/failures.js";
import { globMatcher } from "../../common/glob.js";
import type { LlmRequest, LlmResponse, StopReason, ToolSpec } from "../../common/llm.js";
import { textOf, type AssistantMessage, type Message, type ToolCall, type ToolMessage } from "../../common/messages.js";
import { failedToolCallError, mayDestroy, toolError, type ToolDefinition, type ToolResult } from "../../common/tools.js";
import { callAsync } from "../../common/call-async.js";
import { isContinueAsNew } from "../executor/continue-as-new.js";
import type { Executor } from "../executor/executor.js";
import { addUsage, usageKey, type UsageByModel } from "../../common/usage.js";
import type { AugmentedLlm, GenerateOptions, StructuredOptions } from "../augmented-llm.js";
import { checkStructured, jsonSchemaOf, structuredOutputInvalid, zodOfJsonSchema } from "../structured-output.js";
import { catalogOf, type ToolCatalog } from "../../common/tool-catalog.js";
import type { ToolResultClearing } from "../../common/tool-result-clearing.js";

export interface AgentLlmOptions {
  name: string;
  /** The system instruction, or a function that makes it before each model call (state that changes during the tool loop). */
  instruction: string | (() => string);
  model: string;
  maxIterations: number;
  /** The cap on each answer's tokens, unless a call gives its own. */
  maxTokens?: number;
  /** The sampling temperature, unless a call gives its own. */
  temperature?: number;
  /** False: at most one tool call a turn, unless a call says otherwise. */
  parallelToolCalls?: boolean;
  /** When old tool results are sent as notes (`AgentSpec.clearToolResults`); the worker's default when absent. */
  clearToolResults?: ToolResultClearing;
  /** Tools answered in workflow code instead of by an MCP server, e.g. a swarm's handoffs. */
  localTools?: LocalTool[];
  /** MCP servers whose tools the first model call lists (`LlmRequest.toolServers`), joining `tools` from then on. */
  unlistedServers?: string[];
}

/** A tool handled deterministically in workflow code. */
export interface LocalTool {
  spec: ToolSpec;
  /** `endTurn` stops the tool loop after this round, e.g. because control passed to another agent. */
  call(args: Record<string, unknown>): Promise<LocalToolOutcome> | LocalToolOutcome;
}

export interface LocalToolOutcome {
  /** What the model reads; `isError` false when absent. */
  result: Omit<ToolResult, "isError"> & { isError?: boolean };
  endTurn?: boolean;
}

export class AgentLlm implements AugmentedLlm {
  readonly name: string;
  /** The conversation so far, without the system instruction. */
  readonly history: Message[] = [];
  /** Tokens used by this LLM's calls, per model. */
  readonly usage: UsageByModel = {};
  /**
   * Why the latest model turn ended, as the provider said: `max_tokens` means its answer was cut
   * off; `max_iterations` that the turns ran out (`maxIterations`) with the model still calling tools.
   */
  lastStopReason: StopReason | "max_iterations" | undefined;
  /** Namespaced tool names that wait for a person's approval (`approvals.tools`). */
  private readonly needsApproval: (toolName: string) => boolean;
  /** Servers whose tools the next model call lists, until one has. */
  private unlisted: string[] | undefined;
  /** Built once the tools are known: the same array on every call lets the transcript referencer reuse its encoding. */
  private toolSpecs: ToolSpec[];

  constructor(
    private readonly ctx: Executor,
    private tools: ToolCatalog,
    private readonly options: AgentLlmOptions,
  ) {
    this.name = options.name;
    this.needsApproval = approvalMatcher(ctx.run.settings.approvalTools);
    if (options.unlistedServers?.length) this.unlisted = options.unlistedServers;
    this.toolSpecs = this.specsWith(tools);
  }

  private specsWith(catalog: ToolCatalog): ToolSpec[] {
    return this.options.localTools?.length ? [...catalog.specs(), ...this.options.localTools.map((tool) => tool.spec)] : catalog.specs();
  }

  /** Takes the tools a model call listed; later calls send them as they are. */
  private listed(response: LlmResponse): void {
    if (!response.toolLists) {
      throw ApplicationFailure.nonRetryable(
        `The worker that ran ${this.name}'s model call did not list the tools of ${this.unlisted!.join(", ")}: it runs an older duragent than this workflow code. Run one duragent version on each task queue.`,
        FailureType.configuration,
      );
    }
    this.tools = catalogOf(response.toolLists);
    this.toolSpecs = this.specsWith(this.tools);
    this.unlisted = undefined;
  }

  /**
   * `generate` for a run that may continue as new: before each model turn after its first,
   * `handOver(turns)` may end the loop there, its tool results answered and its history whole,
   * for the run to carry over (see agentWorkflow). `turns` counts this call's model turns.
   */
  async generateHandingOver(input: Message[], options: GenerateOptions, handOver: (turns: number) => boolean): Promise<{ added: Message[]; turns: number; handedOver: boolean }> {
    const loop = { handOver, turns: 0, handedOver: false };
    const added = await this.runLoop(input, options, undefined, loop);
    return { added, turns: loop.turns, handedOver: loop.handedOver };
  }

  async generate(input: string | Message[], options: GenerateOptions = {}): Promise<Message[]> {
    this.warnOfUnknownOptions(options);
    return this.runLoop(this.toMessages(input, "generate"), options, undefined);
  }

  async generateStr(input: string | Message[], options: GenerateOptions = {}): Promise<string> {
    return finalText(await this.generate(input, options));
  }

  async generateStructured<T>(
    input: string | Message[],
    schema: z.ZodType<T>,
    options: StructuredOptions = {},
  ): Promise<T> {
    this.warnOfUnknownOptions(options);
    const responseFormat = { type: "json_schema" as const, name: options.schemaName ?? "result", schema: jsonSchemaOf(schema) };
    const messages = this.toMessages(input, "generateStructured");
    let added = await this.runLoop(messages, options, responseFormat);
    let raw = finalText(added);
    let problem = checkStructured(raw, schema);
    if (problem.ok) return problem.value;
    // An answer cut off at the token limit would be cut off again: no repair, the cause named.
    if (this.lastStopReason === "max_tokens" && (!inWorkflowContext() || patched(structuredCutOffPatch))) {
      throw structuredOutputInvalid(this.name, `the model's structured output was cut off at its output token limit${this.tokenLimit(options)}, so it is not whole: raise maxTokens (the agent's, or this call's option)`, raw);
    }

    // One repair: the model sees exactly what was wrong.
    const repair = `Your reply did not match the required JSON schema: ${problem.error}\nReply again with only the corrected JSON.`;
    const context = options.useHistory === false ? [...messages, ...added] : [];
    added = await this.runLoop([...context, { role: "user", content: repair }], options, responseFormat);
    raw = finalText(added);
    problem = checkStructured(raw, schema);
    if (problem.ok) return problem.value;
    const cutOff = this.lastStopReason === "max_tokens" ? `; its answer was cut off at its output token limit${this.tokenLimit(options)}: raise maxTokens` : "";
    throw structuredOutputInvalid(this.name, `the model's structured output is still invalid after one repair: ${problem.error}${cutOff}`, raw);
  }

  /** The token limit the calls were given, for a message: ` (N tokens)`, or nothing when the provider's default. */
  private tokenLimit(options: GenerateOptions): string {
    const limit = options.maxTokens ?? this.options.maxTokens;
    return limit !== undefined ? ` (${limit} tokens)` : "";
  }

  /**
   * The input as messages. Workflow code without an input schema passes on whatever its caller
   * sent; what is neither text nor a list fails the run saying so, where on Temporal a TypeError
   * would fail the workflow task, and be retried, for ever. A list is taken as it was before this
   * check, so a recorded run replays as it ran.
   */
  private toMessages(input: string | Message[], method: "generate" | "generateStructured"): Message[] {
    if (typeof input === "string") return [{ role: "user", content: input }];
    if (Array.isArray(input)) return input;
    const given = input === undefined || input === null ? String(input) : typeof input === "object" ? `an object (${JSON.stringify(input).slice(0, 80)})` : `a ${typeof input}`;
    throw ApplicationFailure.nonRetryable(
      `${this.name}: ${method} takes a message (a string) or a list of messages, and got ${given}. A workflow defined without an input schema gets whatever its caller sent; give it one (defineWorkflow(body, { input: z.string() })) to refuse such input at start.`,
      FailureType.invalidAgentInput,
    );
  }

  private async runLoop(
    input: Message[],
    options: GenerateOptions,
    responseFormat: LlmRequest["responseFormat"],
    loop?: { handOver: (turns: number) => boolean; turns: number; handedOver: boolean },
  ): Promise<Message[]> {
    const useHistory = options.useHistory ?? true;
    const model = options.model ?? this.options.model;
    const maxIterations = options.maxIterations ?? this.options.maxIterations;
    const parallelToolCalls = options.parallelToolCalls ?? this.options.parallelToolCalls;
    const clearToolResults = options.clearToolResults ?? this.options.clearToolResults;
    const { fewerTurns } = this.ctx.run.settings;
    const prior = useHistory ? this.history : [];
    const added: Message[] = [...input];
    this.ctx.run.addToTranscript(options.inTranscript ? input.slice(options.inTranscript) : input, this.name);

    let turnEnded = false;
    for (let iteration = 1; iteration <= maxIterations; iteration++) {
      if (loop) {
        if (iteration > 1 && loop.handOver(iteration - 1)) {
          loop.handedOver = true;
          break;
        }
        loop.turns = iteration;
      }
      // On the last allowed turn the model must answer rather than call more tools.
      const lastTurn = iteration === maxIterations;
      const { toolSpecs, unlisted } = this;
      let response: LlmResponse;
      try {
        response = await this.ctx.callLlm({
          model,
          agent: this.name,
          system: typeof this.options.instruction === "string" ? this.options.instruction : this.options.instruction(),
          messages: [...prior, ...added],
          tools: toolSpecs.length > 0 ? toolSpecs : undefined,
          ...(unlisted ? { toolServers: unlisted } : {}),
          toolChoice: (toolSpecs.length > 0 || unlisted) && lastTurn ? "none" : undefined,
          responseFormat,
          temperature: options.temperature ?? this.options.temperature,
          ...(parallelToolCalls !== undefined && (toolSpecs.length > 0 || unlisted) ? { parallelToolCalls } : {}),
          maxTokens: options.maxTokens ?? this.options.maxTokens,
          ...(clearToolResults !== undefined ? { clearToolResults } : {}),
        });
      } catch (error) {
        // Which agent's call it was: several may share a model, and a run's failure names only the provider.
        throw agentFailure(this.name, error);
      }
      if (unlisted && this.unlisted) this.listed(response);
      addUsage(this.usage, usageKey(model, response.model), response.usage);
      this.lastStopReason = response.stopReason;
      added.push(response.message);
      this.ctx.run.addToTranscript([response.message], this.name);
      const calls = response.message.toolCalls ?? [];
      if (calls.length === 0) break;
      // Told to answer, the model called tools anyway: no turn is left to read what they would
      // do, so they are not run (a refund made for nothing); the run's transcript says so.
      if (lastTurn && (!inWorkflowContext() || patched(lastTurnCallsPatch))) {
        const unrun = calls.map((call) => toolOutcome(call, { result: toolError(`Not run: the agent's turns ran out (maxIterations ${maxIterations}), and the model was told to answer instead.`) }).message);
        added.push(...unrun);
        this.ctx.run.addToTranscript(unrun, this.name);
        break;
      }
      // Calls from one model turn are independent, so they run concurrently, unless the agent
      // asked for one at a time (`parallelToolCalls: false`) and the model made several anyway.
      const outcomes = !fewerTurns
        ? await Promise.all(calls.map((call) => this.callToolAsRecorded(call)))
        : calls.length === 1
          ? [await this.callTool(calls[0]!)]
          : parallelToolCalls === false
            ? await this.callToolsInTurn(calls)
            : await Promise.all(calls.map((call) => this.callTool(call)));
      for (const { samplingUsage } of outcomes) if (samplingUsage) for (const [key, usage] of Object.entries(samplingUsage)) addUsage(this.usage, key, usage);
      const results = outcomes.map((outcome) => outcome.message);
      added.push(...results);
      this.ctx.run.addToTranscript(results, this.name);
      if (outcomes.some((outcome) => outcome.endTurn)) {
        turnEnded = true;
        break;
      }
    }
    // The turns ran out with the tools' results unanswered: there is no answer to give.
    if (!turnEnded && !loop?.handedOver && added.at(-1)?.role === "tool") this.lastStopReason = "max_iterations";

    if (useHistory) this.history.push(...added);
    return added.slice(input.length);
  }

  /**
   * Options a JavaScript caller misspelt (mcp-agent's `max_tokens`) are said, not silently
   * ignored; a warning rather than a failure, so a run that passed one goes on as it went.
   */
  private warnOfUnknownOptions(options: StructuredOptions): void {
    for (const key in options) {
      if (generateOptionNames.has(key)) continue;
      const camel = key.replace(/_([a-z])/g, (_underscore, letter: string) => letter.toUpperCase());
      const meant = camel !== key && generateOptionNames.has(camel) ? `; did you mean '${camel}'?` : "";
      this.ctx.log.warn(`${this.name}: generate() has no option '${key}'${meant}; it is ignored. Its options: ${[...generateOptionNames].join(", ")} (schemaName for generateStructured).`);
    }
  }

  /** A turn's tool calls one after another, in the model's order. */
  private async callToolsInTurn(calls: ToolCall[]): Promise<ToolOutcome[]> {
    const outcomes: ToolOutcome[] = [];
    for (const call of calls) outcomes.push(await this.callTool(call));
    return outcomes;
  }

  /** A tool call of the model's, through as few promises as it can take (`RunSettings.fewerTurns`). */
  private callTool(call: ToolCall): Promise<ToolOutcome> {
    const target = this.toolTarget(call);
    if ("refused" in target) return Promise.resolve(toolOutcome(call, { result: target.refused }));
    if ("local" in target) {
      if (this.needsApproval(call.name)) this.warnUngated(call.name);
      // A local tool's own failure is the model's to read, as an MCP tool's is, on both engines; a
      // failure of the run itself (a TemporalFailure: a cancel, an ApplicationFailure) still ends it.
      return callAsync(() => target.local.call(target.args)).then(
        (outcome) => toolOutcome(call, outcome),
        (error: unknown) => {
          if (error instanceof TemporalFailure || isContinueAsNew(error)) throw error;
          const message = error instanceof Error ? error.message : String(error);
          // What the sandbox lacks (`fetch`, `require`, timers of its own) is the code's mistake, not the model's: said in the worker's log too.
          if (error instanceof ReferenceError && inWorkflowContext()) {
            this.ctx.log.warn(`${this.name}: local tool '${call.name}' failed: ${message}. A local tool runs in workflow code, which has no fetch, files or Node modules: make it a function tool (duragent/tools, mcp.servers.<name>.module).`);
          }
          return toolOutcome(call, { result: toolError(`The tool '${call.name}' failed: ${message}`) });
        },
      );
    }
    if (this.needsApproval(call.name) || (this.ctx.run.settings.approveDestructive === true && mayDestroy(target.tool))) {
      return this.approvedToolCall(call, target.tool, target.args).then((outcome) => toolOutcome(call, outcome));
    }
    // One promise for both outcomes: each costs the worker's sandbox a stack trace.
    return this.ctx.callTool({ server: target.tool.server, tool: target.tool.name, arguments: target.args, modelCallId: call.id }).then(
      (result) => toolOutcome(call, { result }),
      (error: unknown) => toolOutcome(call, { result: this.toolFailureResult(call, error) }),
    );
  }

  private readonly ungatedWarned = new Set<string>();

  /** `approvals.tools` names MCP tools: a local tool it matches runs unasked, which is said once. */
  private warnUngated(tool: string): void {
    if (this.ungatedWarned.has(tool)) return;
    this.ungatedWarned.add(tool);
    this.ctx.log.warn(`${this.name}: approvals.tools matches '${tool}', a local tool, which it does not gate (it names MCP tools): the call runs unasked. Have the tool ask with ctx.requestApproval, or make it a function tool (duragent/tools).`);
  }

  /**
   * The error the model reads for an MCP tool call whose step failed for good, when the model can
   * work around it (its server died or timed out on every attempt, or broke the protocol), so that
   * one bad tool does not lose the run (`failedToolCall`); otherwise, and for a run from before,
   * the failure itself, which ends the run.
   */
  private toolFailureResult(call: ToolCall, error: unknown): ToolResult {
    const told =
      this.ctx.run.settings.failedToolCall !== "fail-run" &&
      !isCancellation(error) &&
      modelToldFailures.includes(failureTypeOf(error) ?? "") &&
      (!inWorkflowContext() || patched(failedToolToldPatch));
    if (!told) throw error;
    return failedToolCallError(call.name, rootCause(error));
  }

  /**
   * What a tool call goes to, or the tool error the model gets instead: mistakes the model can
   * fix are answered as tool errors; only infrastructure faults throw.
   */
  private toolTarget(call: ToolCall): { refused: ToolResult } | { local: LocalTool; args: Record<string, unknown> } | { tool: ToolDefinition; args: Record<string, unknown> } {
    const local = this.options.localTools?.find((candidate) => candidate.spec.name === call.name);
    const tool = this.tools.resolve(call.name);
    if (!tool && !local) {
      const available = [...this.tools.names(), ...(this.options.localTools ?? []).map((candidate) => candidate.spec.name)];
      return { refused: toolError(`Unknown tool '${call.name}'. Available tools: ${available.join(", ") || "none"}.`) };
    }
    // Said as it is, or the model sends the same long call again.
    if (call.cutOff) {
      return { refused: toolError(`The arguments for '${call.name}' were cut off: your reply reached the output token limit before they were complete, so the call was not made. Make the call with shorter arguments, or split the work into several calls.`) };
    }
    let args: unknown;
    try {
      args = call.arguments.trim() === "" ? {} : JSON.parse(call.arguments);
    } catch (error) {
      return { refused: toolError(`The arguments for '${call.name}' are not valid JSON (${(error as Error).message}). Send a JSON object.`) };
    }
    if (typeof args !== "object" || args === null || Array.isArray(args)) {
      return { refused: toolError(`The arguments for '${call.name}' must be a JSON object.`) };
    }
    const parsed = args as Record<string, unknown>;
    if (local) {
      const misfit = localToolMisfit(local, parsed);
      return misfit ? { refused: toolError(`The arguments for '${call.name}' do not fit its input schema, so the call was not made:\n${misfit}`) } : { local, args: parsed };
    }
    if (!tool) return { refused: toolError(`Unknown tool '${call.name}'.`) };
    return { tool, args: parsed };
  }

  private async approvedToolCall(call: ToolCall, tool: ToolDefinition, args: Record<string, unknown>): Promise<LocalToolOutcome> {
    // No one is asked to approve a call its server would refuse: the model hears why at once.
    const misfits = argumentTypeMisfits(tool.inputSchema, args);
    if (misfits.length > 0 && (!inWorkflowContext() || patched(gatedArgumentsPatch))) {
      return { result: toolError(`The arguments for '${call.name}' do not fit its input schema, so the call was not made and no one was asked to approve it:\n${misfits.join("\n")}`) };
    }
    const decision = await this.ctx.requestApproval({ server: tool.server, tool: tool.name, arguments: args, inputSchema: tool.inputSchema });
    if (!decision.approved) return { result: toolError(`A person rejected this call to '${call.name}': ${decision.reason}`) };
    // The model, and whoever reads the transcript, learn what ran; a run from before was not told.
    const told = decision.edited === true && (!inWorkflowContext() || patched(editedArgumentsPatch));
    let result: ToolResult;
    try {
      result = await this.ctx.callTool({ server: tool.server, tool: tool.name, arguments: decision.arguments, modelCallId: call.id });
    } catch (error) {
      result = this.toolFailureResult(call, error);
    }
    if (!told) return { result };
    return { result: { ...result, content: [{ type: "text", text: `A person changed the arguments before the call ran; it ran with ${JSON.stringify(decision.arguments)}.` }, ...result.content] } };
  }

  // A tool call as runs without `fewerTurns` make it, turn for turn, so that their histories replay.
  private async callToolAsRecorded(call: ToolCall): Promise<ToolOutcome> {
    return toolOutcome(call, await this.executeToolCallAsRecorded(call));
  }

  private async executeToolCallAsRecorded(call: ToolCall): Promise<LocalToolOutcome> {
    const target = this.toolTarget(call);
    if ("refused" in target) return { result: target.refused };
    if ("local" in target) return target.local.call(target.args);
    let toolArguments = target.args;
    if (this.needsApproval(call.name)) {
      const decision = await this.ctx.requestApproval({ server: target.tool.server, tool: target.tool.name, arguments: target.args, inputSchema: target.tool.inputSchema });
      if (!decision.approved) return { result: toolError(`A person rejected this call to '${call.name}': ${decision.reason}`) };
      toolArguments = decision.arguments;
    }
    return { result: await this.ctx.callTool({ server: target.tool.server, tool: target.tool.name, arguments: toolArguments }) };
  }
}

interface ToolOutcome {
  message: ToolMessage;
  endTurn: boolean;
  /** Model calls the tool's server asked us for (sampling), which the agent paid for. */
  samplingUsage?: UsageByModel;
}

function toolOutcome(call: ToolCall, { result, endTurn }: LocalToolOutcome): ToolOutcome {
  const message: ToolMessage = {
    role: "tool",
    toolCallId: call.id,
    toolName: call.name,
    content: result.content,
    ...(result.isError ? { isError: true } : {}),
  };
  return { message, endTurn: endTurn === true, ...(result.samplingUsage ? { samplingUsage: result.samplingUsage as UsageByModel } : {}) };
}

/** A model call's failure, named by the agent that made it; a cancellation is passed on as it is. */
function agentFailure(agent: string, error: unknown): unknown {
  if (isCancellation(error) || !(error instanceof Error)) return error;
  let inner: unknown = error;
  while (inner instanceof Error && !(inner instanceof ApplicationFailure) && inner.cause) inner = inner.cause;
  const type = inner instanceof ApplicationFailure ? inner.type : undefined;
  return ApplicationFailure.create({ message: `${agent}: ${rootCause(error)}`, ...(type ? { type } : {}), nonRetryable: true, cause: error });
}

/**
 * Asked only of a structured answer cut off at the token limit, so that other runs record no
 * marker, and a run from before replays the repair round it made.
 */
const structuredCutOffPatch = "duragent-structured-cut-off-fails";

/** Asked only of a tool call that failed for good, so that other runs record no marker, and a run from before fails as it did. */
const failedToolToldPatch = "duragent-failed-tool-told";

/** Every option `generate`, `generateStr` and `generateStructured` take (`GenerateOptions`, `StructuredOptions`). */
const generateOptionNames = new Set(["model", "maxIterations", "useHistory", "inTranscript", "temperature", "maxTokens", "parallelToolCalls", "clearToolResults", "schemaName"]);

/** Failures of a tool step the model is told of: what the tool's server did, not what a person must fix. */
const modelToldFailures: readonly string[] = [
  FailureType.stepGaveUp,
  FailureType.stepTimedOut,
  FailureType.mcpServerUnavailable,
  FailureType.mcpServerMisbehaved,
  FailureType.resultTooLarge,
  FailureType.workerStopping,
  FailureType.runUnreachable,
];

/**
 * Asked only of a gated call whose arguments surely do not fit, so that other runs record no
 * marker, and a run from before asked a person first, as it did.
 */
const gatedArgumentsPatch = "duragent-gated-arguments-checked";

/**
 * Asked only of a last turn whose model called tools anyway, so that other runs record no marker,
 * and a run from before ran those calls, as it did.
 */
const lastTurnCallsPatch = "duragent-last-turn-calls-not-run";

/** Asked only of an approval whose arguments a person changed, so that other runs record no marker. */
const editedArgumentsPatch = "duragent-edited-arguments-told";

/**
 * Asked only of arguments that do not fit, so that runs whose local tools get good arguments
 * record no marker, and a run from before the check replays its misfit call as it made it.
 */
const localToolArgumentsPatch = "duragent-local-tool-arguments-checked";

/** Why `args` do not fit a local tool's input schema, or undefined when they do (or zod cannot read the schema). */
function localToolMisfit(tool: LocalTool, args: Record<string, unknown>): string | undefined {
  const schema = zodOfJsonSchema(tool.spec.inputSchema);
  const checked = schema?.safeParse(args);
  if (!checked || checked.success) return undefined;
  if (inWorkflowContext() && !patched(localToolArgumentsPatch)) return undefined;
  return z.prettifyError(checked.error);
}

// One matcher per approval list (the memory engine's runs share their settings object).
const approvalMatchers = new WeakMap<string[], (name: string) => boolean>();
function approvalMatcher(patterns: string[]): (name: string) => boolean {
  let matcher = approvalMatchers.get(patterns);
  if (!matcher) approvalMatchers.set(patterns, (matcher = globMatcher(patterns)));
  return matcher;
}


/** The text of the last assistant message. */
export function finalText(messages: Message[]): string {
  const last = [...messages].reverse().find((message): message is AssistantMessage => message.role === "assistant");
  return last ? textOf(last.content) : "";
}
