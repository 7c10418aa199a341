/**
 * Patterns as plain data, so a pattern can travel in a workflow input (to run as a child
 * workflow) and be written in `duragent.config.yaml` under `workflows:`.
 *
 * A participant is an agent spec, a nested pattern spec, a registered function
 * (`{ function: "<name>" }`) or, in the config only, the name of an agent from `agents:`.
 */
import { z } from "zod";
import { AgentSpecSchema, type AgentSpec } from "../agent/define-agent.js";

export interface FunctionRef {
  /** The name given to `registerPatternFunction`. */
  function: string;
  /** The participant's name; the function's name when absent. */
  name?: string;
  description?: string;
}

/** An agent name (config only), an agent, a registered function or a nested pattern. */
export type Participant = string | AgentSpec | FunctionRef | PatternSpec;

export interface PatternCommon {
  /** Shown in logs, child workflow ids and to planners and routers; the pattern kind when absent. */
  name?: string;
  /** What the pattern is good for, as a planner or router reads it. */
  description?: string;
  /** When nested in another pattern, run as a child workflow with its own history. */
  asChildWorkflow?: boolean;
}

export interface ChainSpec extends PatternCommon {
  pattern: "chain";
  steps: Participant[];
}

export interface ParallelSpec extends PatternCommon {
  pattern: "parallel";
  /** Fan out the input to each; give this or `map`. */
  branches?: Participant[];
  /** Split the input into items (JSON array or lines) and run each through this participant. */
  map?: Participant;
  /** With `map` over JSON objects: the field that names each item (`id`) in results and failures, for `item <n>`. */
  itemName?: string;
  fanIn?: Participant;
  concurrency?: number;
  failurePolicy?: "fail" | "collect";
}

export interface RouterSpec extends PatternCommon {
  pattern: "router";
  /** The routing model; the run's default when absent. */
  model?: string;
  candidates?: Participant[];
  /** MCP servers as candidates: a chosen server answers through an agent that uses its tools. */
  servers?: Array<string | { name: string; description: string }>;
  topK?: number;
}

export interface IntentSpec {
  name: string;
  description: string;
  examples?: string[];
}

export interface IntentClassifierSpec extends PatternCommon {
  pattern: "intent-classifier";
  model?: string;
  intents: IntentSpec[];
  topK?: number;
}

export interface OrchestratorSpec extends PatternCommon {
  pattern: "orchestrator";
  /** The model of the default planner. */
  model?: string;
  planner?: Participant;
  synthesizer?: Participant;
  workers: Participant[];
  planMode?: "full" | "iterative";
  maxIterations?: number;
  concurrency?: number;
}

export interface EvaluatorOptimizerSpec extends PatternCommon {
  pattern: "evaluator-optimizer";
  optimizer: Participant;
  evaluator: Participant;
  minRating?: "poor" | "fair" | "good" | "excellent";
  maxRefinements?: number;
}

export type SwarmAgentSpec = AgentSpec & { handoffs?: string[] };

export interface SwarmSpec extends PatternCommon {
  pattern: "swarm";
  /** Agents (or agent names, config only); the first starts unless `start` says otherwise. */
  agents: Array<string | SwarmAgentSpec>;
  start?: string;
  contextVariables?: Record<string, string>;
  maxHandoffs?: number;
  /** Ends the swarm early once a context variable is set or an answer contains a text. */
  doneWhen?: { contextKey?: string; textIncludes?: string };
}

export type PatternSpec =
  | ChainSpec
  | ParallelSpec
  | RouterSpec
  | IntentClassifierSpec
  | OrchestratorSpec
  | EvaluatorOptimizerSpec
  | SwarmSpec;

export type PatternName = PatternSpec["pattern"];

const common = {
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  asChildWorkflow: z.boolean().optional(),
};

const FunctionRefSchema = z.strictObject({
  function: z.string().min(1),
  name: z.string().min(1).optional(),
  description: z.string().optional(),
});

// Pattern specs are checked first, by their `pattern` key, so a typo in one is reported as such.
export const ParticipantSchema: z.ZodType<Participant> = z.lazy(() =>
  z.union([z.string().min(1), FunctionRefSchema, PatternSpecSchema, AgentSpecSchema]),
);

const positiveInt = z.number().int().positive();

export const PatternSpecSchema: z.ZodType<PatternSpec> = z.lazy(() =>
  z.discriminatedUnion("pattern", [
    z.strictObject({ pattern: z.literal("chain"), ...common, steps: z.array(ParticipantSchema).min(1) }),
    z
      .strictObject({
        pattern: z.literal("parallel"),
        ...common,
        branches: z.array(ParticipantSchema).min(1).optional(),
        map: ParticipantSchema.optional(),
        itemName: z.string().min(1).optional(),
        fanIn: ParticipantSchema.optional(),
        concurrency: positiveInt.optional(),
        failurePolicy: z.enum(["fail", "collect"]).optional(),
      })
      .refine((spec) => (spec.branches === undefined) !== (spec.map === undefined), {
        message: "give exactly one of `branches` (fan out) or `map` (one participant over the input's items)",
      }),
    z
      .strictObject({
        pattern: z.literal("router"),
        ...common,
        model: z.string().optional(),
        candidates: z.array(ParticipantSchema).optional(),
        servers: z.array(z.union([z.string().min(1), z.strictObject({ name: z.string().min(1), description: z.string() })])).optional(),
        topK: positiveInt.optional(),
      })
      .refine((spec) => (spec.candidates?.length ?? 0) + (spec.servers?.length ?? 0) > 0, {
        message: "a router needs at least one entry in `candidates` or `servers`",
      }),
    z.strictObject({
      pattern: z.literal("intent-classifier"),
      ...common,
      model: z.string().optional(),
      intents: z
        .array(z.strictObject({ name: z.string().min(1), description: z.string(), examples: z.array(z.string()).optional() }))
        .min(1),
      topK: positiveInt.optional(),
    }),
    z.strictObject({
      pattern: z.literal("orchestrator"),
      ...common,
      model: z.string().optional(),
      planner: ParticipantSchema.optional(),
      synthesizer: ParticipantSchema.optional(),
      workers: z.array(ParticipantSchema).min(1),
      planMode: z.enum(["full", "iterative"]).optional(),
      maxIterations: positiveInt.optional(),
      concurrency: positiveInt.optional(),
    }),
    z.strictObject({
      pattern: z.literal("evaluator-optimizer"),
      ...common,
      optimizer: ParticipantSchema,
      evaluator: ParticipantSchema,
      minRating: z.enum(["poor", "fair", "good", "excellent"]).optional(),
      maxRefinements: z.number().int().min(0).optional(),
    }),
    z
      .strictObject({
        pattern: z.literal("swarm"),
        ...common,
        agents: z.array(z.union([z.string().min(1), AgentSpecSchema.extend({ handoffs: z.array(z.string()).optional() })])).min(1),
        start: z.string().optional(),
        contextVariables: z.record(z.string(), z.string()).optional(),
        maxHandoffs: positiveInt.optional(),
        doneWhen: z.strictObject({ contextKey: z.string().optional(), textIncludes: z.string().optional() }).optional(),
      })
      // Names a swarm hands off by: checked when the spec is read, not when a run reaches them.
      .superRefine((swarm, ctx) => {
        const names = swarm.agents.map((agent) => (typeof agent === "string" ? agent : agent.name));
        const known = `its agents are ${names.join(", ")}`;
        names.forEach((name, index) => {
          if (names.indexOf(name) !== index) ctx.addIssue({ code: "custom", path: ["agents", index], message: `"${name}" is already one of the swarm's agents` });
        });
        if (swarm.start !== undefined && !names.includes(swarm.start)) ctx.addIssue({ code: "custom", path: ["start"], message: `no agent "${swarm.start}" in the swarm (${known})` });
        swarm.agents.forEach((agent, index) => {
          if (typeof agent === "string") return;
          agent.handoffs?.forEach((target, at) => {
            if (!names.includes(target)) ctx.addIssue({ code: "custom", path: ["agents", index, "handoffs", at], message: `no agent "${target}" in the swarm to hand off to (${known})` });
          });
        });
      }),
  ]),
);

/** Where each pattern keeps its participants: fields holding one, and fields holding a list. */
const participantFields: Record<PatternName, { one: string[]; many: string[] }> = {
  chain: { one: [], many: ["steps"] },
  parallel: { one: ["map", "fanIn"], many: ["branches"] },
  router: { one: [], many: ["candidates"] },
  "intent-classifier": { one: [], many: [] },
  orchestrator: { one: ["planner", "synthesizer"], many: ["workers"] },
  "evaluator-optimizer": { one: ["optimizer", "evaluator"], many: [] },
  swarm: { one: [], many: ["agents"] },
};

export function isPatternSpec(participant: Participant): participant is PatternSpec {
  return typeof participant === "object" && "pattern" in participant;
}

export function isFunctionRef(participant: Participant): participant is FunctionRef {
  return typeof participant === "object" && "function" in participant;
}

/**
 * Rebuilds a spec with every participant passed through `replace` (nested patterns included,
 * depth first). `path` locates the participant, for error messages.
 */
function mapParticipants(
  spec: PatternSpec,
  replace: (participant: Participant, path: Array<string | number>) => Participant,
  path: Array<string | number> = [],
): PatternSpec {
  const visit = (participant: Participant, at: Array<string | number>): Participant =>
    isPatternSpec(participant) ? mapParticipants(participant, replace, at) : replace(participant, at);
  const copy: Record<string, unknown> = { ...spec };
  const fields = participantFields[spec.pattern];
  for (const field of fields.one) {
    const value = copy[field] as Participant | undefined;
    if (value !== undefined) copy[field] = visit(value, [...path, field]);
  }
  for (const field of fields.many) {
    const list = copy[field] as Participant[] | undefined;
    if (list !== undefined) copy[field] = list.map((value, index) => visit(value, [...path, field, index]));
  }
  return copy as unknown as PatternSpec;
}

/** Every agent named by a string in `spec`, with where it is named. */
export function agentReferences(spec: PatternSpec): Array<{ name: string; path: Array<string | number> }> {
  const found: Array<{ name: string; path: Array<string | number> }> = [];
  mapParticipants(spec, (participant, path) => {
    if (typeof participant === "string") found.push({ name: participant, path });
    return participant;
  });
  return found;
}

/** Replaces agent names with the agents' specs, e.g. from the config's `agents:`. */
export function resolveAgentReferences(spec: PatternSpec, agents: Record<string, Omit<AgentSpec, "name">>): PatternSpec {
  return mapParticipants(spec, (participant) => {
    if (typeof participant !== "string") return participant;
    const agent = agents[participant];
    return agent ? { name: participant, ...agent } : participant;
  });
}
