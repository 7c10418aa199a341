/** Classifying the errors a connection throws, and describing its failures for operators. */
import { toolModuleFailure } from "../../tools/tool-server-command.js";
import path from "node:path";
import { OAuthError, ProtocolError, SdkError, SdkErrorCode, SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/client";
import { ApplicationFailure } from "@temporalio/common";
import { describeOAuthFailure } from "../../auth/authorization-server.js";
import { CredentialsUnavailable } from "../../auth/worker-grant.js";
import { McpAuthorizationError, McpServerMisbehavior } from "../../auth/errors.js";
import { FailureType, nextAttemptPromises } from "../../common/failures.js";
import type { McpServerConfig } from "../../config/schema.js";
import { systemCode } from "../../errors/system-code.js";
import { redactSecrets } from "../redact-secrets.js";
import { commandLine, describeExit, type ObservedStdioTransport } from "./stdio-transport.js";

/** What a failure message quotes about the connection. */
export interface FailedConnection {
  readonly server: string;
  readonly config: McpServerConfig;
  readonly stdio: ObservedStdioTransport | undefined;
  readonly stderrTail: string[];
  /** Set when the server broke the protocol badly enough that the connection was dropped (an oversized message). */
  misbehavior?: McpServerMisbehavior | undefined;
  /** The last malformed message the server sent (which the SDK skips), and when. */
  malformed?: { text: string; at: number } | undefined;
}

export function unavailable(message: string): ApplicationFailure {
  return ApplicationFailure.retryable(message, FailureType.mcpServerUnavailable);
}

/** A question the server asked during a tool call never reached the call's run. */
export function runUnreachable(server: string, tool: string, error: unknown): ApplicationFailure {
  const reason = error instanceof Error ? error.message : String(error);
  return ApplicationFailure.create({
    message: `MCP server '${server}' asked a question during ${tool} that could not reach its run (${reason}); ${nextAttemptPromises.runUnreachable}`,
    type: FailureType.runUnreachable,
    ...(error instanceof Error ? { cause: error } : {}),
  });
}

/** A JSON-RPC error the server sent, as opposed to the SDK's own "connection closed"/"timed out". */
export function isProtocolError(error: unknown): error is ProtocolError {
  return error instanceof ProtocolError;
}

/** The SDK gave up on a request: it timed out, or the connection closed under it. */
export function isRequestEnded(error: unknown, how?: "timeout"): boolean {
  if (!(error instanceof SdkError)) return false;
  return error.code === SdkErrorCode.RequestTimeout || (how === undefined && error.code === SdkErrorCode.ConnectionClosed);
}

/** A schema's refusal: zod's `ZodError` (or the zod core's `$ZodError`), or the SDK's refusal of a result that is not what MCP says. */
export function isMalformedResult(error: unknown): boolean {
  if (error instanceof SdkError) return error.code === SdkErrorCode.InvalidResult || error.code === SdkErrorCode.UnsupportedResultType;
  return error instanceof Error && (error.name === "ZodError" || error.name === "$ZodError") && Array.isArray((error as { issues?: unknown }).issues);
}

type Issue = { path?: unknown[]; message?: string };

/** The schema problems of a malformed result: a zod error's own, or those the SDK quotes in its message as JSON. */
function issuesOf(error: unknown): Issue[] | undefined {
  const issues = (error as { issues?: unknown } | undefined)?.issues;
  if (Array.isArray(issues)) return issues as Issue[];
  if (!(error instanceof SdkError)) return undefined;
  const quoted = /^Invalid result for [^:]+: (\[[\s\S]*\])$/.exec(error.message)?.[1];
  try {
    const parsed = quoted === undefined ? undefined : (JSON.parse(quoted) as unknown);
    return Array.isArray(parsed) ? (parsed as Issue[]) : undefined;
  } catch {
    return undefined;
  }
}

/** A message the server sent that is not JSON, or not the JSON-RPC or MCP message it should be. */
export function isMalformedMessage(error: unknown): boolean {
  return error instanceof SyntaxError || isMalformedResult(error) || (error instanceof Error && /^Server sent invalid initialize result/.test(error.message));
}

/** What was wrong with a malformed message, in a line: the first schema problem, or the parser's complaint. */
export function malformedText(error: unknown): string {
  const issues = issuesOf(error);
  if (isMalformedResult(error) && issues !== undefined && issues.length > 0) {
    const first = issues[0]!;
    const at = Array.isArray(first.path) && first.path.length > 0 ? ` at ${first.path.join(".")}` : "";
    return `${first.message ?? "invalid"}${at}${issues.length > 1 ? ` (and ${issues.length - 1} more problems)` : ""}`;
  }
  return errorText(error).slice(0, 300);
}

/**
 * The failures no retry can fix, as non-retryable failures that name the server and what was
 * wrong: a person must sign in, a credential is missing, the server or its authorization server
 * broke the protocol. Undefined for everything else, which the caller handles as before.
 * `since` is when the failed operation started: a malformed message from before it is not its cause.
 */
export function nonRetryableFailure(conn: FailedConnection, phase: string, error: unknown, since: number): ApplicationFailure | undefined {
  const { server, config } = conn;
  const fail = (message: string, type: FailureType): ApplicationFailure => ApplicationFailure.nonRetryable(redactSecrets(config, message), type);
  // What broke the connection comes first: the errors after it (a sign-in the SDK then asked for) are its consequences.
  if (conn.misbehavior) return fail(`${conn.misbehavior.message} (during ${phase})`, FailureType.mcpServerMisbehaved);
  if (error instanceof McpServerMisbehavior) return fail(`${error.message} (during ${phase})`, FailureType.mcpServerMisbehaved);
  if (error instanceof McpAuthorizationError) return fail(error.message, FailureType.mcpAuthorizationRequired);
  if (error instanceof CredentialsUnavailable) return fail(error.message, FailureType.configuration);
  const where = "url" in config ? ` at ${config.url}` : "";
  const unsupported = error instanceof Error ? /^Server's protocol version is not supported: (.*)$/.exec(error.message) : null;
  if (unsupported) {
    return fail(
      `MCP server '${server}'${where} answered initialize with protocol version '${unsupported[1]}', which duragent does not speak (it speaks ${SUPPORTED_PROTOCOL_VERSIONS.join(", ")}).`,
      FailureType.mcpServerMisbehaved,
    );
  }
  if (isMalformedMessage(error)) {
    return fail(`MCP server '${server}'${where} sent a malformed message during ${phase}: ${malformedText(error)}`, FailureType.mcpServerMisbehaved);
  }
  const authorization = authorizationServerFailure(conn, error);
  if (authorization) return fail(authorization.message, authorization.type);
  // The SDK skips malformed messages on a stream; the request they should have answered then times out or ends.
  if (isRequestEnded(error) && conn.malformed && conn.malformed.at >= since) {
    return fail(`MCP server '${server}'${where} sent a malformed message during ${phase} (${conn.malformed.text}) and no valid answer`, FailureType.mcpServerMisbehaved);
  }
  const refused = phase === "initialize" && "url" in config ? refusedAtStart(server, config, error) : undefined;
  if (refused) return fail(refused, FailureType.configuration);
  return undefined;
}

/**
 * An HTTP server's answer to `initialize` that no retry changes: no MCP endpoint at the URL (404),
 * or credentials it does not take (401, 403) where no `auth:` flow could get others.
 */
function refusedAtStart(server: string, config: Extract<McpServerConfig, { url: string }>, error: unknown): string | undefined {
  const status = (error as { status?: unknown } | undefined)?.status;
  if (status === 404) return `MCP server '${server}': nothing answers MCP at ${config.url} (HTTP 404). Check mcp.servers.${server}.url, the MCP endpoint's whole path (often /mcp).`;
  if ((status !== 401 && status !== 403) || config.auth !== undefined) return undefined;
  const header = Object.keys(config.headers ?? {}).find((name) => name.toLowerCase() === "authorization");
  const said = status === 401 ? "HTTP 401: it requires authorization" : "HTTP 403: access denied";
  return `MCP server '${server}' at ${config.url} refused duragent (${said}). ${
    header ? `It did not accept the ${header} header in mcp.servers.${server}.headers` : `Give it credentials: mcp.servers.${server}.auth, or an Authorization header under mcp.servers.${server}.headers`
  }.`;
}

/**
 * Why an authorization server's answer could not be used, when no retry can change it: an OAuth
 * error it returned (other than its own trouble), or metadata and token responses that are not
 * what OAuth says. Undefined for anything else, including its 5xx answers, which may pass.
 */
function authorizationServerFailure(conn: FailedConnection, error: unknown): { message: string; type: FailureType } | undefined {
  const { server, config } = conn;
  const code = error instanceof OAuthError ? error.code : undefined;
  if (code !== undefined) {
    if (code === "temporarily_unavailable") return undefined;
    if (code === "server_error" && /^HTTP 5\d\d/.test((error as Error).message)) return undefined;
    const said = describeOAuthFailure(error);
    const refused = `The authorization server of MCP server '${server}' refused duragent's request (${code}${said ? `: ${said}` : ""}).`;
    // Credentials the worker holds itself are fixed in the config; a person's sign-in is renewed by logging in.
    const workerCredentials = "auth" in config && (config.auth?.type === "client_credentials" || config.auth?.type === "enterprise_managed");
    return workerCredentials
      ? { message: `${refused} Check the client credentials in mcp.servers.${server}.auth.`, type: FailureType.configuration }
      : { message: `${refused} Run \`duragent auth login ${server}\` to sign in again, or check mcp.servers.${server}.auth.`, type: FailureType.mcpAuthorizationRequired };
  }
  if (!(error instanceof Error)) return undefined;
  if (/^Incompatible auth server|^Protected resource .* does not match|^OAuth client information is bound to authorization server|HTTP 4\d\d trying to load/.test(error.message)) {
    return { message: `MCP server '${server}' cannot be authorized: ${error.message}`, type: FailureType.mcpServerMisbehaved };
  }
  return undefined;
}

export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { message?: unknown } | undefined;
  const code = systemCode(error);
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
export function missingCommand(conn: FailedConnection, error: unknown, exists: (file: string) => boolean): string | undefined {
  const { server, config } = conn;
  if (!("command" in config)) return undefined;
  const fix = `mcp.servers.${server}`;
  if (conn.stdio?.pid == null && (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    // Node says ENOENT alike for a command it cannot find and a working directory that is not there.
    const absent = absentCommand(server, config, exists, () => false);
    if (absent) return absent;
  }
  const stderr = conn.stderrTail.join("\n");
  const module = stderr.split("\n").findLast((line) => line.startsWith(toolModuleFailure));
  if (module) return redactSecrets(config, `MCP server '${server}' (function tools) cannot start: ${module.slice(toolModuleFailure.length)}`);
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

/**
 * A stdio server whose working directory or command is not there, said with its fix; undefined
 * when both are. `onPath` says whether a bare command name is found on the PATH the server gets.
 */
export function absentCommand(server: string, config: McpServerConfig, exists: (file: string) => boolean, onPath: (command: string, pathVariable: string | undefined) => boolean): string | undefined {
  if (!("command" in config)) return undefined;
  const fix = `mcp.servers.${server}`;
  if (config.cwd !== undefined && !exists(path.resolve(config.cwd))) {
    return redactSecrets(config, `MCP server '${server}' could not be started: its working directory '${config.cwd}' does not exist. Create it, or fix ${fix}.cwd.`);
  }
  if (/[\\/]/.test(config.command)) {
    if (exists(path.resolve(config.cwd ?? ".", config.command))) return undefined;
    return redactSecrets(config, `MCP server '${server}' could not be started (command '${commandLine(config)}'): '${config.command}' does not exist. Fix ${fix}.command.`);
  }
  const pathVariable = config.env?.PATH ?? process.env.PATH;
  if (!onPath(config.command, pathVariable)) {
    return redactSecrets(
      config,
      `MCP server '${server}' could not be started (command '${commandLine(config)}'): '${config.command}' is not installed (not found on PATH). Install it, or fix ${fix}.command.`,
    );
  }
  // `npx --no-install` runs only what is installed: said now, not at the first step that needs it.
  const target = npxNoInstallTarget(config);
  if (target === undefined || onPath(target, pathVariable) || installedAbove(path.resolve(config.cwd ?? "."), target, exists)) return undefined;
  return redactSecrets(
    config,
    `MCP server '${server}' could not be started (command '${commandLine(config)}'): '${target}' is not installed here, and \`npx --no-install\` does not download it. Install it in the project (npm install), or fix ${fix}.args.`,
  );
}

/** The package or command `npx --no-install` (or `--no`) is to run; undefined for any other command. */
function npxNoInstallTarget(config: { command: string; args?: string[] }): string | undefined {
  const args = config.args ?? [];
  if (!/(^|[\\/])npx(\.cmd)?$/.test(config.command) || !args.some((arg) => arg === "--no-install" || arg === "--no" || arg === "--yes=false")) return undefined;
  // `-p <package> <command>`: which package holds the command is npx's business.
  if (args.some((arg) => arg === "-p" || arg.startsWith("--package"))) return undefined;
  const first = args.find((arg) => !arg.startsWith("-"));
  return first === undefined ? undefined : packageName(first);
}

/** Whether a command or package is installed in `dir`'s node_modules or one above it, where npx looks. */
function installedAbove(dir: string, name: string, exists: (file: string) => boolean): boolean {
  for (let at = dir; ; at = path.dirname(at)) {
    if (exists(path.join(at, "node_modules", ".bin", name)) || exists(path.join(at, "node_modules", name, "package.json"))) return true;
    if (path.dirname(at) === at) return false;
  }
}

/** A package spec's name: `@scope/name@1.2.3` → `@scope/name`; a version is not part of it. */
function packageName(spec: string): string {
  return spec.replace(/(?<=.)@[^@/]*$/, "");
}

/** `["@scope/name@1.2.3","x@2"]` as package names, versions dropped. */
function parsePackageList(list: string): string[] {
  try {
    const specs = JSON.parse(list) as unknown;
    if (Array.isArray(specs)) return specs.map((spec) => packageName(String(spec)));
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

/**
 * The stderr line that says what went wrong: the last error line (`Error: …`, `TypeError: …`,
 * `ValueError: …`), else the last line that is not the runtime's own trailer. Node closes a crash
 * with the stack, sometimes the error's properties (`{ code: … }`), and its version.
 */
export function tellingStderrLine(tail: readonly string[]): string | undefined {
  const errorLine = tail.findLast((line) => /^\s*(\w+\.)*\w*(Error|Exception)\b(\s*\[\w+\])?:\s/.test(line));
  if (errorLine) return errorLine.trim();
  const trailer = (line: string) => /^\s+at\s/.test(line) || /^Node\.js v\d+/.test(line.trim()) || /^\s*\.\.\. \d+ lines? matching/.test(line);
  return tail.findLast((line) => !trailer(line)) ?? tail.at(-1);
}

function describeFailure(conn: FailedConnection, phase: string, error: unknown): string {
  const { server, config, stdio } = conn;
  const lastStderr = tellingStderrLine(conn.stderrTail);
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
