/**
 * Orchestrator-workers: a planner writes a zod-validated plan of steps; the tasks of a step run in
 * parallel, each on a named worker; a synthesizer writes the final answer from all results.
 * `full` mode plans every remaining step at once, `iterative` mode one step at a time; both
 * re-plan until the planner says the objective is complete or `maxIterations` is reached.
 */
import { ApplicationFailure } from "@temporalio/common";
import { z } from "zod";
import type { Message } from "../../common/messages.js";
import type { AugmentedLlm, StructuredOptions } from "../augmented-llm.js";
import { inputText, invalidPattern, participantOptions, PatternBase, type PatternEnding } from "./pattern-base.js";
import { mapWithLimit } from "./semaphore.js";

export const PlanSchema = z.object({
  steps: z.array(
    z.object({
      description: z.string(),
      /** Independent tasks, run in parallel. */
      tasks: z.array(z.object({ worker: z.string(), description: z.string() })),
    }),
  ),
  /** True when the results so far already answer the objective. */
  isComplete: z.boolean(),
});
export type Plan = z.infer<typeof PlanSchema>;

export interface OrchestratorWorker {
  name: string;
  description: string;
  llm: AugmentedLlm;
}

export interface OrchestratorOptions {
  name?: string;
  planner: AugmentedLlm;
  workers: OrchestratorWorker[];
  /** Writes the final answer; the planner when absent. */
  synthesizer?: AugmentedLlm;
  /** Default `full`. */
  planMode?: "full" | "iterative";
  /** Planning rounds at most; default 5. */
  maxIterations?: number;
  /** Tasks of one step running at once; unlimited when absent. */
  concurrency?: number;
}

export interface TaskResult {
  worker: string;
  description: string;
  result: string;
}

export interface StepResult {
  description: string;
  tasks: TaskResult[];
}

export interface OrchestratorResult {
  text: string;
  steps: StepResult[];
  /** Planning rounds used. */
  iterations: number;
  /** False when `maxIterations` ran out before the planner declared the objective complete. */
  complete: boolean;
  /**
   * Steps of the last plan left unrun: the planner declared the objective complete in the same
   * plan that listed them (its prompt asks for no steps then). Absent when there were none.
   */
  unrunSteps?: number;
}

export class Orchestrator extends PatternBase {
  readonly name: string;

  constructor(private readonly options: OrchestratorOptions) {
    super();
    this.name = options.name ?? "orchestrator";
    if (options.workers.length === 0) throw invalidPattern(`${this.name}: an orchestrator needs at least one worker.`);
  }

  async run(input: string | Message[]): Promise<OrchestratorResult> {
    const execution = await this.execute(input);
    const synthesizer = this.options.synthesizer ?? this.options.planner;
    const text = await synthesizer.generateStr(synthesisPrompt(inputText(input), execution), participantOptions);
    return { text, ...execution };
  }

  protected async respond(input: string | Message[]): Promise<string> {
    return (await this.run(input)).text;
  }

  override async answer(input: string | Message[]): Promise<{ text: string } & PatternEnding> {
    const { text, iterations, complete, unrunSteps } = await this.run(input);
    return { text, orchestration: { iterations, complete, ...(unrunSteps ? { unrunSteps } : {}) } };
  }

  override async generateStructured<T>(input: string | Message[], schema: z.ZodType<T>, options: StructuredOptions = {}): Promise<T> {
    const execution = await this.execute(input);
    const synthesizer = this.options.synthesizer ?? this.options.planner;
    return synthesizer.generateStructured(synthesisPrompt(inputText(input), execution), schema, { ...options, ...participantOptions });
  }

  private async execute(input: string | Message[]): Promise<Omit<OrchestratorResult, "text">> {
    const objective = inputText(input);
    const maxIterations = this.options.maxIterations ?? 5;
    const steps: StepResult[] = [];
    for (let iteration = 1; iteration <= maxIterations; iteration++) {
      const plan = await this.plan(objective, steps);
      const planned = this.options.planMode === "iterative" ? plan.steps.slice(0, 1) : plan.steps;
      // Taken at its word, as it always was: running the steps now would change recorded runs' commands.
      if (plan.isComplete || planned.length === 0) return { steps, iterations: iteration, complete: true, ...(planned.length > 0 ? { unrunSteps: planned.length } : {}) };
      for (const step of planned) steps.push(await this.runStep(objective, step, steps));
    }
    // The cap bounds cost; the synthesizer still answers from what was done, and `complete` tells.
    return { steps, iterations: maxIterations, complete: false };
  }

  /** Asks for a plan; a plan naming unknown workers is re-asked once with the error, then fails. */
  private async plan(objective: string, done: StepResult[]): Promise<Plan> {
    const prompt = planPrompt(objective, done, this.options.workers, this.options.planMode ?? "full");
    const structured = { ...participantOptions, schemaName: "plan" };
    const first = await this.options.planner.generateStructured(prompt, PlanSchema, structured);
    const firstProblem = this.unknownWorkers(first);
    if (!firstProblem) return first;
    const retry: Message[] = [
      { role: "user", content: prompt },
      { role: "assistant", content: JSON.stringify(first) },
      { role: "user", content: `${firstProblem} Reply with the corrected plan, using only the available workers.` },
    ];
    const second = await this.options.planner.generateStructured(retry, PlanSchema, structured);
    const secondProblem = this.unknownWorkers(second);
    if (!secondProblem) return second;
    throw ApplicationFailure.nonRetryable(
      `${this.name}: the planner named unknown workers twice. ${secondProblem} ` +
        "Give the workers clearer names and descriptions, or add the worker the planner asks for.",
      "PlanInvalid",
      { plan: second },
    );
  }

  private unknownWorkers(plan: Plan): string | undefined {
    const known = this.options.workers.map((worker) => worker.name);
    const unknown = plan.steps.flatMap((step) => step.tasks.map((task) => task.worker)).filter((name) => !known.includes(name));
    if (unknown.length === 0) return undefined;
    return `The plan names unknown worker(s): ${[...new Set(unknown)].join(", ")}. Available workers: ${known.join(", ")}.`;
  }

  private async runStep(objective: string, step: Plan["steps"][number], done: StepResult[]): Promise<StepResult> {
    const tasks = await mapWithLimit(step.tasks, this.options.concurrency, async (task) => {
      const worker = this.options.workers.find((candidate) => candidate.name === task.worker) as OrchestratorWorker;
      const result = await worker.llm.generateStr(taskPrompt(objective, done, task.description), participantOptions);
      return { worker: task.worker, description: task.description, result };
    });
    return { description: step.description, tasks };
  }
}

function formatResults(steps: StepResult[]): string {
  if (steps.length === 0) return "(none yet)";
  return steps
    .map((step, index) => {
      const tasks = step.tasks.map((task) => `  - [${task.worker}] ${task.description}\n    Result: ${task.result}`).join("\n");
      return `Step ${index + 1}: ${step.description}\n${tasks}`;
    })
    .join("\n");
}

function planPrompt(objective: string, done: StepResult[], workers: OrchestratorWorker[], mode: "full" | "iterative"): string {
  const available = workers.map((worker) => `- ${worker.name}: ${worker.description}`).join("\n");
  const ask =
    mode === "full"
      ? "Plan all remaining steps. Tasks within a step run in parallel; steps run in order."
      : "Plan only the next step. Its tasks run in parallel.";
  return (
    `You plan work for other agents.\nObjective: ${objective}\n\nAvailable workers:\n${available}\n\n` +
    `Results so far:\n${formatResults(done)}\n\n${ask} Assign each task to one available worker by name. ` +
    "Set isComplete to true, with no steps, when the results so far achieve the objective."
  );
}

function taskPrompt(objective: string, done: StepResult[], task: string): string {
  return `Objective: ${objective}\n\nResults of earlier steps:\n${formatResults(done)}\n\nYour task: ${task}`;
}

function synthesisPrompt(objective: string, execution: Omit<OrchestratorResult, "text">): string {
  const note = !execution.complete
    ? "\n\nNote: planning stopped at its iteration cap before the objective was declared complete."
    : execution.unrunSteps
      ? `\n\nNote: the planner declared the objective complete and ran none of the ${execution.unrunSteps} step(s) it last planned; say so rather than answer as if they were done.`
      : "";
  return `Objective: ${objective}\n\nResults:\n${formatResults(execution.steps)}${note}\n\nSynthesize the final answer to the objective.`;
}
