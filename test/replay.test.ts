/**
 * Determinism safety: golden histories recorded from the examples (an agent with tool calls, a
 * question to a person, a parallel pattern) replay against the current workflow code. A change
 * of shape fails here before it can break runs in flight; the same change behind `patched()`
 * replays. Re-record with `node --import tsx scripts/record-golden-histories.ts`.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { before, describe, test } from "node:test";
import { DefaultLogger, Runtime, Worker, bundleWorkflowCode, type WorkflowBundle } from "@temporalio/worker";
import { DeterminismViolationError } from "@temporalio/workflow";
import { quietBundlerLogger } from "../src/worker/workflow-bundle.js";
import { bundleWorkflows } from "./support/runtime.js";
import { loadHistory } from "./support/histories.js";
import { workflowPromises } from "../src/testing/workflow-promises.js";

const goldenDirectory = fileURLToPath(new URL("./golden-histories/", import.meta.url));
const goldenFiles = readdirSync(goldenDirectory)
  .filter((name) => name.endsWith(".json"))
  .sort()
  .map((name) => join(goldenDirectory, name));

/** A bundle of one fixture module, which registers its own `agentWorkflow` in place of the real one. */
function fixtureBundle(name: string): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath: fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), logger: quietBundlerLogger });
}

/** A recorded run's own workflow id (child ids derive from it), from the start event or else the file name. */
function workflowIdOf(history: ReturnType<typeof loadHistory>, file: string): string {
  return history.events[0]?.workflowExecutionStartedEventAttributes?.workflowId || basename(file, ".json");
}

function replay(bundle: WorkflowBundle, file: string): Promise<void> {
  const history = loadHistory(file);
  return Worker.runReplayHistory({ workflowBundle: bundle }, history, workflowIdOf(history, file));
}

type HistoryEvent = ReturnType<typeof loadHistory>["events"][number];

/** A golden history's story: its activities and patches in order, and what `more` says of the other events. */
function stepsAndPatches(name: string, more: (event: HistoryEvent) => string[]): string[] {
  return loadHistory(join(goldenDirectory, name)).events.flatMap((event) => {
    const patch = event.markerRecordedEventAttributes?.markerName === "core_patch" ? event.markerRecordedEventAttributes.details?.["patch-data"]?.payloads?.[0]?.data : undefined;
    if (patch) return [`patch ${(JSON.parse(Buffer.from(patch).toString("utf8")) as { id: string }).id}`];
    if (event.activityTaskScheduledEventAttributes) return [event.activityTaskScheduledEventAttributes.activityType?.name ?? "activity"];
    return more(event);
  });
}

/** No golden history records a patch whose data holds `fragment` but those whose names hold `owners`. */
function assertPatchOnlyIn(fragment: string, owners: string): void {
  for (const file of goldenFiles.filter((name) => !name.includes(owners))) {
    assert.ok(!loadHistory(file).events.some((event) => event.markerRecordedEventAttributes?.details?.["patch-data"]?.payloads?.some((payload) => Buffer.from(payload.data ?? []).toString("utf8").includes(fragment))), file);
  }
}

describe("golden histories replay against the current workflow code", () => {
  let current: WorkflowBundle;
  let changed: WorkflowBundle;
  let patched: WorkflowBundle;

  before(async () => {
    // The negative tests provoke nondeterminism on purpose; the core would log each one as a warning.
    if (!Runtime._instance) {
      Runtime.install({ logger: new DefaultLogger("ERROR"), telemetryOptions: { logging: { filter: { core: "ERROR", other: "ERROR" } } } });
    }
    [current, changed, patched] = await Promise.all([
      bundleWorkflows([]),
      fixtureBundle("changed-agent-workflow.ts"),
      fixtureBundle("patched-agent-workflow.ts"),
    ]);
  });

  // The current recordings and those of the code before them (for runs that may still be open):
  // each must be there and replay. Any other file in the folder replays too.
  const scenarios = ["finder-agent", "human-input", "parallel-pattern"];
  const expected = scenarios.flatMap((name) => [`golden-${name}.json`, ...[3, 2, 1].map((era) => `golden-${name}-v${era}.json`)]);
  for (const name of new Set([...expected, ...goldenFiles.map((file) => basename(file))])) {
    test(`${name} replays`, async () => {
      await replay(current, join(goldenDirectory, name));
    });
  }

  test("how each era of runs lists its tools: in the first model call, by a local activity per server, by an activity per server", () => {
    const eras = [
      ["golden-finder-agent.json", "first model call"],
      ["golden-finder-agent-v3.json", "first model call"],
      ["golden-finder-agent-v2.json", "local activities"],
      ["golden-finder-agent-v1.json", "activities"],
    ] as const;
    for (const [name, era] of eras) {
      const events = loadHistory(join(goldenDirectory, name)).events;
      const scheduled = events.map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name).filter(Boolean);
      const markers = events.filter((event) => event.markerRecordedEventAttributes?.markerName === "core_local_activity").length;
      const firstCallResult = events.find((event) => event.activityTaskCompletedEventAttributes)?.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
      const listedByCall = Buffer.from(firstCallResult?.data ?? []).toString("utf8").includes('"toolLists"');
      assert.equal(scheduled[0], era === "activities" ? "listTools" : "callLlm", name);
      assert.equal(markers, era === "local activities" ? 2 : 0, `${name}: local listTools markers`);
      assert.equal(listedByCall, era === "first model call", `${name}: tool lists in the first call's result`);
    }
  });

  test("a run started unwatched is recorded with a plain first model call, the watch signal a status read sent, then a streamed one", () => {
    const events = loadHistory(join(goldenDirectory, "golden-unwatched-human-input.json")).events;
    const story = events.flatMap((event) => {
      const scheduled = event.activityTaskScheduledEventAttributes;
      if (scheduled?.activityType?.name === "callLlm") {
        const input = JSON.parse(Buffer.from(scheduled.input?.payloads?.[0]?.data ?? []).toString("utf8")) as { unwatched?: boolean };
        return [input.unwatched ? "plain model call" : "streamed model call"];
      }
      const signal = event.workflowExecutionSignaledEventAttributes?.signalName;
      return signal ? [`signal ${signal}`] : [];
    });
    assert.deepEqual(story, ["plain model call", "signal duragent.watch", "streamed model call"]);
  });

  test("a child run due while its parent is paused: runs before the patch started it at once, runs since wait for the resume", () => {
    const story = (name: string) =>
      loadHistory(join(goldenDirectory, name)).events.flatMap((event) => {
        const signal = event.workflowExecutionSignaledEventAttributes?.signalName;
        if (signal) return [signal];
        if (event.markerRecordedEventAttributes?.markerName === "core_patch") return ["patch"];
        return event.startChildWorkflowExecutionInitiatedEventAttributes ? ["child started"] : [];
      });
    assert.deepEqual(story("golden-paused-child-v1.json"), ["duragent.pause", "child started", "duragent.resume"]);
    assert.deepEqual(story("golden-paused-child.json"), ["duragent.pause", "patch", "duragent.resume", "child started"]);
  });

  test("a child run that asks a person: runs before the patches kept it to themselves, then told their parent, and since the parent waits with them", () => {
    const story = (name: string) =>
      loadHistory(join(goldenDirectory, name)).events.flatMap((event) => {
        if (event.markerRecordedEventAttributes?.markerName === "core_patch") return ["patch"];
        if (event.signalExternalWorkflowExecutionInitiatedEventAttributes) return ["tells its parent"];
        if (event.workflowExecutionSignaledEventAttributes) return [`signal ${event.workflowExecutionSignaledEventAttributes.signalName}`];
        const phase = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.DuragentPhase?.data;
        if (phase) return [`phase ${JSON.parse(Buffer.from(phase).toString("utf8")) as string}`];
        return event.workflowExecutionUpdateCompletedEventAttributes ? ["answered"] : [];
      });
    assert.deepEqual(story("golden-child-question-v1-inner-1.json"), ["phase waiting_input", "answered", "phase running", "phase completed"]);
    assert.deepEqual(story("golden-child-question-v1.json"), ["phase completed"]);
    const child = ["patch", "tells its parent", "phase waiting_input", "answered", "tells its parent", "phase running", "phase completed"];
    assert.deepEqual(story("golden-child-question-v2-inner-1.json"), child);
    assert.deepEqual(story("golden-child-question-v2.json"), ["signal duragent.childWaits", "signal duragent.childWaits", "phase completed"]);
    assert.deepEqual(story("golden-child-question-inner-1.json"), child);
    assert.deepEqual(story("golden-child-question.json"), ["signal duragent.childWaits", "patch", "phase waiting_input", "signal duragent.childWaits", "phase running", "phase completed"]);
  });

  test("a local tool called with arguments that do not fit its schema: the check's patch is recorded at that call, and only there", () => {
    const story = stepsAndPatches("golden-misfit-local-tool.json", (event) => (event.workflowExecutionUpdateCompletedEventAttributes ? ["answered"] : []));
    assert.deepEqual(story, ["callLlm", "patch duragent-local-tool-arguments-checked", "callLlm", "answered", "callLlm"]);
    assertPatchOnlyIn("local-tool", "misfit");
  });

  test("a structured answer cut off at its token limit: runs before the patch made a repair round, runs since fail at once, recording the patch there and only there", () => {
    const story = (name: string) => stepsAndPatches(name, (event) => (event.workflowExecutionFailedEventAttributes ? ["failed"] : []));
    // The drafter's call, the judge's, then (before) the judge's repair.
    assert.deepEqual(story("golden-structured-cut-off-v1.json"), ["callLlm", "callLlm", "callLlm", "failed"]);
    assert.deepEqual(story("golden-structured-cut-off.json"), ["callLlm", "callLlm", "patch duragent-structured-cut-off-fails", "failed"]);
    assertPatchOnlyIn("cut-off", "structured-cut-off");
  });

  test("an evaluator-optimizer asked for a structured answer: runs since the patch have its optimizer answer in structured mode, recording the patch there and only there", () => {
    const story = (name: string) => stepsAndPatches(name, (event) => (event.workflowExecutionCompletedEventAttributes ? ["completed"] : []));
    // The drafter's call, then the panel's: its judge's, its critic's.
    assert.deepEqual(story("golden-eo-structured-v1.json"), ["callLlm", "callLlm", "callLlm", "completed"]);
    assert.deepEqual(story("golden-eo-structured.json"), ["callLlm", "patch duragent-eo-structured-optimizer", "callLlm", "callLlm", "completed"]);
    assertPatchOnlyIn("eo-structured-optimizer", "eo-structured");
  });

  test("a fan-out under failurePolicy fail whose branch fails while another waits for a person: runs since the patch cancel the waiting branch at once, recording the patch there and only there", () => {
    // Other patches (the parent's phase) are told elsewhere.
    const story = (name: string) =>
      stepsAndPatches(name, (event) =>
        event.startChildWorkflowExecutionInitiatedEventAttributes ? ["child"] : event.activityTaskFailedEventAttributes ? ["step failed"] : event.requestCancelExternalWorkflowExecutionInitiatedEventAttributes ? ["cancel child"] : event.workflowExecutionUpdateAcceptedEventAttributes ? ["answered"] : event.workflowExecutionFailedEventAttributes ? ["failed"] : [],
      ).filter((entry) => !entry.startsWith("patch ") || entry.endsWith("fails-fast"));
    // Before: the broken branch's failure waits for the person's answer and the child's end.
    assert.deepEqual(story("golden-parallel-fails-fast-v1.json").filter((entry) => entry !== "answered"), ["child", "callLlm", "step failed", "failed"]);
    assert.ok(story("golden-parallel-fails-fast-v1-asking-1.json").includes("answered"));
    assert.deepEqual(story("golden-parallel-fails-fast.json"), ["child", "callLlm", "step failed", "patch duragent-parallel-fails-fast", "cancel child", "failed"]);
    assert.ok(!story("golden-parallel-fails-fast-asking-1.json").includes("answered"));
    assertPatchOnlyIn("parallel-fails-fast", "parallel-fails-fast");
  });

  test("a signal sent with a run's start, before workflow code sets its handler: runs before the patch lost it, runs since take it, recording the patch there and only there", () => {
    const story = (name: string) =>
      stepsAndPatches(name, (event) => (event.workflowExecutionSignaledEventAttributes ? ["signal"] : event.workflowExecutionUpdateCompletedEventAttributes ? ["ended by update"] : event.workflowExecutionCompletedEventAttributes ? ["completed"] : []));
    assert.deepEqual(story("golden-early-signal-v1.json"), ["signal", "ended by update", "completed"]);
    assert.deepEqual(story("golden-early-signal.json"), ["signal", "patch duragent-early-signals", "completed"]);
    assertPatchOnlyIn("early-signals", "early-signal");
  });

  test("an approval sent as a signal: runs before the patch dropped it (approved by update after), runs since take it, recording the patch there and only there", () => {
    const story = (name: string) =>
      stepsAndPatches(name, (event) => (event.workflowExecutionSignaledEventAttributes?.signalName === "duragent.decide" ? ["signal"] : event.workflowExecutionUpdateCompletedEventAttributes ? ["approved by update"] : []));
    assert.deepEqual(story("golden-decided-by-signal-v1.json"), ["callLlm", "signal", "approved by update", "callTool", "callLlm"]);
    assert.deepEqual(story("golden-decided-by-signal.json"), ["callLlm", "signal", "patch duragent-decide-by-signal", "callTool", "callLlm"]);
    assertPatchOnlyIn("decide-by-signal", "decided-by-signal");
  });

  test("an agent run whose tool loop passes agentTurnsPerRun continues as new between two turns, recording the patch there and only there; the next run carries the conversation on", () => {
    const story = (name: string) =>
      stepsAndPatches(name, (event) => (event.workflowExecutionContinuedAsNewEventAttributes ? ["continued"] : event.workflowExecutionCompletedEventAttributes ? ["completed"] : []));
    assert.deepEqual(story("golden-agent-continues.json"), ["callLlm", "callTool", "callLlm", "callTool", "patch duragent-agent-continues-as-new", "continued"]);
    assert.deepEqual(story("golden-agent-continues-next.json"), ["callLlm", "completed"]);
    const started = loadHistory(join(goldenDirectory, "golden-agent-continues-next.json")).events[0]?.workflowExecutionStartedEventAttributes;
    const input = JSON.parse(Buffer.from(started?.input?.payloads?.[0]?.data ?? []).toString("utf8")) as { input: { carried: { turns: number; run: number; messages: unknown[] } } };
    assert.deepEqual({ turns: input.input.carried.turns, run: input.input.carried.run, messages: input.input.carried.messages.length }, { turns: 2, run: 2, messages: 5 });
    assertPatchOnlyIn("agent-continues-as-new", "agent-continues");
  });

  test("a call approved with arguments a person changed: runs since the patch tell the model and the transcript what ran, recording the patch there and only there", () => {
    const story = (name: string) => stepsAndPatches(name, (event) => (event.workflowExecutionUpdateCompletedEventAttributes ? ["approved"] : []));
    assert.deepEqual(story("golden-edited-approval-v1.json"), ["callLlm", "approved", "callTool", "callLlm"]);
    assert.deepEqual(story("golden-edited-approval.json"), ["callLlm", "approved", "patch duragent-edited-arguments-told", "callTool", "callLlm"]);
    const answer = (name: string) => {
      const completed = loadHistory(join(goldenDirectory, name)).events.find((event) => event.workflowExecutionCompletedEventAttributes)?.workflowExecutionCompletedEventAttributes;
      return (JSON.parse(Buffer.from(completed?.result?.payloads?.[0]?.data ?? []).toString("utf8")) as { text: string }).text;
    };
    assert.equal(answer("golden-edited-approval-v1.json"), "The tool said: Echo: Goodbye");
    assert.equal(answer("golden-edited-approval.json"), 'The tool said: A person changed the arguments before the call ran; it ran with {"message":"Goodbye"}.\nEcho: Goodbye');
    assertPatchOnlyIn("edited-arguments", "edited-approval");
  });

  test("a swarm's model trying to change its caller's context variables: runs since the patch keep them, recording the patch there and only there", () => {
    const context = (name: string) => {
      const completed = loadHistory(join(goldenDirectory, name)).events.find((event) => event.workflowExecutionCompletedEventAttributes)?.workflowExecutionCompletedEventAttributes;
      return (JSON.parse(Buffer.from(completed?.result?.payloads?.[0]?.data ?? []).toString("utf8")) as { swarm: { contextVariables: Record<string, string> } }).swarm.contextVariables;
    };
    assert.deepEqual(context("golden-swarm-caller-context-v1.json"), { userId: "admin", mood: "calm" });
    assert.deepEqual(context("golden-swarm-caller-context.json"), { userId: "u-42", mood: "calm" });
    assert.deepEqual(stepsAndPatches("golden-swarm-caller-context.json", () => []), ["callLlm", "patch duragent-swarm-caller-context-kept", "callLlm"]);
    assertPatchOnlyIn("swarm-caller-context", "swarm-caller-context");
  });

  test("tool calls a model makes on its last allowed turn: runs since the patch do not run them, recording the patch there and only there", () => {
    const story = (name: string) => stepsAndPatches(name, (event) => (event.workflowExecutionCompletedEventAttributes ? ["completed"] : []));
    assert.deepEqual(story("golden-last-turn-calls-v1.json"), ["callLlm", "callTool", "callLlm", "callTool", "completed"]);
    assert.deepEqual(story("golden-last-turn-calls.json"), ["callLlm", "callTool", "callLlm", "patch duragent-last-turn-calls-not-run", "completed"]);
    assertPatchOnlyIn("last-turn-calls", "last-turn-calls");
  });

  test("a gated call whose arguments surely do not fit: runs since the patch refuse it before asking anyone, recording the patch there and only there", () => {
    const story = (name: string) => stepsAndPatches(name, (event) => (event.workflowExecutionUpdateCompletedEventAttributes ? ["approved"] : []));
    assert.deepEqual(story("golden-gated-misfit-v1.json"), ["callLlm", "approved", "callTool", "callLlm", "approved", "callTool", "callLlm"]);
    assert.deepEqual(story("golden-gated-misfit.json"), ["callLlm", "patch duragent-gated-arguments-checked", "callLlm", "approved", "callTool", "callLlm"]);
    assertPatchOnlyIn("gated-arguments", "gated-misfit");
  });

  test("a tool call whose server died on every attempt: runs before the patch failed, runs since tell the model why and go on, recording the patch there and only there", () => {
    const story = (name: string) =>
      stepsAndPatches(name, (event) => (event.workflowExecutionFailedEventAttributes ? ["failed"] : event.workflowExecutionCompletedEventAttributes ? ["completed"] : []));
    assert.deepEqual(story("golden-failed-tool-v1.json"), ["callLlm", "callTool", "failed"]);
    assert.deepEqual(story("golden-failed-tool.json"), ["callLlm", "callTool", "patch duragent-failed-tool-told", "callLlm", "completed"]);
    assertPatchOnlyIn("failed-tool", "failed-tool");
  });

  test("a fan-out cancelled while its child runs wait: runs before the patch completed with the branches collected as failed, runs since end cancelled, and hear what their children spent", () => {
    const story = (name: string) =>
      loadHistory(join(goldenDirectory, name)).events.flatMap((event) => {
        const patch = event.markerRecordedEventAttributes?.markerName === "core_patch" ? event.markerRecordedEventAttributes.details?.["patch-data"]?.payloads?.[0]?.data : undefined;
        if (patch) return [`patch ${(JSON.parse(Buffer.from(patch).toString("utf8")) as { id: string }).id}`];
        const phase = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.DuragentPhase?.data;
        if (phase) return [`phase ${JSON.parse(Buffer.from(phase).toString("utf8")) as string}`];
        if (event.workflowExecutionCancelRequestedEventAttributes) return ["cancel requested"];
        if (event.signalExternalWorkflowExecutionInitiatedEventAttributes) return [`tells its parent ${event.signalExternalWorkflowExecutionInitiatedEventAttributes.signalName}`];
        if (event.workflowExecutionSignaledEventAttributes) return [`signal ${event.workflowExecutionSignaledEventAttributes.signalName}`];
        if (event.workflowExecutionCompletedEventAttributes) return ["completed"];
        return event.workflowExecutionCanceledEventAttributes ? ["cancelled"] : [];
      });
    const withoutSignals = (name: string) => story(name).filter((entry) => !entry.startsWith("signal"));
    // Recorded on 859f044, before both patches.
    assert.deepEqual(withoutSignals("golden-cancelled-fan-out-v1.json"), ["cancel requested", "phase completed", "completed"]);
    // The parent waits with its children, and once cancelled goes straight to its end, not back to running.
    const parent = ["patch duragent-parent-phase-follows-children", "phase waiting_input", "cancel requested", "patch duragent-parallel-cancel-ends-run", "phase cancelled", "cancelled"];
    assert.deepEqual(withoutSignals("golden-cancelled-fan-out-v2.json"), parent);
    assert.deepEqual(withoutSignals("golden-cancelled-fan-out-v3.json"), parent);
    // Since the next patches each cancelled child tells its parent what it spent, before it ends
    // (v3, a build never released, told a parent that did not yet mark that it counts it), and the
    // parent marks, at the first report, that it counts them: a replay by other code counts as it did.
    assert.deepEqual(story("golden-cancelled-fan-out-v2.json").filter((entry) => entry.includes("childUsage")), []);
    assert.deepEqual(story("golden-cancelled-fan-out-v3.json").filter((entry) => entry.includes("childUsage")), ["signal duragent.childUsage", "signal duragent.childUsage"]);
    const counted = story("golden-cancelled-fan-out.json").filter((entry) => entry.includes("childUsage") || entry === "patch duragent-parent-counts-child-usage");
    assert.deepEqual(counted, ["signal duragent.childUsage", "patch duragent-parent-counts-child-usage", "signal duragent.childUsage"]);
    assert.deepEqual(withoutSignals("golden-cancelled-fan-out.json").filter((entry) => entry !== "patch duragent-parent-counts-child-usage"), parent);
    const afterCancel = (child: string) => story(child).slice(story(child).indexOf("cancel requested") + 1).filter((entry) => !entry.startsWith("phase"));
    for (const branch of ["north-1", "south-1"]) {
      assert.deepEqual(afterCancel(`golden-cancelled-fan-out-v2-${branch}.json`), ["cancelled"], branch);
      for (const era of ["-v3", ""]) {
        assert.deepEqual(afterCancel(`golden-cancelled-fan-out${era}-${branch}.json`), ["patch duragent-child-reports-usage-at-end", "tells its parent duragent.childUsage", "cancelled"], branch);
      }
    }
  });

  test("runs started with fewerTurns replay through a fifth fewer promises than the same runs without", async () => {
    // In the sandbox every promise costs the worker a stack trace (Temporal's hook), so the count
    // is what the worker pays for.
    const count = (file: string): Promise<number> => {
      const history = loadHistory(file);
      return workflowPromises(current, history, workflowIdOf(history, file));
    };
    const settingsOf = (file: string) => {
      const input = loadHistory(file).events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
      return (JSON.parse(Buffer.from(input ?? []).toString("utf8")) as { settings: { fewerTurns?: boolean } }).settings;
    };
    let before = 0;
    let after = 0;
    for (const name of scenarios) {
      const [now, then] = [join(goldenDirectory, `golden-${name}.json`), join(goldenDirectory, `golden-${name}-v3.json`)];
      assert.equal(settingsOf(now).fewerTurns, true, name);
      assert.equal(settingsOf(then).fewerTurns, undefined, name);
      const [fewer, recorded] = [await count(now), await count(then)];
      assert.ok(fewer < recorded, `${name}: ${fewer} promises with fewerTurns, ${recorded} without`);
      after += fewer;
      before += recorded;
    }
    assert.ok(after <= 0.8 * before, `${after} promises with fewerTurns against ${before} without`);
  });

  test("an agent workflow that schedules an extra activity first is a determinism violation", async () => {
    for (const name of ["golden-finder-agent.json", "golden-human-input.json"]) {
      await assert.rejects(replay(changed, join(goldenDirectory, name)), (error: unknown) => {
        assert.ok(error instanceof DeterminismViolationError, `${name}: ${String(error)}`);
        assert.match(error.message, /Nondeterminism/i);
        return true;
      });
    }
  });

  test("the same change behind patched() replays the old histories", async () => {
    for (const name of ["golden-finder-agent.json", "golden-human-input.json"]) await replay(patched, join(goldenDirectory, name));
  });
});
