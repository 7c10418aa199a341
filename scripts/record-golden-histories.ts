/**
 * Records the golden workflow histories that test/replay.test.ts replays against the current
 * workflow code, so a change that would break running workflows fails the tests.
 *
 *   node --import tsx scripts/record-golden-histories.ts [workflow id…]
 *
 * Re-record only when a change of shape is intended AND no run recorded with the old code can
 * still be open anywhere (otherwise keep the old history and guard the change with `patched()`;
 * see "Changing workflow code safely" in the README). It starts its own Temporal dev server, a
 * scripted model and the real MCP servers, so it needs no network and no API key. Each run has a
 * fixed workflow id, also its file's name, so re-recorded files keep their names and ids.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { finder } from "../examples/finder/agents.js";
import { demoModel } from "../src/testing/demo-model.js";
import { scenarios } from "../examples/patterns/scenarios.js";
import { textOf } from "../src/common/messages.js";
import { targetInput, workflowType, type RunHandle } from "../src/client/engine.js";
import type { RunTarget } from "../src/client/run-targets.js";
import { startScriptedModelServer, type ScriptedCall, type ScriptedTurn } from "../src/testing/scripted-model-server.js";
import { chatWorkflow, patternWorkflow } from "../src/workflows/builtin-workflows.js";
import { ChatMessages } from "../src/common/chat.js";
import { RunMessages } from "../src/common/run-status.js";
import type { DuragentWorkflow } from "../src/workflows/index.js";
import { saveHistory } from "../test/support/histories.js";
import { everythingServer, filesystemServer } from "../test/support/mcp-servers.js";
import { testConfig, withTemporalWorker } from "../test/support/runtime.js";
import type { TestWorkflowEnvironment } from "@temporalio/testing";
import { startTestTemporal } from "../test/support/temporal.js";
import type { RunSettings } from "../src/common/run-settings.js";
import { runSettingsFromConfig } from "../src/config/load-config.js";
import { TemporalEngine } from "../src/client/temporal-engine.js";

export const goldenDirectory = fileURLToPath(new URL("../test/golden-histories/", import.meta.url));
const finderDirectory = fileURLToPath(new URL("../examples/finder/", import.meta.url));
const countingServer = fileURLToPath(new URL("../test/fixtures/counting-mcp-server.ts", import.meta.url));

/** One recorded run: its workflow id (also its file name), what it starts and how a person takes part. */
interface GoldenRun {
  id: string;
  target: RunTarget;
  input: unknown;
  /** Started by signal-with-start, this signal coming in the run's first workflow task, before its handlers are set. */
  signalWithStart?: string;
  /** Plays the person's part while the run waits, e.g. answers its question. */
  steer?: (handle: RunHandle, env: TestWorkflowEnvironment) => Promise<void>;
  /** Started as `execute` starts a run: unwatched, its model calls plain until a status read. */
  unwatched?: boolean;
  /** Child runs recorded too, by their id within the run (`inner-1`), each as `<id>-<child>.json`. */
  children?: string[];
  /** The run is cancelled by its steer: its result is a cancellation, not an answer. */
  cancelled?: boolean;
  /** The run fails, as its story has it. */
  failed?: boolean;
  /** Run settings of its own, over the config's. */
  settings?: Partial<RunSettings>;
  /** The run continues as new once: its first run is recorded as `<id>.json`, the next as `<id>-next.json`. */
  continued?: boolean;
}

const parallel = scenarios.parallel;
const planner: RunTarget = { kind: "agent", name: "planner", agent: { name: "planner", instruction: "You plan trips.", humanInput: true } };
/** Asks its first question with a number where human_input wants text: refused before the tool runs, then asked again. */
const hastyPlanner: RunTarget = { kind: "agent", name: "hasty", agent: { name: "hasty", instruction: "You plan trips in a hurry.", humanInput: true } };

/** Drafts, then has the draft judged by an evaluator whose judgement is cut off at its token limit. */
const hastyReview: RunTarget = {
  kind: "pattern",
  name: "review",
  workflow: patternWorkflow as DuragentWorkflow,
  spec: {
    pattern: "evaluator-optimizer",
    name: "review",
    optimizer: { name: "drafter", instruction: "You draft." },
    evaluator: { name: "judge", instruction: "You judge in few words.", maxTokens: 20 },
  },
};

/** A draft judged by a panel: the evaluator is itself an evaluator-optimizer, asked for a structured evaluation. */
const panelReview: RunTarget = {
  kind: "pattern",
  name: "panel-review",
  workflow: patternWorkflow as DuragentWorkflow,
  spec: {
    pattern: "evaluator-optimizer",
    name: "panel-review",
    optimizer: { name: "drafter", instruction: "You draft." },
    evaluator: {
      pattern: "evaluator-optimizer",
      name: "panel",
      optimizer: { name: "judge", instruction: "You judge drafts." },
      evaluator: { name: "critic", instruction: "You critique judgements." },
    },
  },
};

/** Holds the scout's model call until the run is paused, so the child starts while its parent is paused. */
let releaseScout: (() => void) | undefined;
let scoutCalled: (() => void) | undefined;
const scoutCall = new Promise<void>((resolve) => (scoutCalled = resolve));
const scout: RunTarget = {
  kind: "pattern",
  name: "survey",
  workflow: patternWorkflow as DuragentWorkflow,
  spec: {
    pattern: "chain",
    name: "survey",
    steps: [
      { name: "scout", instruction: "You scout." },
      { pattern: "chain", name: "inner", asChildWorkflow: true, steps: [{ name: "writer", instruction: "You write." }] },
    ],
  },
};

/** Pauses the run while its first step is in flight, and resumes it once the step's result is in. */
async function pauseAcrossChildStart(handle: RunHandle, env: TestWorkflowEnvironment): Promise<void> {
  await scoutCall;
  await handle.pause();
  releaseScout?.();
  const history = env.client.workflow.getHandle(handle.runId);
  for (;;) {
    const events = (await history.fetchHistory()).events ?? [];
    const completed = events.findIndex((event) => event.activityTaskCompletedEventAttributes);
    if (completed >= 0 && events.slice(completed).some((event) => event.workflowTaskCompletedEventAttributes)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await handle.resume();
}

/** A question asked inside a child run, answered through its parent. */
const innerPlanner: RunTarget = {
  kind: "pattern",
  name: "trip",
  workflow: patternWorkflow as DuragentWorkflow,
  spec: {
    pattern: "chain",
    name: "trip",
    steps: [{ pattern: "chain", name: "inner", asChildWorkflow: true, steps: [{ name: "planner", instruction: "You plan trips.", humanInput: true }] }],
  },
};

/** Two branches, each a child run whose planner asks a person. */
const twoAskingBranches: RunTarget = {
  kind: "pattern",
  name: "trips",
  workflow: patternWorkflow as DuragentWorkflow,
  spec: {
    pattern: "parallel",
    name: "trips",
    failurePolicy: "collect",
    branches: ["north", "south"].map((name) => ({ pattern: "chain" as const, name, asChildWorkflow: true, steps: [{ name: "planner", instruction: "You plan trips.", humanInput: true }] })),
  },
};

/** Cancels the run once both of its branches wait for a person. */
async function cancelWhileAsking(handle: RunHandle): Promise<void> {
  while ((await handle.status()).pending.length < 2) await new Promise((resolve) => setTimeout(resolve, 50));
  await handle.cancel();
}

/** Two branches under failurePolicy fail: a child run whose planner asks a person, and an agent whose model refuses it. */
const askingAndBroken: RunTarget = {
  kind: "pattern",
  name: "fan",
  workflow: patternWorkflow as DuragentWorkflow,
  spec: {
    pattern: "parallel",
    name: "fan",
    branches: [{ pattern: "chain", name: "asking", asChildWorkflow: true, steps: [{ name: "planner", instruction: "You plan trips.", humanInput: true }] }, { name: "broken", instruction: "You break." }],
  },
};
let releaseBroken: (() => void) | undefined;

/**
 * Lets the broken branch fail once the other asks. A fan-out that fails fast cancels the asking
 * branch; one from before the patch waits for it, so the person answers.
 */
async function breakWhileAsking(handle: RunHandle, env: TestWorkflowEnvironment): Promise<void> {
  while ((await handle.status()).pending.length === 0 || !releaseBroken) await new Promise((resolve) => setTimeout(resolve, 50));
  releaseBroken();
  const history = env.client.workflow.getHandle(handle.runId);
  for (;;) {
    const events = (await history.fetchHistory()).events ?? [];
    if (events.some((event) => event.requestCancelExternalWorkflowExecutionInitiatedEventAttributes || event.workflowExecutionFailedEventAttributes)) return;
    const failed = events.findIndex((event) => event.activityTaskFailedEventAttributes);
    if (failed >= 0 && events.slice(failed).some((event) => event.workflowTaskCompletedEventAttributes)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await handle.answer({ value: "Lisbon" });
}

/** Echoes through a tool that needs approval; the person approves it with other arguments. */
const echoer: RunTarget = { kind: "agent", name: "echoer", agent: { name: "echoer", instruction: "You echo what you are told.", servers: ["everything"] } };

async function approveEdited(handle: RunHandle): Promise<void> {
  while ((await handle.status()).pending.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  await handle.approve({ arguments: { message: "Goodbye" } });
}

/** Echoes in a hurry: its first call's arguments do not fit the gated tool's schema, its second's do. */
const hastyEchoer: RunTarget = { kind: "agent", name: "hasty-echoer", agent: { name: "hasty-echoer", instruction: "You echo in a hurry.", servers: ["everything"] } };

/** Approves every call put to a person until the run ends: a run from before the check asks for the misfit one too. */
async function approveEach(handle: RunHandle): Promise<void> {
  let ended = false;
  void handle.result().then(
    () => (ended = true),
    () => (ended = true),
  );
  while (!ended) {
    const pending = (await handle.status()).pending;
    if (pending.length > 0) await handle.approve().catch(() => undefined);
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A swarm started with its caller's user id, whose agent's model tries to change it. */
const desk: RunTarget = {
  kind: "pattern",
  name: "desk",
  workflow: patternWorkflow as DuragentWorkflow,
  spec: { pattern: "swarm", name: "desk", agents: [{ name: "clerk", instruction: "You keep the desk." }], contextVariables: { userId: "u-42" } },
};

/** Adds for ever, with two turns: on its last, told to answer, its model calls the tool anyway. */
const endlessAdder: RunTarget = { kind: "agent", name: "endless-adder", agent: { name: "endless-adder", instruction: "You add for ever.", servers: ["everything"], maxIterations: 2 } };

/** Adds twice, a turn each, then answers. */
const adder: RunTarget = { kind: "agent", name: "adder", agent: { name: "adder", instruction: "You add in steps.", servers: ["everything"] } };

/** Calls a tool whose server dies on every call. */
const stepper: RunTarget = { kind: "agent", name: "stepper", agent: { name: "stepper", instruction: "You run the step you are told to.", servers: ["counting"] } };

/**
 * Approves the echo by signal, as another SDK's workflow can; runs from before the patch dropped
 * the signal, so the approval then goes by update.
 */
async function approveBySignal(handle: RunHandle, env: TestWorkflowEnvironment): Promise<void> {
  while ((await handle.status()).pending.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  await handle.signal(RunMessages.decide, { approved: true });
  const history = env.client.workflow.getHandle(handle.runId);
  for (;;) {
    const events = (await history.fetchHistory()).events ?? [];
    const signalled = events.findIndex((event) => event.workflowExecutionSignaledEventAttributes?.signalName === RunMessages.decide);
    if (signalled >= 0 && events.slice(signalled).some((event) => event.workflowTaskCompletedEventAttributes)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if ((await handle.status()).pending.length > 0) await handle.approve();
}

/** A chat whose end signal comes with its start. */
const chat: RunTarget = { kind: "workflow", name: "chatWorkflow", workflow: chatWorkflow as unknown as DuragentWorkflow };

/**
 * Ends the chat by its update if the end signal sent with the start did not: runs from before the
 * patch lost a signal that came before its handler.
 */
async function endUnlessEnded(handle: RunHandle, env: TestWorkflowEnvironment): Promise<void> {
  const history = env.client.workflow.getHandle(handle.runId);
  while (!((await history.fetchHistory()).events ?? []).some((event) => event.workflowTaskCompletedEventAttributes)) await new Promise((resolve) => setTimeout(resolve, 50));
  if ((await history.describe()).status.name === "RUNNING") await handle.update(ChatMessages.end);
}

async function answerLisbon(handle: RunHandle): Promise<void> {
  while ((await handle.status()).pending.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  await handle.answer({ value: "Lisbon" });
}

const runs: GoldenRun[] = [
  // The finder example: list tools of two servers, a model turn calling read_text_file, an answer.
  { id: "golden-finder-agent", target: { kind: "agent", name: finder.spec.name, agent: finder.spec }, input: "What does README.md say?" },
  // The model asks a person through the human_input tool; the answer arrives by Update.
  { id: "golden-human-input", target: planner, input: "Plan a trip.", steer: answerLisbon },
  // The same, started unwatched: the status reads while it waits send the duragent.watch signal,
  // so its first model call is plain and its second streams.
  { id: "golden-unwatched-human-input", target: planner, input: "Plan a trip.", steer: answerLisbon, unwatched: true },
  // The parallel pattern example: six branches, at most two at once, fanned in by a joiner.
  {
    id: "golden-parallel-pattern",
    target: { kind: "pattern", name: parallel.spec.name ?? "parallel", spec: parallel.spec, workflow: patternWorkflow as DuragentWorkflow },
    input: parallel.input,
  },
  // Paused while its first step is in flight: the child that comes next waits for the resume.
  { id: "golden-paused-child", target: scout, input: "Survey the bay.", steer: pauseAcrossChildStart },
  // A child run asks a person; the answer comes through its parent.
  { id: "golden-child-question", target: innerPlanner, input: "Plan a trip.", steer: answerLisbon, children: ["inner-1"] },
  // A fan-out cancelled while its child runs wait for people: the run ends cancelled, each child
  // telling it what it spent.
  { id: "golden-cancelled-fan-out", target: twoAskingBranches, input: "Plan two trips.", steer: cancelWhileAsking, cancelled: true, children: ["north-1", "south-1"] },
  // A local tool (human_input) called with arguments that do not fit its schema: refused, then
  // called again; only such a call records the check's patch.
  { id: "golden-misfit-local-tool", target: hastyPlanner, input: "Plan a trip.", steer: answerLisbon },
  // A structured answer (the evaluator's judgement) cut off at its token limit: the run fails at
  // once, recording the patch; `-v1`, recorded before it, made a repair round and failed after it.
  { id: "golden-structured-cut-off", target: hastyReview, input: "Draft a haiku.", failed: true },
  // A tool call that needs approval, approved with arguments the person changed: the model and the
  // transcript are told what ran, recording the patch; `-v1`, recorded before it, said nothing.
  { id: "golden-edited-approval", target: echoer, input: "Say hello.", steer: approveEdited },
  // A tool call whose server dies on every attempt: the model is told why and answers, recording
  // the patch; `-v1`, recorded before it, failed the run.
  { id: "golden-failed-tool", target: stepper, input: "Run the step." },
  // An evaluator-optimizer asked for a structured answer (here, as another's evaluator): since the
  // patch its optimizer answers in the provider's structured mode; `-v1`, before, answered in text.
  { id: "golden-eo-structured", target: panelReview, input: "Draft a haiku." },
  // An agent whose tool loop passes agentTurnsPerRun: two turns, then the third in a new run.
  { id: "golden-agent-continues", target: adder, input: "Add in steps.", settings: { agentTurnsPerRun: 2 }, continued: true },
  // A fan-out under failurePolicy fail whose one branch fails while the other waits for a person:
  // the waiting branch is cancelled (patch duragent-parallel-fails-fast), the run fails.
  { id: "golden-parallel-fails-fast", target: askingAndBroken, input: "Plan a trip.", steer: breakWhileAsking, failed: true, children: ["asking-1"] },
  // An approval sent as a signal (duragent-decide-by-signal).
  { id: "golden-decided-by-signal", target: echoer, input: "Say hello.", steer: approveBySignal },
  // A gated call whose arguments surely do not fit is refused before anyone is asked (duragent-gated-arguments-checked).
  { id: "golden-gated-misfit", target: hastyEchoer, input: "Say hello.", steer: approveEach },
  // A swarm's model may not change the context variables its caller started it with (duragent-swarm-caller-context-kept).
  { id: "golden-swarm-caller-context", target: desk, input: "Who am I?" },
  // Tool calls the model makes on its last allowed turn are not run (duragent-last-turn-calls-not-run).
  { id: "golden-last-turn-calls", target: endlessAdder, input: "Add." },
  // A chat ended by a signal sent with its start: delivered to the handler set after it (duragent-early-signals).
  { id: "golden-early-signal", target: chat, input: { agent: { name: "writer", instruction: "You write." } }, signalWithStart: ChatMessages.end, steer: endUnlessEnded },
];

/** Answers each run by its system prompt: the finder's offline model, the trip planner, the pattern's script. */
function goldenModel(call: ScriptedCall): ScriptedTurn | Promise<ScriptedTurn> {
  if (call.system === finder.spec.instruction) return demoModel(call);
  if (call.system === "You plan trips.") {
    const answer = call.messages.findLast((message) => message.role === "tool");
    if (!answer) return { toolCalls: [{ id: "call_ask", name: "human_input", arguments: { question: "Which city?" } }] };
    return { text: `A weekend in ${textOf(answer.content)}.` };
  }
  if (call.system === "You plan trips in a hurry.") {
    const results = call.messages.filter((message) => message.role === "tool");
    if (results.length === 0) return { toolCalls: [{ id: "call_misfit", name: "human_input", arguments: { question: 42 } }] };
    if (results.length === 1) return { toolCalls: [{ id: "call_ask", name: "human_input", arguments: { question: "Which city?" } }] };
    return { text: `A weekend in ${textOf(results.at(-1)!.content)}.` };
  }
  if (call.system === "You scout.") {
    scoutCalled?.();
    return new Promise((resolve) => (releaseScout = () => resolve({ text: "The bay is calm." })));
  }
  if (call.system === "You echo what you are told.") {
    const echoed = call.messages.findLast((message) => message.role === "tool");
    if (!echoed) return { toolCalls: [{ id: "call_echo", name: "everything_echo", arguments: { message: "Hello" } }] };
    return { text: `The tool said: ${textOf(echoed.content)}` };
  }
  if (call.system === "You echo in a hurry.") {
    const results = call.messages.filter((message) => message.role === "tool");
    if (results.length === 0) return { toolCalls: [{ id: "call_misfit", name: "everything_echo", arguments: { message: 42 } }] };
    if (results.length === 1) return { toolCalls: [{ id: "call_echo", name: "everything_echo", arguments: { message: "Hello" } }] };
    return { text: `The tool said: ${textOf(results.at(-1)!.content)}` };
  }
  if (call.system?.startsWith("You keep the desk.")) {
    const result = call.messages.findLast((message) => message.role === "tool");
    if (!result) return { toolCalls: [{ id: "call_forge", name: "set_context_variables", arguments: { variables: { userId: "admin", mood: "calm" } } }] };
    return { text: `Context: ${/Shared context variables: (.*)$/m.exec(call.system)?.[1] ?? "none"}` };
  }
  if (call.system === "You add for ever.") {
    const sums = call.messages.filter((message) => message.role === "tool").length;
    return { toolCalls: [{ id: `call_sum_${sums + 1}`, name: "everything_get-sum", arguments: { a: sums + 1, b: 2 } }] };
  }
  if (call.system === "You run the step you are told to.") {
    const result = call.messages.findLast((message) => message.role === "tool");
    if (!result) return { toolCalls: [{ id: "call_crash", name: "counting_crash_step", arguments: { label: "one" } }] };
    return { text: `The step failed: ${textOf(result.content)}` };
  }
  if (call.system === "You add in steps.") {
    const sums = call.messages.filter((message) => message.role === "tool").length;
    if (sums < 2) return { toolCalls: [{ id: `call_sum_${sums + 1}`, name: "everything_get-sum", arguments: { a: sums + 1, b: 2 } }] };
    return { text: "The sums are in." };
  }
  if (call.system === "You break.") return new Promise((resolve) => (releaseBroken = () => resolve({ error: { status: 400, message: "This model does not exist." } })));
  if (call.system === "You write.") return { text: "A calm bay." };
  if (call.system === "You draft.") return { text: "Autumn wind / a ferry crosses / the town waits." };
  if (call.system === "You judge drafts.") return { text: '{"rating": "good", "feedback": "A clear image."}' };
  if (call.system === "You critique judgements.") return { text: '{"rating": "excellent", "feedback": "Fair and brief."}' };
  if (call.system === "You judge in few words.") return { text: '{"rating": "good", "feedback": "A clear image, but the', stopReason: "max_tokens" };
  return parallel.script(call);
}

/** Records every run, or those whose ids are given. */
export async function recordGoldenHistories(directory = goldenDirectory, ids: string[] = []): Promise<string[]> {
  mkdirSync(directory, { recursive: true });
  const [env, model] = await Promise.all([startTestTemporal(), startScriptedModelServer(goldenModel)]);
  const filesystem = { ...filesystemServer("."), cwd: finderDirectory };
  const config = testConfig(model, {
    llm: { defaultModel: "openai:scripted" },
    mcp: { servers: { filesystem, everything: everythingServer(), counting: { command: process.execPath, args: ["--import", "tsx", countingServer, join(mkdtempSync(join(tmpdir(), "golden-")), "counting.log")] } } },
    approvals: { tools: ["everything_echo"] },
  });
  try {
    return await withTemporalWorker(env, config, async (configured, workerConfig) => {
      const files: string[] = [];
      for (const run of runs.filter((candidate) => ids.length === 0 || ids.includes(candidate.id))) {
        const engine = run.settings ? await TemporalEngine.connect(workerConfig, { ...runSettingsFromConfig(workerConfig), ...run.settings }) : configured;
        const handle = run.signalWithStart
          ? await env.client.workflow
              .signalWithStart(workflowType(run.target), {
                workflowId: run.id,
                taskQueue: workerConfig.temporal.taskQueue,
                args: [{ input: targetInput(run.target, run.input), settings: runSettingsFromConfig(workerConfig) }],
                signal: run.signalWithStart,
              })
              .then(() => engine.getHandle(run.id))
          : await engine.start(run.target, run.input, { runId: run.id, ...(run.unwatched ? { watch: false } : {}) });
        await run.steer?.(handle, env);
        await handle.result().then(
          () => {
            if (run.failed) throw new Error(`${run.id} was to fail, and completed`);
          },
          (error: unknown) => {
            if (!run.cancelled && !run.failed) throw error;
          },
        );
        if (engine !== configured) await engine.close();
        const file = join(directory, `${run.id}.json`);
        if (run.continued) {
          const chain: { runId: string; startTime: Date }[] = [];
          for await (const execution of env.client.workflow.list({ query: `WorkflowId = '${run.id}'` })) chain.push(execution);
          const [first, next] = chain.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
          if (!first || !next || chain.length !== 2) throw new Error(`${run.id} was to continue as new once, and made ${chain.length} runs`);
          saveHistory(file, await env.client.workflow.getHandle(run.id, first.runId).fetchHistory());
          const nextFile = join(directory, `${run.id}-next.json`);
          saveHistory(nextFile, await env.client.workflow.getHandle(run.id, next.runId).fetchHistory());
          files.push(file, nextFile);
          continue;
        }
        saveHistory(file, await env.client.workflow.getHandle(run.id).fetchHistory());
        files.push(file);
        for (const child of run.children ?? []) {
          const childFile = join(directory, `${run.id}-${child}.json`);
          saveHistory(childFile, await env.client.workflow.getHandle(`${run.id}/${child}`).fetchHistory());
          files.push(childFile);
        }
      }
      if (model.errors.length > 0) throw new Error(`the scripted model reported: ${model.errors.join("; ")}`);
      return files;
    });
  } finally {
    await model.close();
    await env.teardown();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  recordGoldenHistories(goldenDirectory, process.argv.slice(2)).then(
    (files) => console.log(`recorded ${files.length} golden histories:\n${files.join("\n")}`),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
