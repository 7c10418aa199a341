/**
 * One scenario per pattern: a spec, an input and a scripted model that answers each participant
 * by the request's content (never by arrival order, which parallel branches make unpredictable).
 * The examples run them; the tests reuse them on both engines.
 */
import type { ScriptedCall, ScriptedTurn } from "../../src/testing/scripted-model-server.js";
import { textOf, type PatternSpec } from "../../src/workflows/index.js";
import "./functions.js";

export interface Scenario {
  description: string;
  spec: PatternSpec;
  input: string;
  script: (call: ScriptedCall) => ScriptedTurn;
}

export function lastUserText(call: ScriptedCall): string {
  const user = [...call.messages].reverse().find((message) => message.role === "user");
  return user ? textOf(user.content) : "";
}

const json = (value: unknown): ScriptedTurn => ({ text: JSON.stringify(value) });

function unexpected(call: ScriptedCall): never {
  throw new Error(`no scripted answer for system prompt ${JSON.stringify(call.system)}`);
}

/** The draft number an optimizer writes next: 1, then one more than the draft it refines. */
function nextDraft(prompt: string): number {
  const previous = /Previous response:\n[^\n]*draft (\d+)/.exec(prompt);
  return previous ? Number(previous[1]) + 1 : 1;
}

export const scenarios = {
  chain: {
    description: "outline → draft → a deterministic headline function, each step fed the previous output",
    spec: {
      pattern: "chain",
      name: "writer-chain",
      steps: [
        { name: "outliner", instruction: "You outline topics." },
        { name: "drafter", instruction: "You draft text from outlines." },
        { function: "headline" },
      ],
    },
    input: "durable agents",
    script: (call) => {
      if (call.system === "You outline topics.") return { text: `outline(${lastUserText(call)})` };
      if (call.system === "You draft text from outlines.") return { text: `draft(${lastUserText(call)})` };
      return unexpected(call);
    },
  },
  parallel: {
    description: "map six words through a translator, at most two at once, then fan in with a joiner agent",
    spec: {
      pattern: "parallel",
      name: "translate-all",
      map: { name: "translator", instruction: "You translate to French." },
      concurrency: 2,
      fanIn: { name: "joiner", instruction: "You join translations." },
    },
    input: JSON.stringify(["one", "two", "three", "four", "five", "six"]),
    script: (call) => {
      if (call.system === "You translate to French.") return { text: `fr(${lastUserText(call)})`, delayMs: 80 };
      if (call.system === "You join translations.") {
        const parts = [...lastUserText(call).matchAll(/fr\((\w+)\)/g)].map((match) => match[1]);
        return { text: `joined: ${parts.join(" ")}` };
      }
      return unexpected(call);
    },
  },
  router: {
    description: "a model ranks billing and tech agents; its invalid and duplicate choices are dropped; tech answers",
    spec: {
      pattern: "router",
      name: "support-router",
      topK: 2,
      candidates: [
        { name: "billing", instruction: "You handle billing questions." },
        { name: "tech", instruction: "You handle technical problems." },
      ],
    },
    input: "My laptop will not start",
    script: (call) => {
      if (call.system?.startsWith("You route")) {
        return json({
          choices: [
            { name: "ghost", confidence: 0.99, reasoning: "not a candidate" },
            { name: "tech", confidence: 0.8, reasoning: "a device problem" },
            { name: "billing", confidence: 0.2, reasoning: "unlikely" },
            { name: "tech", confidence: 0.1, reasoning: "duplicate" },
          ],
        });
      }
      if (call.system === "You handle technical problems.") return { text: `tech: hold the power button (${lastUserText(call)})` };
      if (call.system === "You handle billing questions.") return { text: "billing: see your invoice" };
      return unexpected(call);
    },
  },
  "intent-classifier": {
    description: "top-2 intents with confidence; an intent the model invents is dropped",
    spec: {
      pattern: "intent-classifier",
      name: "intents",
      topK: 2,
      intents: [
        { name: "greeting", description: "Says hello", examples: ["hi there"] },
        { name: "order_status", description: "Asks where an order is", examples: ["where is my parcel?"] },
        { name: "complaint", description: "Is unhappy with a product or service" },
      ],
    },
    input: "Where is my order? It is late and I am annoyed.",
    script: (call) => {
      if (call.system?.startsWith("You classify")) {
        return json({
          choices: [
            { name: "complaint", confidence: 0.6, reasoning: "annoyed" },
            { name: "refund", confidence: 0.9, reasoning: "invented" },
            { name: "order_status", confidence: 0.85, reasoning: "asks where the order is" },
          ],
        });
      }
      return unexpected(call);
    },
  },
  orchestrator: {
    description: "a planner assigns parallel tasks to named workers (its unknown worker is re-asked once), then synthesizes",
    spec: {
      pattern: "orchestrator",
      name: "research",
      workers: [
        { name: "researcher", instruction: "You find facts." },
        { name: "writer", instruction: "You write prose." },
      ],
    },
    input: "Explain durable execution",
    script: (call) => {
      if (call.system?.startsWith("You break objectives")) {
        const prompt = lastUserText(call);
        if (!call.responseFormat) return { text: `final answer from ${(prompt.match(/Result: /g) ?? []).length} results` };
        if (prompt.includes("unknown worker")) {
          return json({
            isComplete: false,
            steps: [
              {
                description: "gather and draft",
                tasks: [
                  { worker: "researcher", description: "find facts" },
                  { worker: "writer", description: "draft an intro" },
                ],
              },
            ],
          });
        }
        if (prompt.includes("(none yet)")) {
          return json({ isComplete: false, steps: [{ description: "edit", tasks: [{ worker: "editor", description: "edit it" }] }] });
        }
        return json({ isComplete: true, steps: [] });
      }
      if (call.system === "You find facts.") return { text: "fact: histories replay" };
      if (call.system === "You write prose.") return { text: "intro: runs survive crashes" };
      return unexpected(call);
    },
  },
  "evaluator-optimizer": {
    description: "write, rate, refine until excellent or two refinements; the best-rated draft wins",
    spec: {
      pattern: "evaluator-optimizer",
      name: "slogan-studio",
      optimizer: { name: "copywriter", instruction: "You write slogans." },
      evaluator: { name: "critic", instruction: "You rate slogans." },
      minRating: "excellent",
      maxRefinements: 2,
    },
    input: "A slogan for a durable agent runtime",
    script: (call) => {
      if (call.system === "You write slogans.") return { text: `slogan draft ${nextDraft(lastUserText(call))}` };
      if (call.system === "You rate slogans.") {
        const draft = /slogan draft (\d+)/.exec(lastUserText(call))?.[1];
        const rating = { "1": "fair", "2": "good", "3": "poor" }[draft ?? ""] ?? "poor";
        return json({ rating, feedback: `draft ${draft} is ${rating}`, focusAreas: ["punch"] });
      }
      return unexpected(call);
    },
  },
  swarm: {
    description: "triage hands the conversation to billing with a context variable; billing answers and the swarm ends",
    spec: {
      pattern: "swarm",
      name: "helpdesk",
      agents: [
        { name: "triage", instruction: "You triage requests." },
        { name: "billing", instruction: "You handle billing." },
      ],
      contextVariables: { customer: "ada" },
    },
    input: "I was charged twice",
    script: (call) => {
      if (call.system?.startsWith("You triage requests.")) {
        return { toolCalls: [{ name: "transfer_to_billing", arguments: { reason: "a charge", context: { account: "42" } } }] };
      }
      if (call.system?.startsWith("You handle billing.")) {
        const account = /"account":"(\w+)"/.exec(call.system)?.[1];
        return { text: `refunded account ${account} (tools: ${call.tools.join(",")})` };
      }
      return unexpected(call);
    },
  },
} satisfies Record<string, Scenario>;

export type ScenarioName = keyof typeof scenarios;

/**
 * The nested composition: an orchestrator delegates to an evaluator-optimizer (a child workflow)
 * whose optimizer is a parallel fan-out (a grandchild workflow).
 */
export const nestedScenario: Scenario = {
  description: "orchestrator → evaluator-optimizer → parallel, each nested pattern a child workflow",
  spec: {
    pattern: "orchestrator",
    name: "campaign",
    workers: [
      {
        pattern: "evaluator-optimizer",
        name: "studio",
        description: "writes and polishes slogans",
        asChildWorkflow: true,
        minRating: "good",
        maxRefinements: 1,
        evaluator: { name: "critic", instruction: "You rate slogans." },
        optimizer: {
          pattern: "parallel",
          name: "brainstorm",
          asChildWorkflow: true,
          branches: [
            { name: "poet", instruction: "You write poetic slogans." },
            { name: "punster", instruction: "You write punny slogans." },
          ],
          fanIn: { name: "picker", instruction: "You pick the best slogan." },
        },
      },
    ],
  },
  input: "Launch campaign for duragent",
  script: (call) => {
    const prompt = lastUserText(call);
    if (call.system?.startsWith("You break objectives")) {
      if (!call.responseFormat) return { text: `campaign ready: ${/Result: (.*)/.exec(prompt)?.[1] ?? "?"}` };
      if (prompt.includes("(none yet)")) {
        return json({ isComplete: false, steps: [{ description: "slogans", tasks: [{ worker: "studio", description: "write a slogan" }] }] });
      }
      return json({ isComplete: true, steps: [] });
    }
    if (call.system === "You write poetic slogans.") return { text: "poem" };
    if (call.system === "You write punny slogans.") return { text: "pun" };
    if (call.system === "You pick the best slogan.") return { text: "picked pun" };
    if (call.system === "You rate slogans.") return json({ rating: "good", feedback: "fine" });
    return unexpected(call);
  },
};
