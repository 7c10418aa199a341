/** Turns a `PatternSpec` into a live llm: participants become agents, functions or patterns. */
import { ApplicationFailure } from "@temporalio/common";
import { FailureType } from "../../common/failures.js";
import type { AgentSpec } from "../agent/define-agent.js";
import type { Executor } from "../executor/executor.js";
import type { AugmentedLlm } from "../augmented-llm.js";
import { lazyAgent } from "./lazy-agent.js";
import { Chain } from "./chain.js";
import { ChildPattern } from "./child-pattern.js";
import { EvaluatorOptimizer } from "./evaluator-optimizer.js";
import { findPatternFunction, FunctionStep, registeredPatternFunctionNames } from "./function-step.js";
import { IntentClassifier } from "./intent-classifier.js";
import { Orchestrator } from "./orchestrator.js";
import { itemField, Parallel } from "./parallel.js";
import { isFunctionRef, isPatternSpec, type Participant, type PatternSpec, type SwarmAgentSpec } from "./pattern-spec.js";
import { Router, type RouteCandidate } from "./router.js";
import { Swarm, type SwarmState } from "./swarm.js";

export interface BuildOptions {
  /** True for a pattern inside another: only then does `asChildWorkflow` apply. */
  nested?: boolean;
}

export function buildPattern(ctx: Executor, spec: PatternSpec, options: BuildOptions = {}): AugmentedLlm {
  if (options.nested && spec.asChildWorkflow) return new ChildPattern(ctx, spec);
  const name = spec.name ?? spec.pattern;
  const participant = (entry: Participant) => buildParticipant(ctx, entry);
  switch (spec.pattern) {
    case "chain":
      return new Chain({ name, steps: spec.steps.map(participant) });
    case "parallel":
      return new Parallel({
        name,
        ...(spec.branches ? { branches: spec.branches.map(participant) } : {}),
        ...(spec.map ? { map: { worker: participant(spec.map), ...(spec.itemName ? { name: itemField(spec.itemName) } : {}) } } : {}),
        ...(spec.fanIn ? { fanIn: participant(spec.fanIn) } : {}),
        ...(spec.concurrency ? { concurrency: spec.concurrency } : {}),
        ...(spec.failurePolicy ? { failurePolicy: spec.failurePolicy } : {}),
      });
    case "router": {
      const candidates: RouteCandidate[] = (spec.candidates ?? []).map((entry) => ({
        name: participantName(entry),
        kind: isPatternSpec(entry) ? "pattern" : isFunctionRef(entry) ? "function" : "agent",
        description: participantDescription(entry),
        llm: participant(entry),
      }));
      for (const server of spec.servers ?? []) {
        const serverName = typeof server === "string" ? server : server.name;
        candidates.push({
          name: serverName,
          kind: "server",
          description: typeof server === "string" ? `the tools of the '${serverName}' MCP server` : server.description,
          llm: lazyAgent(ctx, {
            name: serverName,
            instruction: `Answer the request using the tools of the '${serverName}' server.`,
            servers: [serverName],
            ...(spec.model ? { model: spec.model } : {}),
          }),
        });
      }
      checkUniqueNames(name, candidates.map((candidate) => candidate.name));
      return new Router({ name, llm: helperAgent(ctx, `${name}-llm`, "You route each request to the best handler.", spec.model), candidates, ...(spec.topK ? { topK: spec.topK } : {}) });
    }
    case "intent-classifier":
      return new IntentClassifier({
        name,
        llm: helperAgent(ctx, `${name}-llm`, "You classify the intent of requests.", spec.model),
        intents: spec.intents,
        ...(spec.topK ? { topK: spec.topK } : {}),
      });
    case "orchestrator": {
      const workers = spec.workers.map((entry) => ({ name: participantName(entry), description: participantDescription(entry), llm: participant(entry) }));
      checkUniqueNames(name, workers.map((worker) => worker.name));
      return new Orchestrator({
        name,
        planner: spec.planner
          ? participant(spec.planner)
          : helperAgent(ctx, `${name}-planner`, "You break objectives into steps and assign each task to the best worker.", spec.model),
        workers,
        ...(spec.synthesizer ? { synthesizer: participant(spec.synthesizer) } : {}),
        ...(spec.planMode ? { planMode: spec.planMode } : {}),
        ...(spec.maxIterations ? { maxIterations: spec.maxIterations } : {}),
        ...(spec.concurrency ? { concurrency: spec.concurrency } : {}),
      });
    }
    case "evaluator-optimizer":
      return new EvaluatorOptimizer({
        name,
        optimizer: participant(spec.optimizer),
        evaluator: participant(spec.evaluator),
        ...(spec.minRating ? { minRating: spec.minRating } : {}),
        ...(spec.maxRefinements !== undefined ? { maxRefinements: spec.maxRefinements } : {}),
      });
    case "swarm": {
      const agents = spec.agents.map((agent): SwarmAgentSpec => (typeof agent === "string" ? unresolvedAgent(agent) : agent));
      const doneWhen = spec.doneWhen;
      return new Swarm(ctx, {
        name,
        agents,
        ...(spec.start ? { start: spec.start } : {}),
        ...(spec.contextVariables ? { contextVariables: spec.contextVariables } : {}),
        ...(spec.maxHandoffs ? { maxHandoffs: spec.maxHandoffs } : {}),
        ...(doneWhen
          ? {
              done: (state: SwarmState) =>
                (doneWhen.contextKey !== undefined && state.contextVariables[doneWhen.contextKey] !== undefined) ||
                (doneWhen.textIncludes !== undefined && state.lastText.includes(doneWhen.textIncludes)),
            }
          : {}),
      });
    }
  }
}

export function buildParticipant(ctx: Executor, participant: Participant): AugmentedLlm {
  if (typeof participant === "string") return unresolvedAgent(participant);
  if (isPatternSpec(participant)) return buildPattern(ctx, participant, { nested: true });
  if (isFunctionRef(participant)) {
    const fn = findPatternFunction(participant.function);
    if (!fn) {
      throw ApplicationFailure.nonRetryable(
        `No pattern function is registered as '${participant.function}' (registered: ${registeredPatternFunctionNames().join(", ") || "none"}). ` +
          "Call registerPatternFunction at the top level of a module listed under `modules:`.",
        FailureType.configuration,
      );
    }
    return new FunctionStep(participant.name ?? participant.function, fn);
  }
  return lazyAgent(ctx, participant);
}

function participantName(participant: Participant): string {
  if (typeof participant === "string") return participant;
  if (isPatternSpec(participant)) return participant.name ?? participant.pattern;
  if (isFunctionRef(participant)) return participant.name ?? participant.function;
  return participant.name;
}

function participantDescription(participant: Participant): string {
  if (typeof participant === "string") return participant;
  if (isPatternSpec(participant)) return participant.description ?? `${/^[aeiou]/.test(participant.pattern) ? "an" : "a"} ${participant.pattern} pattern`;
  if (isFunctionRef(participant)) return participant.description ?? `the function ${participant.function}`;
  return participant.description ?? participant.instruction;
}

function helperAgent(ctx: Executor, name: string, instruction: string, model: string | undefined): AugmentedLlm {
  const spec: AgentSpec = { name, instruction, ...(model ? { model } : {}) };
  return lazyAgent(ctx, spec);
}

function unresolvedAgent(name: string): never {
  throw ApplicationFailure.nonRetryable(
    `The pattern names agent '${name}', but no agent spec was given for it. Define it under \`agents:\` in duragent.config.yaml, or pass the agent's spec instead of its name.`,
    FailureType.configuration,
  );
}

function checkUniqueNames(pattern: string, names: string[]): void {
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  if (duplicate !== undefined) {
    throw ApplicationFailure.nonRetryable(
      `${pattern}: two participants are called '${duplicate}'. Give each a distinct \`name\`, so the model can tell them apart.`,
      FailureType.configuration,
    );
  }
}
