/** The composable patterns: every one is a `AugmentedLlm`, so any can nest in any other. */
export { PatternBase, parseStructured, inputText } from "./pattern-base.js";
export { FunctionStep, registerPatternFunction, type PatternFunction } from "./function-step.js";
export { LazyAgentLlm, lazyAgent } from "./lazy-agent.js";
export { Semaphore, mapWithLimit, settleWithLimit } from "./semaphore.js";
export { Chain, type ChainOptions } from "./chain.js";
export { itemField, Parallel, type ParallelOptions, type ParallelResult, type BranchResult, type FanInFunction, type FailurePolicy } from "./parallel.js";
export { Router, agentCandidate, type RouterOptions, type RouteCandidate, type RouteChoice, type CandidateKind } from "./router.js";
export { IntentClassifier, type IntentClassifierOptions, type Intent, type IntentMatch } from "./intent-classifier.js";
export {
  Orchestrator,
  PlanSchema,
  type Plan,
  type OrchestratorOptions,
  type OrchestratorResult,
  type OrchestratorWorker,
  type StepResult,
  type TaskResult,
} from "./orchestrator.js";
export {
  EvaluatorOptimizer,
  EvaluationSchema,
  ratingScale,
  type Rating,
  type Evaluation,
  type Attempt,
  type EvaluatorOptimizerOptions,
  type EvaluatorOptimizerResult,
} from "./evaluator-optimizer.js";
export { Swarm, handoffToolName, type SwarmOptions, type SwarmAgent, type SwarmFunction, type SwarmFunctionResult, type SwarmState, type SwarmResult, type Handoff, type ContextVariables } from "./swarm.js";
export {
  PatternSpecSchema,
  ParticipantSchema,
  resolveAgentReferences,
  agentReferences,
  type PatternSpec,
  type Participant,
  type FunctionRef,
  type ChainSpec,
  type ParallelSpec,
  type RouterSpec,
  type IntentClassifierSpec,
  type OrchestratorSpec,
  type EvaluatorOptimizerSpec,
  type SwarmSpec,
  type SwarmAgentSpec,
} from "./pattern-spec.js";
export { buildPattern, buildParticipant } from "./build-pattern.js";
export { ChildPattern, patternWorkflowName, type PatternRunInput, type PatternRunResult } from "./child-pattern.js";
export { PatternRunInputSchema } from "./pattern-workflow.js";
