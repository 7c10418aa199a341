/**
 * The client the MCP conformance suite tests (`conformance client --command ...`): duragent's own
 * MCP client side, never the bare SDK. The suite starts a scenario's servers and runs
 *
 *   node --import tsx scripts/conformance/client-under-test.ts <server-url>
 *
 * with MCP_CONFORMANCE_SCENARIO naming the scenario and, for some, MCP_CONFORMANCE_CONTEXT holding
 * its credentials. Each scenario becomes what an operator would do with duragent:
 *
 * - a config naming the server (`mcp.servers.conformance`, with `auth:` for the OAuth scenarios),
 * - `duragent auth login conformance` for OAuth, the person's browser played by following the
 *   authorization server's redirect back to the login's loopback callback (the suite's
 *   authorization server approves at once),
 * - the worker's effects from `openActivityRuntime`: `listTools` and `callTool`, whose server
 *   requests (elicitation) go to a run's control and are answered as `duragent answer` would,
 * - and, when a step fails with an error that names a `duragent auth login` command, that command,
 *   then the step again, at most twice: what the error tells a person to do.
 *
 * Scenarios of authorization extensions duragent does not implement (DPoP, workload identity)
 * exit 1 with a message saying so.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { openActivityRuntime, type ActivityRuntime } from "../../src/activities/activity-runtime.js";
import { authLoginCommand } from "../../src/cli/commands/auth.js";
import type { RunChannel, ServerRequest, ServerRequestAnswer } from "../../src/common/server-requests.js";
import { rootCause } from "../../src/common/failures.js";
import { textOf } from "../../src/common/messages.js";
import { ConfigSchema, type DuragentConfig } from "../../src/config/schema.js";
import { createLogger } from "../../src/logger.js";
import { RunControl } from "../../src/workflows/executor/run-control.js";

const SERVER = "conformance";
/** The client ID metadata document URL the suite's CIMD scenario expects (it is never fetched). */
const CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json";
/** Authorization extensions duragent does not implement; their scenarios fail saying so. */
const UNSUPPORTED: [string, string][] = [
  ["auth/dpop", "DPoP-bound tokens (RFC 9449)"],
  ["auth/wif-jwt-bearer", "workload identity federation (the jwt-bearer grant with a workload's own token)"],
];
/** How many times a step may be repeated after running the login command its error names. */
const MAX_SIGN_INS_AFTER_FAILURE = 2;

const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? "";
const context = parseContext(process.env.MCP_CONFORMANCE_CONTEXT);
const toolCalls = toolCallsIn(process.env.MCP_CONFORMANCE_CONTEXT);
const serverUrl = process.argv.at(-1) ?? "";
const logger = createLogger("conformance-client", process.env.DURAGENT_LOG_LEVEL ?? "warn");
// Credentials of this process only: a fresh token store, removed at exit.
const scratch = mkdtempSync(path.join(tmpdir(), "duragent-conformance-"));
process.env.DURAGENT_OAUTH_DIR = path.join(scratch, "oauth");

function parseContext(raw: string | undefined): Record<string, string> {
  if (!raw) return {};
  const parsed = JSON.parse(raw) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(parsed).map(([key, value]) => [key, String(value)]));
}

/** The tool calls a scenario asks for in its context, arguments as given. */
function toolCallsIn(raw: string | undefined): { name: string; arguments?: Record<string, unknown> }[] {
  const calls = raw ? (JSON.parse(raw) as { toolCalls?: unknown }).toolCalls : undefined;
  return Array.isArray(calls) ? (calls as { name: string; arguments?: Record<string, unknown> }[]) : [];
}

function say(text: string): void {
  process.stderr.write(`[client-under-test] ${text}\n`);
}

function configFor(server: Record<string, unknown>): DuragentConfig {
  return ConfigSchema.parse({ mcp: { servers: { [SERVER]: { url: serverUrl, ...server } } } });
}

/** The server's `auth:` entry for each scenario, as an operator would write it. */
function authFor(name: string): Record<string, unknown> | undefined {
  if (!name.startsWith("auth/")) return undefined;
  if (name === "auth/pre-registration") return { type: "oauth", clientId: context.client_id, clientSecret: context.client_secret };
  if (name === "auth/client-credentials-basic") {
    // The secret reaches the worker through its environment, never through the config or a run.
    process.env.CONFORMANCE_CLIENT_SECRET = context.client_secret;
    return { type: "client_credentials", clientId: context.client_id, clientSecretEnv: "CONFORMANCE_CLIENT_SECRET", tokenEndpointAuthMethod: "client_secret_basic" };
  }
  if (name === "auth/client-credentials-jwt") {
    const keyFile = path.join(scratch, "client-key.pem");
    writeFileSync(keyFile, context.private_key_pem ?? "", { mode: 0o600 });
    return {
      type: "client_credentials",
      clientId: context.client_id,
      privateKeyFile: keyFile,
      signingAlgorithm: context.signing_algorithm ?? "ES256",
      tokenEndpointAuthMethod: "private_key_jwt",
    };
  }
  if (name.startsWith("auth/cross-app-access") || name === "auth/enterprise-managed-authorization") {
    // The person's ID token as the IdP's tooling would leave it; the secret in the worker's environment.
    const idTokenFile = path.join(scratch, "id-token");
    writeFileSync(idTokenFile, context.idp_id_token ?? "", { mode: 0o600 });
    process.env.CONFORMANCE_CLIENT_SECRET = context.client_secret;
    return {
      type: "enterprise_managed",
      clientId: context.client_id,
      clientSecretEnv: "CONFORMANCE_CLIENT_SECRET",
      idp: { ...(context.idp_token_endpoint ? { tokenEndpoint: context.idp_token_endpoint } : { issuer: context.idp_issuer }), clientId: context.idp_client_id, idTokenFile },
    };
  }
  const unsupported = UNSUPPORTED.find(([prefix]) => name.startsWith(prefix));
  if (unsupported) throw new Error(`${name}: duragent does not implement ${unsupported[1]}.`);
  return { type: "oauth", clientMetadataUrl: CLIENT_METADATA_URL };
}

/** Plays the person in the browser: opens the authorization URL and follows its redirect to the login's callback. */
async function signInAsPerson(url: URL): Promise<void> {
  const authorization = await fetch(url, { redirect: "manual" });
  const location = authorization.headers.get("location");
  await authorization.body?.cancel();
  if (authorization.status < 300 || authorization.status >= 400 || !location) {
    throw new Error(`the authorization server answered ${authorization.status} instead of redirecting back`);
  }
  const landed = await fetch(new URL(location, url));
  await landed.body?.cancel();
}

async function signIn(config: DuragentConfig): Promise<void> {
  const output = await authLoginCommand(config, SERVER, { openUrl: signInAsPerson, timeoutMs: 20_000 });
  say(output.text);
}

/**
 * A run's side of a tool call's server requests: the run's own control keeps them, and a person
 * answers each with an empty form (`duragent answer <run> --value '{}'`), so the run fills in the
 * schema's defaults exactly as it does for a real answer.
 */
function runChannel(): RunChannel {
  const control = new RunControl("conformance-run", async (predicate) => predicate(), Date.now);
  return {
    async ask(request: ServerRequest): Promise<ServerRequestAnswer> {
      const known = control.openServerRequest(request);
      if (known) return known;
      say(`the server asks: ${request.message}; answering with an empty form`);
      control.applyAnswer({ value: {} });
      const answer = control.serverAnswer(request.key);
      if (!answer) throw new Error(`the run kept no answer for ${request.key}`);
      return answer;
    },
    progress: () => undefined,
  };
}

/** The `duragent auth login <server>` command a failure tells the operator to run, if any. */
function loginCommandIn(error: unknown): boolean {
  return rootCause(error).includes(`duragent auth login ${SERVER}`);
}

/** Runs a step; when it fails naming the login command, runs that command and the step again. */
async function withSignIns<T>(config: DuragentConfig, step: () => Promise<T>): Promise<T> {
  for (let signIns = 0; ; signIns++) {
    try {
      return await step();
    } catch (error) {
      if (!config.mcp.servers[SERVER] || !("auth" in config.mcp.servers[SERVER]!) || !loginCommandIn(error) || signIns >= MAX_SIGN_INS_AFTER_FAILURE) throw error;
      say(`step failed: ${rootCause(error)}; running the login command it names`);
      await signIn(config);
    }
  }
}

async function main(): Promise<void> {
  if (!scenario || !serverUrl) throw new Error("usage: MCP_CONFORMANCE_SCENARIO=<scenario> client-under-test <server-url>");
  const auth = authFor(scenario);
  const config = configFor(auth ? { auth } : {});
  if (auth?.type === "oauth") await signIn(config);
  const runtime: ActivityRuntime = openActivityRuntime(config, logger);
  try {
    const { effects } = runtime;
    const tools = await withSignIns(config, () => effects.listTools(SERVER, {}));
    say(`tools: ${tools.map((tool) => tool.name).join(", ") || "(none)"}`);
    const call = async (tool: string, args: Record<string, unknown>): Promise<void> => {
      const result = await withSignIns(config, () =>
        effects.callTool({ server: SERVER, tool, arguments: args, callId: `call-${tool}` }, { run: runChannel() }),
      );
      const text = textOf(result.content);
      say(`${tool}: ${result.isError ? "error: " : ""}${text}`);
      if (result.isError) throw new Error(`${tool} failed: ${text}`);
    };
    switch (scenario) {
      case "initialize":
        break;
      case "tools_call":
        await call("add_numbers", { a: 5, b: 3 });
        break;
      case "elicitation-sep1034-client-defaults":
        await call("test_client_elicitation_defaults", {});
        break;
      case "sse-retry":
        await call("test_reconnection", {});
        break;
      case "sep-2322-client-request-state":
        // Each asks through an input_required result (or, the last, answers without resultType);
        // the unrelated call in between must carry none of the others' answers or state.
        await call("test_mrtr_echo_state", {});
        await call("test_mrtr_unrelated", {});
        await call("test_mrtr_no_state", {});
        await call("test_mrtr_no_result_type", {});
        break;
      case "http-invalid-tool-headers":
        // The only tool whose x-mcp-header annotations are valid; the others must not be offered.
        for (const tool of tools) say(`offered: ${tool.name}`);
        await call("valid_tool", { region: "us-west1" });
        break;
      default:
        // Scenarios that say which calls to make (http-custom-headers) give them in the context.
        if (toolCalls.length > 0) for (const toolCall of toolCalls) await call(toolCall.name, toolCall.arguments ?? {});
        else if (tools.some((tool) => tool.name === "test-tool")) await call("test-tool", {});
    }
  } finally {
    await runtime.close();
  }
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  say(`failed: ${rootCause(error)}`);
  exitCode = 1;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(exitCode);
