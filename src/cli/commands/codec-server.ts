/**
 * `duragent codec-server`: decrypt the config's encrypted payloads for the Temporal Web UI and
 * CLI (Temporal's codec-server protocol), with the keys of `codec:` in duragent.config.yaml.
 * Whoever runs it sees the payloads; Temporal itself still stores only ciphertext.
 */
import { webUiBase } from "../../client/temporal-connection.js";
import { startCodecServer, originOf, UnsafeCodecBinding } from "../../codec/codec-server.js";
import { payloadCodecFor } from "../../codec/data-converter.js";
import { UserError } from "../../errors/user-error.js";
import type { CommandContext } from "../context.js";

export interface CodecServerCommandOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Web UI origins allowed to call it; the configured Web UI's when empty. */
  origin: string[];
  /** Falls back to DURAGENT_CODEC_TOKEN. */
  token?: string;
  /** Told once it listens. */
  onListening?: (listening: { url: string; origins: string[] }) => void | Promise<void>;
  /** Stops it, besides Ctrl-C and SIGTERM; for programs (and tests) that run the command in-process. */
  signal?: AbortSignal;
}

export async function codecServerCommand(context: CommandContext, options: CodecServerCommandOptions): Promise<void> {
  const config = await context.config();
  if (!config.codec) {
    throw new UserError("The config has no codec: section, so there is nothing to decrypt.", {
      hint: "Add codec.keys to duragent.config.yaml (see README, \"Encrypted payloads\"), or pass --config with the file that has them.",
    });
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new UserError(`--port must be a port number from 0 to 65535, got ${options.port}.`);
  }
  const origins = options.origin.length > 0 ? options.origin : defaultOrigins(webUiBase(config.temporal));
  for (const origin of origins) {
    try {
      originOf(origin);
    } catch {
      throw new UserError(`--origin ${origin} is not a URL.`, { hint: "Give the Web UI's address, e.g. --origin http://localhost:8233." });
    }
  }
  const token = options.token ?? process.env.DURAGENT_CODEC_TOKEN;
  const server = await startCodecServer({
    codec: payloadCodecFor(config.codec),
    host: options.host,
    port: options.port,
    origins,
    logger: await context.logger(),
    ...(token ? { token } : {}),
  }).catch((error: unknown) => {
    if (error instanceof UnsafeCodecBinding) throw new UserError(error.message);
    if (typeof error === "object" && error !== null && "code" in error && error.code === "EADDRINUSE") {
      throw new UserError(`Port ${options.port} on ${options.host} is in use.`, { hint: "Pick another with --port, or --port 0 for any free one." });
    }
    throw error;
  });
  try {
    await options.onListening?.({ url: server.url, origins });
    await untilStopped(options.signal);
  } finally {
    await server.close();
  }
}

/** The Web UI's origin; for a local one, under both loopback names, since either may be typed. */
function defaultOrigins(uiBase: string): string[] {
  const url = new URL(uiBase);
  if (url.hostname !== "localhost" && url.hostname !== "127.0.0.1") return [url.origin];
  return ["localhost", "127.0.0.1"].map((host) => `${url.protocol}//${host}${url.port ? `:${url.port}` : ""}`);
}

function untilStopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      signal?.removeEventListener("abort", stop);
      resolve();
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    if (signal?.aborted) stop();
    else signal?.addEventListener("abort", stop, { once: true });
  });
}
