/** `duragent auth login <server>`: sign in to an HTTP MCP server that uses OAuth. */
import { loginToServer, oauthServerConfig } from "../../auth/login.js";
import type { DuragentConfig } from "../../config/schema.js";
import type { CommandOutput } from "../command-output.js";
import { UserError } from "../../errors/user-error.js";

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
  const result = await loginToServer(server, serverConfig, {
    openUrl: options.openUrl ?? ((url) => void process.stderr.write(`Open this URL to sign in to '${server}':\n${url.href}\n`)),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  const expires = result.expiresAt !== undefined ? `; the access token expires ${new Date(result.expiresAt).toISOString()} and is refreshed as needed` : "";
  const verb = result.outcome === "signed-in" ? "Signed in to" : "Already signed in to";
  return { data: result, text: `${verb} '${server}'. Tokens are in ${result.tokenFile} (readable by you only)${expires}.` };
}
