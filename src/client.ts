#!/usr/bin/env node
/**
 * The `duragent` CLI. This file is the one process boundary: commands return data or throw, and
 * the single catch below turns a user error into its message and exit code, anything else into
 * "this is a bug".
 */
import { constants as osConstants } from "node:os";
import { pathToFileURL } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import type { CommandOutput } from "./cli/command-output.js";
import { devCommand } from "./cli/commands/dev.js";
import { resultCommand } from "./cli/commands/result.js";
import { runCommand } from "./cli/commands/run.js";
import { serveCommand } from "./cli/commands/serve.js";
import { workerCommand } from "./cli/commands/worker.js";
import { authLoginCommand } from "./cli/commands/auth.js";
import { chatCommand } from "./cli/commands/chat.js";
import {
  approveCommand,
  cancelCommand,
  historyCommand,
  inputCommand,
  listCommand,
  pauseCommand,
  rejectCommand,
  resumeCommand,
  statusCommand,
} from "./cli/commands/steer.js";
import { watchCommand } from "./cli/commands/watch.js";
import { Session, type GlobalOptions } from "./cli/session.js";
import { explainTemporalError } from "./cli/temporal-errors.js";
import { explainEngineError } from "./cli/engine-errors.js";
import { ExitCode, isUserError } from "./errors/user-error.js";

/** The options of the commands on one run, as commander parses them (strings and flags). */
interface RunCommandOptions {
  value?: string;
  request?: string;
  arguments?: string;
  reason?: string;
  decline?: boolean;
  cancel?: boolean;
  answer?: boolean;
}

function print(output: CommandOutput, options: GlobalOptions): void {
  process.stdout.write(`${options.json ? JSON.stringify(output.data, null, 2) : output.text}\n`);
}

/**
 * Opens a session for one command and always closes it, so no MCP process is left behind.
 * Temporal's infrastructure errors leave here as user errors naming the setting to fix.
 * With `closeOnSignal`, Ctrl-C or SIGTERM also closes it before exiting; commands that run a
 * worker leave signals to Temporal's runtime, which shuts the worker down gracefully.
 */
async function withSession(
  command: Command,
  action: (session: Session, options: GlobalOptions) => Promise<void>,
  { closeOnSignal = false } = {},
) {
  const options = command.optsWithGlobals<GlobalOptions>();
  const session = await Session.open(options);
  const stopOnSignal = (signal: NodeJS.Signals) => {
    // A second signal gets the default handler back, so a stuck close can still be interrupted.
    removeSignalHandlers();
    void session.close().finally(() => process.exit(128 + (osConstants.signals[signal] ?? 0)));
  };
  const removeSignalHandlers = () => {
    process.off("SIGINT", stopOnSignal);
    process.off("SIGTERM", stopOnSignal);
  };
  if (closeOnSignal) {
    process.once("SIGINT", stopOnSignal);
    process.once("SIGTERM", stopOnSignal);
  }
  try {
    await action(session, options);
  } catch (error) {
    throw explainEngineError(error) ?? explainTemporalError(error, session.config.temporal) ?? error;
  } finally {
    removeSignalHandlers();
    await session.close();
  }
}

export function buildProgram(): Command {
  const program = new Command("duragent")
    .description("Durable AI agents with MCP tools, on Temporal or in memory")
    .option("-c, --config <path>", "config file (default: ./duragent.config.yaml)")
    .addOption(new Option("-e, --engine <engine>", "where runs execute").choices(["memory", "temporal"]))
    .option("--json", "machine-readable output")
    // One short line per usage error, like every other error, rather than the whole help.
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({ outputError: (message, write) => write(`duragent: ${message.replace(/^error: /, "")}`) })
    .exitOverride();

  program
    .command("run")
    .description("run an agent or workflow and print its answer")
    .argument("<target>", "agent or workflow name")
    .requiredOption("-i, --input <text|json>", "the message, or a JSON input")
    .option("--wait", "wait for the answer (default)", true)
    .option("--no-wait", "print the run id and return at once (temporal engine)")
    .action(async (target: string, options: { input: string; wait: boolean }, command: Command) =>
      withSession(command, async (session, global) => {
        const output = await runCommand(session, target, {
          ...options,
          onStarted: ({ runId, link, warning }) => {
            if (!global.json && link) console.error(`run ${runId}\nWeb UI: ${link}`);
            if (warning) console.error(`duragent: warning: ${warning}`);
          },
        });
        print(output, global);
      }, { closeOnSignal: true }),
    );

  program
    .command("start")
    .description("start an agent or workflow and print its run id (temporal engine)")
    .argument("<target>", "agent or workflow name")
    .requiredOption("-i, --input <text|json>", "the message, or a JSON input")
    .action(async (target: string, options: { input: string }, command: Command) =>
      withSession(command, async (session, global) => {
        const output = await runCommand(session, target, {
          input: options.input,
          wait: false,
          onStarted: ({ link, warning }) => {
            if (!global.json && link) console.error(`Web UI: ${link}`);
            if (warning) console.error(`duragent: warning: ${warning}`);
          },
        });
        print(output, global);
      }),
    );

  // Commands on one run: each finds the run, acts, and prints what happened with its Web UI link.
  const onRun = (
    name: string,
    description: string,
    act: (session: Session, runId: string, options: RunCommandOptions) => Promise<CommandOutput>,
    configure: (command: Command) => Command = (command) => command,
  ) =>
    configure(program.command(name).description(description).argument("<runId>", "the run (workflow) id")).action(
      async (runId: string, options: RunCommandOptions, command: Command) =>
        withSession(command, async (session, global) => print(await act(session, runId, options), global), { closeOnSignal: true }),
    );

  onRun("status", "phase, current step, pending requests, token usage and last error", (session, runId) => statusCommand(session, runId));
  onRun(
    "watch",
    "follow a run live, and answer its questions from standard input",
    (session, runId, options) => watchCommand(session, runId, { interactive: options.answer !== false }),
    (command) => command.option("--no-answer", "only watch; leave questions to `duragent input`"),
  );
  onRun(
    "input",
    "answer a run's pending question (JSON when it parses, else text)",
    (session, runId, options) =>
      inputCommand(session, runId, {
        value: options.value,
        request: options.request,
        ...(options.decline ? { action: "decline" as const } : options.cancel ? { action: "cancel" as const } : {}),
      }),
    (command) =>
      command
        .option("--value <answer>", "the answer")
        .option("--decline", "decline a question an MCP server asked (elicitation)")
        .option("--cancel", "dismiss a question an MCP server asked (elicitation)")
        .option("--request <id>", "which request, when several are pending"),
  );
  onRun(
    "approve",
    "approve a pending tool call, optionally with edited arguments",
    (session, runId, options) => approveCommand(session, runId, { request: options.request, arguments: options.arguments }),
    (command) => command.option("--request <id>", "which request, when several are pending").option("--arguments <json>", "replacement arguments"),
  );
  onRun(
    "reject",
    "reject a pending tool call; the model reads the reason",
    (session, runId, options) => rejectCommand(session, runId, { request: options.request, reason: options.reason! }),
    (command) => command.requiredOption("--reason <text>", "why").option("--request <id>", "which request, when several are pending"),
  );
  onRun("pause", "hold a run before its next step", (session, runId) => pauseCommand(session, runId));
  onRun("resume", "let a paused run go on", (session, runId) => resumeCommand(session, runId));
  onRun("cancel", "stop a run, including its steps in flight", (session, runId) => cancelCommand(session, runId));
  onRun("history", "the messages a run's agents exchanged so far", (session, runId) => historyCommand(session, runId));

  program
    .command("list")
    .description("recent runs on the configured task queue")
    .option("--limit <n>", "how many", (value) => Number.parseInt(value, 10), 20)
    .action(async (options: { limit: number }, command: Command) =>
      withSession(command, async (session, global) => print(await listCommand(session, options), global)),
    );

  program
    .command("chat")
    .description("an interactive session with an agent that can be left and rejoined")
    .argument("[agent]", "the agent to chat with")
    .option("--resume <runId>", "rejoin a chat left earlier")
    .action(async (agent: string | undefined, options: { resume?: string }, command: Command) =>
      withSession(command, async (session, global) => print(await chatCommand(session, agent, options), global), { closeOnSignal: true }),
    );

  program
    .command("result")
    .description("wait for a run's answer")
    .argument("<runId>", "the run (workflow) id")
    .action(async (runId: string, _options: unknown, command: Command) =>
      withSession(command, async (session, global) => print(await resultCommand(session, runId), global), { closeOnSignal: true }),
    );

  program
    .command("worker")
    .description("run a worker for the configured Temporal task queue")
    .action(async (_options: unknown, command: Command) => withSession(command, (session) => workerCommand(session)));

  program
    .command("dev")
    .description("start a local Temporal dev server with its Web UI, and a worker")
    .option("--port <port>", "gRPC port (default: the port of temporal.address, else 7233)", parsePort)
    .option("--ui-port <port>", "Web UI port (default: the port of temporal.uiUrl, else 8233)", parsePort)
    .option("--db-file <path>", "where the dev server keeps its state", ".duragent/temporal.db")
    .action(async (options: { port?: number; uiPort?: number; dbFile: string }, command: Command) =>
      withSession(command, (session, global) =>
        devCommand(session, {
          ...options,
          onReady: ({ address, uiUrl }) => {
            const ready = { address, uiUrl, taskQueue: session.config.temporal.taskQueue };
            if (global.json) console.log(JSON.stringify(ready));
            else console.error(`Temporal dev server on ${address}; Web UI: ${uiUrl}\nworker ready (Ctrl-C stops both)`);
          },
        }),
      ),
    );

  program
    .command("serve")
    .description("serve the configured agents and workflows as MCP tools")
    .addOption(new Option("--transport <transport>", "how MCP clients connect").choices(["stdio", "http"]).default("stdio"))
    .option("--host <host>", "HTTP: address to bind (non-loopback needs --token)", "127.0.0.1")
    .option("--port <port>", "HTTP: port (0 picks a free one)", (value) => Number.parseInt(value, 10), 8787)
    .option("--token <token>", "HTTP: bearer token clients must send (default: $DURAGENT_SERVE_TOKEN)")
    .option("--allowed-host <name>", "HTTP: another host name clients may use (repeatable)", (value, all: string[]) => [...all, value], [])
    .option("--wait-timeout <ms>", "how long a tool waits for its run's answer before returning the run id", (value) => Number.parseInt(value, 10))
    .action(
      async (
        options: { transport: "stdio" | "http"; host: string; port: number; token?: string; allowedHost: string[]; waitTimeout?: number },
        command: Command,
      ) =>
        withSession(command, (session, global) =>
          serveCommand(session, {
            ...options,
            ...(options.waitTimeout !== undefined ? { waitTimeoutMs: options.waitTimeout } : {}),
            onListening: ({ url, tools }) => {
              if (global.json) console.log(JSON.stringify({ url, tools }));
              else console.error(`duragent serve: MCP over Streamable HTTP at ${url} (${tools.length} agents and workflows; Ctrl-C stops)`);
            },
          }),
        ),
    );

  program
    .command("auth")
    .description("sign in to MCP servers that use OAuth")
    .command("login")
    .description("sign in to an HTTP MCP server (mcp.servers.<server>.auth: { type: oauth }) and store its tokens")
    .argument("<server>", "the server's name in mcp.servers")
    .action(async (server: string, _options: unknown, command: Command) =>
      withSession(command, async (session, global) => {
        const output = await authLoginCommand(session.config, server, {
          // The person signs in in a browser; the URL goes to stderr so --json output stays clean.
          openUrl: (url) => console.error(`Open this URL to sign in to '${server}':\n${url.href}`),
        });
        print(output, global);
      }),
    );

  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    if (isCommanderExit(error)) return error.exitCode === 0 ? 0 : ExitCode.usage;
    if (isUserError(error)) {
      console.error(`duragent: ${error.message}`);
      return error.exitCode;
    }
    console.error("duragent: unexpected error; this is a bug, please report it with the output below.");
    console.error(error);
    return ExitCode.bug;
  }
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError("expected a port number from 1 to 65535.");
  return port;
}

function isCommanderExit(error: unknown): error is { exitCode: number } {
  return typeof error === "object" && error !== null && "code" in error && String(error.code).startsWith("commander.");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exitCode = await main(process.argv);
}
