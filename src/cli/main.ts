/**
 * The `duragent` CLI. This file is the one process boundary: commands return data or throw, and
 * the single catch below turns a user error into its message and exit code, anything else into
 * "this is a bug". Each command's module is imported only when it runs, so `--help` and the
 * steering commands start without loading the worker, the MCP SDK or the model SDKs.
 */
import { constants as osConstants } from "node:os";
import { Command, InvalidArgumentError, Option } from "commander";
import { ExitCode, exitCodeWords, isUserError, UserError } from "../errors/user-error.js";
import { duragentVersion } from "../package-info.js";
import { listPhases, type ListPhase } from "../common/run-phases.js";
import { overlapPolicies, type Overlap } from "../common/schedule-overlap.js";
import type { CommandOutput } from "./command-output.js";
import { CommandContext, type GlobalOptions } from "./context.js";

type Action = (context: CommandContext, args: string[], options: Record<string, unknown>) => Promise<CommandOutput | void>;

interface CommandSpec {
  name: string;
  description: string;
  /** Commander argument specs, e.g. `<runId>`. */
  args?: [string, string][];
  aliases?: string[];
  /** Adds the command's own options. */
  options?: (command: Command) => Command;
  /** Services log JSON lines for collectors; other commands log lines a person reads. */
  logs?: "json";
  /** Ctrl-C or SIGTERM closes the client before exiting; commands that run a worker leave signals to Temporal's runtime. */
  closeOnSignal?: boolean;
  /** Steers runs, calling no model or MCP server: their settings may name variables this shell lacks. */
  steering?: true;
  /** Runs the project's agents and workflows: without a config file, its errors say so. */
  project?: true;
  action: Action;
}

const runId: [string, string] = ["<runId>", "the run (workflow) id"];
const scheduleId: [string, string] = ["<scheduleId>", "the schedule's id (`duragent schedule list`)"];

/** Collects a repeatable option's values. */
const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `--input`, which `run` and `start` need: said after commander's own checks of flags and arguments. */
function requireInput(options: Record<string, unknown>): string {
  if (typeof options.input === "string") return options.input;
  throw new UserError("required option '-i, --input <text|json|@file|->' not specified", {
    name: "UsageError",
    hint: "Give the message with --input, a file with --input @file, or standard input with --input -.",
  });
}

/** What each group of commands is for, in `--help`. */
const groupDescriptions: Record<string, string> = {
  auth: "sign in to MCP servers that use OAuth",
  schedule: "start agents and workflows on a schedule (Temporal Schedules): create, list, describe, trigger, pause, unpause, delete",
};

const commands: CommandSpec[] = [
  {
    name: "run",
    project: true,
    description: "run an agent or workflow and print its answer",
    args: [["<target>", "agent or workflow name"]],
    options: (command) =>
      command
        // Checked in the action, so that a misspelt flag or a missing target is said first.
        .option("-i, --input <text|json|@file|->", "the message, or a JSON input (required); @file reads a file, - standard input")
        .option("--wait", "wait for the answer", true)
        .option("--no-wait", "print the run id and return at once (temporal engine)")
        .option("--events", "print the run's events as JSON lines (step, text, restart, retry, progress, tool_call, tool_result, request, settled, end) instead of its answer")
        .option("--agent <name>", "show only this agent's streamed text (e.g. a pattern's last writer); repeat for several", collect, [])
        .option("--token-budget <n>", budgetHelp.tokens, positiveInteger)
        .option("--cost-budget <usd>", budgetHelp.cost, positiveUsd)
        .option("--tool-context <json|@file|->", toolContextHelp),
    closeOnSignal: true,
    action: async (context, [target], options) => {
      const input = requireInput(options);
      if (options.wait === false && options.events === true) {
        throw new UserError("--events prints the events of a run it waits for, and --no-wait waits for none.", { hint: "Leave out --no-wait, or follow the run later with `duragent watch <run> --events`." });
      }
      return (await import("./commands/run.js")).runCommand(context, target!, {
        input,
        wait: options.wait as boolean,
        events: options.events === true,
        ...((options.agent as string[]).length > 0 ? { agents: options.agent as string[] } : {}),
        budgets: budgetsOf(options),
        ...(options.toolContext !== undefined ? { toolContext: options.toolContext as string } : {}),
      });
    },
  },
  {
    name: "start",
    project: true,
    description: "start an agent or workflow and print its run id (temporal engine)",
    args: [["<target>", "agent or workflow name"]],
    options: (command) =>
      command
        // Checked in the action, so that a misspelt flag or a missing target is said first.
        .option("-i, --input <text|json|@file|->", "the message, or a JSON input (required); @file reads a file, - standard input")
        .option("--token-budget <n>", budgetHelp.tokens, positiveInteger)
        .option("--cost-budget <usd>", budgetHelp.cost, positiveUsd)
        .option("--tool-context <json|@file|->", toolContextHelp),
    action: async (context, [target], options) =>
      (await import("./commands/run.js")).runCommand(context, target!, {
        input: requireInput(options),
        wait: false,
        budgets: budgetsOf(options),
        ...(options.toolContext !== undefined ? { toolContext: options.toolContext as string } : {}),
      }),
  },
  {
    name: "status",
    steering: true,
    description: "phase, current step, pending requests, token usage and last error",
    args: [runId],
    action: async (context, [id]) => (await import("./commands/status.js")).statusCommand(context, id!),
  },
  {
    name: "watch",
    steering: true,
    description: "follow a run live, and answer its questions from standard input",
    args: [runId],
    options: (command) =>
      command
        .option("--no-answer", "only watch; leave questions to `duragent answer`")
        .option("--events", "print the run's events as JSON lines: step, text, restart, retry, progress, tool_call, tool_result, request, settled, end")
        .option("--agent <name>", "show only this agent's streamed text (e.g. a pattern's last writer); repeat for several", collect, []),
    closeOnSignal: true,
    action: async (context, [id], options) =>
      (await import("./commands/watch.js")).watchCommand(context, id!, {
        interactive: options.answer !== false,
        events: options.events === true,
        ...((options.agent as string[]).length > 0 ? { agents: options.agent as string[] } : {}),
      }),
  },
  {
    name: "answer",
    steering: true,
    aliases: ["input"],
    description: "answer a run's pending question (text, or JSON where the question asks for a number, yes/no or an object)",
    args: [runId],
    options: (command) =>
      command
        .option("--value <answer|@file|->", "the answer; @file reads a file, - standard input")
        .addOption(new Option("--decline", "decline a question an MCP server asked (elicitation)").conflicts(["cancel", "value"]))
        .addOption(new Option("--cancel", "dismiss a question an MCP server asked (elicitation)").conflicts("value"))
        .option("--request <id>", "which request, when several are pending"),
    action: async (context, [id], options) =>
      (await import("./commands/answer.js")).answerCommand(context, id!, {
        ...(options.value !== undefined ? { value: options.value as string } : {}),
        ...(options.request !== undefined ? { request: options.request as string } : {}),
        ...(options.decline ? { action: "decline" as const } : options.cancel ? { action: "cancel" as const } : {}),
      }),
  },
  {
    name: "approve",
    steering: true,
    description: "approve a pending tool call, optionally with edited arguments",
    args: [runId],
    options: (command) => command.option("--request <id>", "which request, when several are pending").option("--arguments <json>", "replacement arguments"),
    action: async (context, [id], options) =>
      (await import("./commands/approve.js")).approveCommand(context, id!, {
        ...(options.request !== undefined ? { request: options.request as string } : {}),
        ...(options.arguments !== undefined ? { arguments: options.arguments as string } : {}),
      }),
  },
  {
    name: "reject",
    steering: true,
    description: "reject a pending tool call; the model reads the reason",
    args: [runId],
    options: (command) => command.requiredOption("--reason <text>", "why (required); the model reads it").option("--request <id>", "which request, when several are pending"),
    action: async (context, [id], options) =>
      (await import("./commands/reject.js")).rejectCommand(context, id!, {
        reason: options.reason as string,
        ...(options.request !== undefined ? { request: options.request as string } : {}),
      }),
  },
  {
    name: "pause",
    steering: true,
    description: "hold a run before its next step",
    args: [runId],
    action: async (context, [id]) => (await import("./commands/pause.js")).pauseCommand(context, id!),
  },
  {
    name: "resume",
    steering: true,
    description: "let a paused run go on",
    args: [runId],
    action: async (context, [id]) => (await import("./commands/pause.js")).resumeCommand(context, id!),
  },
  {
    name: "cancel",
    steering: true,
    description: "stop a run, including its steps in flight",
    args: [runId],
    action: async (context, [id]) => (await import("./commands/cancel.js")).cancelCommand(context, id!),
  },
  {
    name: "terminate",
    steering: true,
    description: "end a run at once, without its code's say (for a run that cannot be cancelled, e.g. its workflow code keeps failing)",
    args: [runId],
    options: (command) => command.option("--reason <text>", "why; kept in the run's history"),
    action: async (context, [id], options) =>
      (await import("./commands/cancel.js")).terminateCommand(context, id!, { ...(options.reason !== undefined ? { reason: options.reason as string } : {}) }),
  },
  ...(["signal", "query", "update"] as const).map(
    (kind): CommandSpec => ({
      name: kind,
      steering: true,
      description: {
        signal: "send a signal to a handler of the run's own workflow code (ctx.messages.onSignal)",
        query: "ask a query of the run's own workflow code (ctx.messages.onQuery) and print its answer",
        update: "send an update to the run's own workflow code (ctx.messages.onUpdate) and print its result",
      }[kind],
      args: [runId, ["<name>", `the ${kind}'s name, as the workflow code sets its handler`]],
      options: (command) => command.option("--value <json|text>", "the payload: JSON when it parses as JSON, else the text as typed"),
      action: async (context, [id, name], options) => (await import("./commands/message.js")).messageCommand(context, kind, id!, name!, options.value as string | undefined),
    }),
  ),
  {
    name: "history",
    steering: true,
    description: "the messages a run's agents exchanged so far",
    args: [runId],
    options: (command) => command.option("--child-runs", "also the messages of a nested pattern's child runs, each after its parent's, under its run id"),
    action: async (context, [id], options) => (await import("./commands/history.js")).historyCommand(context, id!, { childRuns: options.childRuns === true }),
  },
  {
    name: "result",
    steering: true,
    description: "wait for a run's answer",
    args: [runId],
    closeOnSignal: true,
    action: async (context, [id]) => (await import("./commands/result.js")).resultCommand(context, id!),
  },
  {
    name: "list",
    steering: true,
    description: "recent runs on the configured task queue",
    options: (command) =>
      command
        .option("--limit <n>", "how many", positiveInteger, 20)
        .addOption(new Option("--phase <phase>", "only runs in this phase (waiting: for an answer or an approval)").choices(listPhases))
        .option("--target <name>", "only runs of this agent, pattern or workflow"),
    action: async (context, _args, options) =>
      (await import("./commands/list.js")).listCommand(context, {
        limit: options.limit as number,
        ...(options.phase !== undefined ? { phase: options.phase as ListPhase } : {}),
        ...(options.target !== undefined ? { target: options.target as string } : {}),
      }),
  },
  {
    name: "auth login",
    description:
      "sign in to an HTTP MCP server (mcp.servers.<server>.auth: { type: oauth }) and store its tokens; for { type: client_credentials }, check that its credentials get a token",
    args: [["<server>", "the server's name in mcp.servers"]],
    action: async (context, [server]) => (await import("./commands/auth.js")).authLoginCommand(await context.config(), server!),
  },
  {
    name: "schedule create",
    project: true,
    steering: true,
    description: "start an agent or workflow again and again, on a Temporal Schedule; each run takes the workers' config of its day",
    args: [["<target>", "agent or workflow name"]],
    options: (command) =>
      command
        .option("-i, --input <text|json|@file|->", "the message, or a JSON input, each run starts with (required); @file reads a file, - standard input")
        .option("--cron <expression>", "when runs are due, as cron ('0 7 * * *', '@daily'); repeat for several", collect, [])
        .option("--every <duration>", "a run every so often ('15m', '1h', '1d'); repeat for several", collect, [])
        .option("--id <scheduleId>", "the schedule's id, and the start of its runs' ids (default: the target's name)")
        .option("--timezone <zone>", "an IANA time zone for --cron (default UTC), e.g. Europe/Paris")
        .addOption(new Option("--overlap <policy>", "when a run is due while the last still runs (default skip)").choices(Object.keys(overlapPolicies)))
        .option("--note <text>", "why the schedule exists, shown by describe and the Web UI")
        .option("--paused", "create it paused: no run until `schedule unpause`", false)
        .option("--tool-context <json|@file|->", toolContextHelp),
    action: async (context, [target], options) => {
      const input = requireInput(options);
      if ((options.cron as string[]).length === 0 && (options.every as string[]).length === 0) {
        throw new UserError("give --cron or --every: when the runs are due", { name: "UsageError", hint: "e.g. --cron '0 7 * * *' (every day at 07:00 UTC) or --every 1h." });
      }
      return (await import("./commands/schedule.js")).scheduleCreateCommand(context, target!, {
        input,
        cron: options.cron as string[],
        every: options.every as string[],
        paused: options.paused === true,
        ...(options.id !== undefined ? { id: options.id as string } : {}),
        ...(options.timezone !== undefined ? { timezone: options.timezone as string } : {}),
        ...(options.overlap !== undefined ? { overlap: options.overlap as Overlap } : {}),
        ...(options.note !== undefined ? { note: options.note as string } : {}),
        ...(options.toolContext !== undefined ? { toolContext: options.toolContext as string } : {}),
      });
    },
  },
  {
    name: "schedule list",
    steering: true,
    description: "the schedules duragent made in the namespace",
    options: (command) => command.option("--limit <n>", "how many", positiveInteger, 100),
    action: async (context, _args, options) => (await import("./commands/schedule.js")).scheduleListCommand(context, { limit: options.limit as number }),
  },
  {
    name: "schedule describe",
    steering: true,
    description: "a schedule's target, input, times, next and recent runs",
    args: [scheduleId],
    action: async (context, [id]) => (await import("./commands/schedule.js")).scheduleDescribeCommand(context, id!),
  },
  ...(["trigger", "pause", "unpause", "delete"] as const).map(
    (action): CommandSpec => ({
      name: `schedule ${action}`,
      steering: true,
      description: { trigger: "start a run now, as if it were due", pause: "stop starting runs until unpaused", unpause: "start runs again when due", delete: "delete a schedule; the runs it started go on" }[action],
      args: [scheduleId],
      ...(action === "pause" || action === "unpause" ? { options: (command: Command) => command.option("--note <text>", "why, shown by describe and the Web UI") } : {}),
      action: async (context, [id], options) =>
        (await import("./commands/schedule.js")).scheduleActionCommand(context, action, id!, options.note !== undefined ? { note: options.note as string } : {}),
    }),
  ),
  {
    name: "chat",
    project: true,
    description: "an interactive session with an agent that can be left and rejoined",
    args: [["[agent]", "the agent to chat with"]],
    options: (command) =>
      command
        .option("--resume <runId>", "rejoin a chat left earlier")
        .option("--tool-context <json|@file|->", toolContextHelp)
        .option("--stream", "print each reply as it is written (the default on a terminal)")
        .option("--no-stream", "print each reply once it is whole")
        .addHelpText(
          "after",
          "\nEach line is a message. /end closes the chat (its run completes); /exit or Ctrl-D leaves it, to rejoin\nwith --resume on Temporal (a memory chat ends with the command). Ctrl-C while a reply is written leaves\nafter it; a second Ctrl-C leaves at once.",
        ),
    closeOnSignal: true,
    action: async (context, [agent], options) =>
      (await import("./commands/chat.js")).chatCommand(context, agent, {
        ...(options.resume !== undefined ? { resume: options.resume as string } : {}),
        ...(options.stream !== undefined ? { stream: options.stream as boolean } : {}),
        ...(options.toolContext !== undefined ? { toolContext: options.toolContext as string } : {}),
      }),
  },
  {
    name: "worker",
    project: true,
    logs: "json",
    description: "run a worker for the configured Temporal task queue",
    options: (command) =>
      command
        .option("--bundle <file>", "a workflow bundle prebuilt with `duragent build`")
        .option("--metrics <host:port>", "serve Prometheus metrics at http://<host:port>/metrics (default: telemetry.metrics.prometheus)")
        .option("--health <host:port>", "serve /healthz (alive) and /readyz (taking steps) for an orchestrator's probes (default: worker.health)"),
    action: async (context, _args, options) =>
      (await import("./commands/worker.js")).workerCommand(context, {
        ...(options.bundle !== undefined ? { bundle: options.bundle as string } : {}),
        ...(options.metrics !== undefined ? { metrics: options.metrics as string } : {}),
        ...(options.health !== undefined ? { health: options.health as string } : {}),
      }),
  },
  {
    name: "replay",
    project: true,
    description: "replay saved run histories against the config's workflow code: what would break runs in flight, before a deploy",
    args: [["<files...>", "history files (`temporal workflow show --output json`, or saveRunHistory from duragent/testing)"]],
    action: async (context, [files]) => (await import("./commands/replay.js")).replayCommand(context, files as unknown as string[]),
  },
  {
    name: "build",
    project: true,
    description: "prebuild the workflow bundle for deploys (`duragent worker --bundle <file>` serves it at once)",
    options: (command) => command.option("-o, --out <file>", "where to write it", "duragent-workflows.js"),
    action: async (context, _args, options) => (await import("./commands/build.js")).buildCommand(context, { out: options.out as string }),
  },
  {
    name: "dev",
    project: true,
    description: "start a local Temporal dev server with its Web UI, and a worker",
    options: (command) =>
      command
        .option("--port <port>", "gRPC port (default: the port of temporal.address, else 7233)", parsePort)
        .option("--ui-port <port>", "Web UI port (default: the port of temporal.uiUrl, else the gRPC port + 1000)", parsePort)
        .option("--db-file <path>", "where the dev server keeps its state", ".duragent/temporal.db"),
    action: async (context, _args, options) =>
      (await import("./commands/dev.js")).devCommand(context, {
        ...(options.port !== undefined ? { port: options.port as number } : {}),
        ...(options.uiPort !== undefined ? { uiPort: options.uiPort as number } : {}),
        dbFile: options.dbFile as string,
        onReady: ({ address, uiUrl, taskQueue }) => {
          if (context.options.json) console.log(JSON.stringify({ address, uiUrl, taskQueue }));
          else console.error(`Temporal dev server on ${address}; Web UI: ${uiUrl}\nworker ready (Ctrl-C stops both; a change to the project's code or config restarts the worker)`);
        },
        onReload: (file) => {
          if (context.options.json) console.log(JSON.stringify({ reloaded: file }));
          else console.error(`${file} changed: the worker restarted on it`);
        },
      }),
  },
  {
    name: "serve",
    project: true,
    logs: "json",
    description: "serve the configured agents and workflows as MCP tools",
    options: (command) =>
      command
        .addOption(new Option("--transport <transport>", "how MCP clients connect").choices(["stdio", "http"]).default("stdio"))
        .option("--host <host>", "HTTP: address to bind (non-loopback needs --token)", "127.0.0.1")
        .option("--port <port>", "HTTP: port (0 picks a free one)", listenPort, 8787)
        .option("--token <token>", "HTTP: bearer token clients must send (default: $DURAGENT_SERVE_TOKEN)")
        .option("--allowed-host <name>", "HTTP: another host name clients may use (repeatable)", (value, all: string[]) => [...all, value], [])
        .option("--wait-timeout <ms>", "how long a tool waits for its run's answer before returning the run id", positiveInteger)
        .addHelpText("after", "\nEnvironment:\n  DURAGENT_SERVE_STATE_KEY  32 bytes (base64 or hex) sealing input_required state; share it among servers behind one URL and across restarts"),
    action: async (context, _args, options) =>
      (await import("./commands/serve.js")).serveCommand(context, {
        transport: options.transport as "stdio" | "http",
        host: options.host as string,
        port: options.port as number,
        allowedHost: options.allowedHost as string[],
        ...(options.token !== undefined ? { token: options.token as string } : {}),
        ...(options.waitTimeout !== undefined ? { waitTimeoutMs: options.waitTimeout as number } : {}),
        onListening: async ({ url, tools }) => {
          if (context.options.json) console.log(JSON.stringify({ url, tools }));
          else await context.announce(`duragent serve: MCP over Streamable HTTP at ${url} (${tools.length} agents and workflows; Ctrl-C stops)`, { url, tools });
        },
      }),
  },
  {
    name: "codec-server",
    logs: "json",
    description: "decrypt encrypted payloads (codec: in the config) for the Temporal Web UI and CLI",
    options: (command) =>
      command
        .option("--host <host>", "address to bind (non-loopback needs --token)", "127.0.0.1")
        .option("--port <port>", "port (0 picks a free one)", listenPort, 8888)
        .option("--origin <url>", "a Web UI origin allowed to call it (repeatable; default: the configured Web UI)", (value, all: string[]) => [...all, value], [])
        .option("--token <token>", "bearer token callers must send (default: $DURAGENT_CODEC_TOKEN)"),
    action: async (context, _args, options) =>
      (await import("./commands/codec-server.js")).codecServerCommand(context, {
        host: options.host as string,
        port: options.port as number,
        origin: options.origin as string[],
        ...(options.token !== undefined ? { token: options.token as string } : {}),
        onListening: async ({ url, origins }) => {
          if (context.options.json) console.log(JSON.stringify({ url, origins }));
          else {
            await context.announce(
              `duragent codec-server: ${url} (Web UI origins: ${origins.join(", ")}; Ctrl-C stops)\n` +
                `Point the Web UI at it (Settings, Codec Server), or start the dev server with --ui-codec-endpoint ${url}.`,
              { url, origins },
            );
          }
        },
      }),
  },
  {
    name: "init",
    description: "create a runnable duragent project: package.json, config, an agent in TypeScript",
    args: [["[dir]", "the project folder (default: the current one)"]],
    options: (command) =>
      command
        .option("--no-install", "write the files only; skip `npm install`")
        .option("--duragent <spec>", "the duragent dependency to write: a version range, or the path of a packed tarball (default: what the enclosing project uses, else ^<this version>)"),
    action: async (context, [dir], options) =>
      (await import("./commands/init.js")).initCommand(context, {
        dir: dir ?? ".",
        install: options.install !== false,
        ...(options.duragent !== undefined ? { duragent: options.duragent as string } : {}),
      }),
  },
];

/** With `--json`, errors too are one JSON object on stderr, so a script reads every outcome the same way. */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).includes("--json");
}

function errorReport(json: boolean, error: { name: string; message: string; exitCode: number; hint?: string | undefined; stack?: string | undefined }): string {
  if (!json) return `duragent: ${error.message}`;
  const { name, message, exitCode, hint, stack } = error;
  const headline = hint && message.endsWith(`\n${hint}`) ? message.slice(0, -hint.length - 1) : message;
  return JSON.stringify({ error: { name, message: headline, exitCode, ...(hint ? { hint } : {}), ...(stack ? { stack } : {}) } });
}

export function buildProgram(json = false): Command {
  const program = new Command("duragent")
    .description("Durable AI agents with MCP tools, on Temporal or in memory")
    .option("-c, --config <path>", "config file (default: ./duragent.config.yaml)")
    .addOption(new Option("-e, --engine <engine>", "where runs execute").choices(["memory", "temporal"]))
    .option("--address <host:port>", "Temporal's address, over temporal.address, TEMPORAL_ADDRESS and the temporal.toml profile")
    .option("-n, --namespace <name>", "Temporal namespace, over temporal.namespace, TEMPORAL_NAMESPACE and the profile")
    .option("--task-queue <name>", "Temporal task queue, over temporal.taskQueue")
    .option("--json", "machine-readable output")
    .version(duragentVersion, "-V, --version", "print duragent's version")
    // One short line per usage error, like every other error, rather than the whole help.
    .showHelpAfterError(!json && "(add --help for usage)")
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      outputError: (message, write) =>
        write(json ? `${errorReport(true, { name: "UsageError", message: message.replace(/^error: /, "").trim(), exitCode: ExitCode.usage })}\n` : `duragent: ${message.replace(/^error: /, "")}`),
    })
    .exitOverride()
    .addHelpText(
      "after",
      "\nTemporal is reached as its own CLI and SDKs reach it: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY,\nTEMPORAL_TLS_*, and temporal.toml profiles (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE); the config's temporal: section\nand the flags above win over them.\n\nExit codes: 0 done, " +
        Object.entries(exitCodeWords)
          .map(([code, words]) => `${code} ${words}`)
          .join(", ") +
        ".",
    );

  // `auth login`, `schedule create`: a group's commands under one command of its own.
  const groups = new Map<string, Command>();
  const parentOf = (name: string): Command => {
    const [group, sub] = name.split(" ");
    if (sub === undefined) return program;
    if (!groups.has(group!)) groups.set(group!, program.command(group!).description(groupDescriptions[group!] ?? ""));
    return groups.get(group!)!;
  };
  for (const spec of commands) {
    const command = parentOf(spec.name).command(spec.name.split(" ").at(-1)!).description(spec.description);
    for (const alias of spec.aliases ?? []) command.alias(alias);
    for (const [name, description] of spec.args ?? []) command.argument(name, description);
    (spec.options ?? ((c: Command) => c))(command).action(async (...params: unknown[]) => {
      const self = params.at(-1) as Command;
      const args = params.slice(0, spec.args?.length ?? 0) as string[];
      if (spec.aliases?.includes(self.parent?.args[0] ?? "")) {
        process.stderr.write(`duragent: \`${self.parent?.args[0]}\` is deprecated and will be removed; use \`duragent ${spec.name}\`.\n`);
      }
      await execute(self, spec, args);
    });
  }

  return program;
}

/** Runs one command with a context that is always closed, so no MCP process is left behind. */
async function execute(command: Command, spec: CommandSpec, args: string[]): Promise<void> {
  const options = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
  // With --json, stderr holds JSON alone: warnings as JSON lines, then the error's object.
  const context = new CommandContext(options, options.json === true ? "json" : (spec.logs ?? "text"), spec.steering === true);
  let interrupted = false;
  const stopOnSignal = (signal: NodeJS.Signals) => {
    interrupted = true;
    // A second signal gets the default handler back, so a stuck close can still be interrupted.
    removeSignalHandlers();
    if (context.interruptNotice) context.notice(`\n${context.interruptNotice}`);
    void context.close().finally(() => process.exit(128 + (osConstants.signals[signal] ?? 0)));
  };
  const removeSignalHandlers = () => {
    process.off("SIGINT", stopOnSignal);
    process.off("SIGTERM", stopOnSignal);
  };
  if (spec.closeOnSignal) {
    process.once("SIGINT", stopOnSignal);
    process.once("SIGTERM", stopOnSignal);
  }
  try {
    const output = await spec.action(context, args, command.opts());
    if (output && (options.json || output.text !== "")) process.stdout.write(`${options.json ? JSON.stringify(output.data, null, 2) : output.text}\n`);
    if (output?.note && !options.json) process.stderr.write(`duragent: note: ${output.note}\n`);
  } catch (error) {
    // What closing under a signal breaks (a memory run cancelled mid-turn) is not a bug: the
    // signal's handler exits once the close is done.
    if (interrupted) return new Promise<never>(() => {});
    if (isUserError(error)) throw spec.project && context.configFile === null ? withoutConfigHint(error) : error;
    // Temporal's infrastructure failures (unreachable cluster, missing namespace) are the user's to fix.
    const config = await context.config().catch(() => undefined);
    const { explainTemporalError } = await import("../client/temporal-errors.js");
    throw (config && explainTemporalError(error, config.temporal)) ?? error;
  } finally {
    removeSignalHandlers();
    await context.close();
  }
}

/** The error of a command that found no config file to run: said beside it, as the likely cause. */
function withoutConfigHint(error: UserError): UserError {
  const hint = `No duragent.config.yaml was found in ${process.cwd()} or the folders above it: \`duragent init\` makes one, and --config (or DURAGENT_CONFIG) names one elsewhere.`;
  return new UserError(error.message, { name: error.name, exitCode: error.exitCode, hint, cause: error });
}

/**
 * Started by `npx` (npm exec), this process outlives a SIGTERM sent to npx: npm does not pass it
 * on, and a worker left behind would go on taking tasks beside its replacement. So when the
 * process that started it is gone, it stops as SIGTERM would have stopped it.
 */
function stopWhenNpxIsGone(): void {
  if (process.env.npm_command !== "exec" || process.platform === "win32") return;
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    process.kill(process.pid, "SIGTERM");
  }, 1_000);
  watch.unref();
}

/** A reader that stops early (`duragent list | head`) is done with the output, as with any Unix tool. */
function endOnClosedOutput(error: NodeJS.ErrnoException): void {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
}

export async function main(argv: string[]): Promise<number> {
  const json = wantsJson(argv.slice(2));
  stopWhenNpxIsGone();
  if (!process.stdout.listeners("error").includes(endOnClosedOutput)) process.stdout.on("error", endOnClosedOutput);
  try {
    await buildProgram(json).parseAsync(argv);
    return 0;
  } catch (error) {
    if (isCommanderExit(error)) return error.exitCode === 0 ? 0 : ExitCode.usage;
    if (isUserError(error)) {
      console.error(errorReport(json, { name: error.name, message: error.message, exitCode: error.exitCode, hint: error.hint }));
      return error.exitCode;
    }
    if (json) {
      const { name, message, stack } = error instanceof Error ? error : { name: "Error", message: String(error), stack: undefined };
      console.error(errorReport(true, { name, message: `unexpected error; this is a bug, please report it: ${message}`, exitCode: ExitCode.bug, stack }));
    } else {
      console.error("duragent: unexpected error; this is a bug, please report it with the output below.");
      console.error(error);
    }
    return ExitCode.bug;
  }
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError("expected a port number from 1 to 65535.");
  return port;
}

/** A port to listen on, where 0 asks the system for a free one. */
function listenPort(value: string): number {
  return value.trim() === "0" ? 0 : parsePort(value);
}

const budgetHelp = {
  tokens: "the most tokens the run may use, child runs included (over execution.tokenBudget)",
  cost: "the most the run's model calls may cost in USD, child runs included (over execution.costBudget)",
};

const toolContextHelp = "values the run's function tools read and no model sees, as a JSON object (e.g. '{\"userId\":\"u-42\"}'); @file reads a file";

/** A run's own budgets, from `--token-budget` and `--cost-budget`. */
function budgetsOf(options: Record<string, unknown>): { tokenBudget?: number; costBudget?: number } {
  return {
    ...(options.tokenBudget !== undefined ? { tokenBudget: options.tokenBudget as number } : {}),
    ...(options.costBudget !== undefined ? { costBudget: options.costBudget as number } : {}),
  };
}

/** A sum in US dollars, as `2.50` or `$2.50`. */
function positiveUsd(value: string): number {
  const number = Number(value.trim().replace(/^\$/, ""));
  if (!Number.isFinite(number) || number <= 0 || value.trim() === "") throw new InvalidArgumentError("expected a sum in US dollars above 0, e.g. 2.50.");
  return number;
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new InvalidArgumentError("expected a positive whole number.");
  return number;
}

function isCommanderExit(error: unknown): error is { exitCode: number } {
  return typeof error === "object" && error !== null && "code" in error && String(error.code).startsWith("commander.");
}
