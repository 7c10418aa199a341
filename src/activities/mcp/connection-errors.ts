/** Classifying the errors a connection throws, and describing its failures for operators. */
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { ApplicationFailure } from "@temporalio/common";
import { FailureType } from "../../common/failures.js";
import type { McpServerConfig } from "../../config/schema.js";
import { redactSecrets } from "./redact-secrets.js";
import { commandLine, describeExit, type ObservedStdioTransport } from "./stdio-transport.js";

/** What a failure message quotes about the connection. */
export interface FailedConnection {
  readonly server: string;
  readonly config: McpServerConfig;
  readonly stdio: ObservedStdioTransport | undefined;
  readonly stderrTail: string[];
}

export function unavailable(message: string): ApplicationFailure {
  return ApplicationFailure.retryable(message, FailureType.mcpServerUnavailable);
}

/** A JSON-RPC error the server sent, as opposed to the SDK's own "connection closed"/"timed out". */
export function isProtocolError(error: unknown): error is McpError {
  return (
    error instanceof McpError && error.code !== ErrorCode.ConnectionClosed && error.code !== ErrorCode.RequestTimeout
  );
}

export function isMalformedResult(error: unknown): boolean {
  return error instanceof Error && error.name === "ZodError";
}

export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const code = typeof cause?.code === "string" ? cause.code : undefined;
  const causeMessage = typeof cause?.message === "string" ? cause.message : undefined;
  if (code && !error.message.includes(code)) return `${error.message} (${code})`;
  if (causeMessage && !error.message.includes(causeMessage)) return `${error.message} (${causeMessage})`;
  return error.message;
}

/**
 * Why a stdio server cannot start when no retry would help, in words that say the fix: its
 * command is not on PATH, or `npx --no-install` found its package not installed (or not on the
 * registry). Undefined for any other failure. Secrets in the config are masked.
 */
export function missingCommand(conn: FailedConnection, error: unknown): string | undefined {
  const { server, config } = conn;
  if (!("command" in config)) return undefined;
  const fix = `mcp.servers.${server}`;
  if (conn.stdio?.pid == null && (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    return redactSecrets(
      config,
      `MCP server '${server}' could not be started (command '${commandLine(config)}'): '${config.command}' is not installed (not found on PATH). Install it, or fix ${fix}.command.`,
    );
  }
  const stderr = conn.stderrTail.join("\n");
  const canceled = /npx canceled due to missing packages and no YES option: (\[.*\])/.exec(stderr);
  if (canceled) {
    const packages = parsePackageList(canceled[1]!);
    return redactSecrets(
      config,
      `MCP server '${server}' cannot be started: ${packages.join(", ")} ${packages.length === 1 ? "is" : "are"} not installed; run \`npm i ${packages.join(" ")}\` in the project.`,
    );
  }
  const unknown = /404 Not Found - GET \S+\/([^/\s]+)\s/.exec(stderr);
  if (unknown && /\bnpx$/.test(config.command)) {
    const name = decodeURIComponent(unknown[1]!);
    return redactSecrets(config, `MCP server '${server}' cannot be started: npx found no package '${name}', here or on the registry. Check the package name in ${fix}.args.`);
  }
  return undefined;
}

/** `["@scope/name@1.2.3","x@2"]` as package names, versions dropped. */
function parsePackageList(list: string): string[] {
  try {
    const specs = JSON.parse(list) as unknown;
    if (Array.isArray(specs)) return specs.map((spec) => String(spec).replace(/(?<=.)@[^@/]*$/, ""));
  } catch {
    // Not JSON after all: fall through to the raw text.
  }
  return [list];
}

/**
 * Says what happened to the server in words an operator can act on. The message becomes an
 * activity failure in workflow history, and it quotes the URL, the command line, error text and
 * stderr, so the server's configured secrets are masked.
 */
export function failureMessage(conn: FailedConnection, phase: string, error: unknown): string {
  return redactSecrets(conn.config, describeFailure(conn, phase, error));
}

function describeFailure(conn: FailedConnection, phase: string, error: unknown): string {
  const { server, config, stdio } = conn;
  const lastStderr = conn.stderrTail.at(-1);
  if (stdio?.exit) {
    return `MCP server '${server}' ${describeExit(stdio)} during ${phase}${lastStderr ? `: ${lastStderr}` : ""}`;
  }
  if ("command" in config) {
    const started = stdio?.pid != null;
    const what = started ? `failed during ${phase}` : `could not be started (command '${commandLine(config)}')`;
    return `MCP server '${server}' ${what}: ${errorText(error)}${lastStderr && started ? ` (stderr: ${lastStderr})` : ""}`;
  }
  return `MCP server '${server}' at ${config.url} failed during ${phase}: ${errorText(error)}`;
}
