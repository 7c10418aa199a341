/** Builds the transport for a server's config: a child process over stdio, Streamable HTTP or SSE. */
import path from "node:path";
import { SSEClientTransport, StreamableHTTPClientTransport, type OAuthClientProvider, type Transport } from "@modelcontextprotocol/client";
import { getDefaultEnvironment } from "@modelcontextprotocol/client/stdio";
import type { McpServerConfig } from "../../config/schema.js";
import { ClientCredentialsProvider } from "../../auth/client-credentials.js";
import { EnterpriseManagedProvider } from "../../auth/enterprise-managed.js";
import type { McpServerMisbehavior } from "../../auth/errors.js";
import { DuragentOAuthProvider, type ScopeChallengeHandler } from "../../auth/oauth-provider.js";
import { scopeRefused } from "../../auth/step-up.js";
import { guardedFetch } from "./http-guards.js";
import { ObservedStdioTransport } from "./stdio-transport.js";


export interface TransportOptions {
  /** Supplies the OAuth client for servers configured with `auth`; defaults to the token store. */
  authProvider?: ((server: string, config: McpServerConfig) => OAuthClientProvider | undefined) | undefined;
  /** Masks the server's secrets (connections.ts, `serverLogger`). */
  logger: { debug: (obj: Record<string, unknown>, msg?: string) => void };
  /** The most the server may send in one message. */
  maxMessageBytes: number;
  /** Told as soon as an HTTP server misbehaves (an oversized message), so the connection fails its requests at once. */
  onMisbehavior: (error: McpServerMisbehavior) => void;
  /** Told when an HTTP answer broke off mid-stream, so the connection fails its requests at once. */
  onAnswerLost?: (error: unknown) => void;
}

export function createTransport(
  server: string,
  config: McpServerConfig,
  { authProvider: customAuthProvider, logger, maxMessageBytes, onMisbehavior, onAnswerLost }: TransportOptions,
): { transport: Transport; stdio: ObservedStdioTransport | undefined } {
  if ("command" in config) {
    const stdio = new ObservedStdioTransport({
      command: config.command,
      args: config.args ?? [],
      env: { ...getDefaultEnvironment(), ...config.env },
      ...(config.cwd !== undefined ? { cwd: path.resolve(config.cwd) } : {}),
      stderr: "pipe",
      // The SDK's 10 MiB default drops the connection on a big file before our cut can apply.
      maxBufferSize: maxMessageBytes,
    });
    return { transport: stdio, stdio };
  }
  const url = new URL(config.url);
  const requestInit: RequestInit = config.headers ? { headers: config.headers } : {};
  // OAuth tokens come from the token store on this machine (see src/auth), never from the run;
  // client credentials and enterprise ID tokens from the worker's environment or files.
  const auth = config.auth;
  const authProvider = auth
    ? (customAuthProvider?.(server, config) ??
      (auth.type === "client_credentials"
        ? new ClientCredentialsProvider(server, config.url, auth)
        : auth.type === "enterprise_managed"
          ? new EnterpriseManagedProvider(server, config.url, auth)
          : new DuragentOAuthProvider(server, auth)))
    : undefined;
  const fetch = guardedFetch({
    server,
    url,
    maxMessageBytes,
    onMisbehavior,
    ...(onAnswerLost ? { onAnswerLost } : {}),
    ...(authProvider
      ? {
          onInsufficientScope: async (challenge) =>
            "insufficientScope" in authProvider ? (authProvider as ScopeChallengeHandler).insufficientScope(challenge) : scopeRefused(server, challenge),
        }
      : {}),
  });
  const options = { requestInit, fetch, ...(authProvider ? { authProvider } : {}) };
  if (config.transport === "sse") {
    return { transport: new SSEClientTransport(url, options), stdio: undefined };
  }
  logger.debug({ mcpServer: server, url: url.href }, "Using Streamable HTTP transport");
  return { transport: new StreamableHTTPClientTransport(url, options), stdio: undefined };
}
