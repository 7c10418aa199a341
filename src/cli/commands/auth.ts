/** `duragent auth login <server>`: sign in to an HTTP MCP server that uses OAuth, or check its client credentials. */
import { CredentialsUnavailable } from "../../auth/worker-grant.js";
import { loginToServer, oauthServerConfig, type LoginResult } from "../../auth/login.js";
import type { DuragentConfig } from "../../config/schema.js";
import type { CommandOutput } from "../command-output.js";
import { ExitCode, UserError } from "../../errors/user-error.js";

export interface AuthLoginOptions {
  /** Shows the authorization URL to the person; by default it is printed on stderr, so --json output stays clean. */
  openUrl?(url: URL): void | Promise<void>;
  timeoutMs?: number;
}

export async function authLoginCommand(config: DuragentConfig, server: string, options: AuthLoginOptions = {}): Promise<CommandOutput> {
  let serverConfig: ReturnType<typeof oauthServerConfig>;
  try {
    serverConfig = oauthServerConfig(server, config.mcp.servers[server], Object.keys(config.mcp.servers));
  } catch (error) {
    throw new UserError((error as Error).message);
  }
  let result: LoginResult;
  try {
    result = await loginToServer(server, serverConfig, {
      openUrl: options.openUrl ?? ((url) => void process.stderr.write(`Open this URL to sign in to '${server}':\n${url.href}\n`)),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    });
  } catch (error) {
    // Every way a sign-in fails is said in its message, never as a bug's stack trace: a secret that
    // cannot be read is the config's to fix; a server that cannot be reached, refuses or misbehaves is unavailable.
    const message = error instanceof Error ? error.message : String(error);
    throw new UserError(message, { exitCode: error instanceof CredentialsUnavailable ? ExitCode.usage : ExitCode.unavailable, cause: error });
  }
  if (result.outcome === "credentials-work") {
    return {
      data: result,
      text: `MCP server '${server}' uses client credentials, and they work: its authorization server gave a token${result.scope ? ` (scope '${result.scope}')` : ""}. Workers get and refresh their own tokens; nobody signs in and nothing is stored.`,
    };
  }
  const expires = result.expiresAt !== undefined ? `; the access token expires ${new Date(result.expiresAt).toISOString()} and is refreshed as needed` : "";
  const scope = result.scope ? ` with scope '${result.scope}'` : "";
  const verb = result.outcome === "signed-in" ? "Signed in to" : "Already signed in to";
  return { data: result, text: `${verb} '${server}'${scope}. Tokens are in ${result.tokenFile} (readable by you only)${expires}.` };
}
