/**
 * Temporal's own environment configuration, read as the Temporal CLI and SDKs read it:
 * `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS_*`,
 * `TEMPORAL_GRPC_META_*`, and profiles in `temporal.toml` (`TEMPORAL_CONFIG_FILE`,
 * `TEMPORAL_PROFILE`). What it gives fills the keys the config's `temporal:` section leaves out;
 * the config file wins.
 */
import { loadClientConfigProfile, type ClientConfigProfile, type ConfigDataSource } from "@temporalio/envconfig";
import { UserError } from "../errors/user-error.js";

/** A `temporal:` section, as plain data to merge under the config file's own. */
export function temporalEnvironment(env: NodeJS.ProcessEnv, profile?: string): Record<string, unknown> {
  let loaded: ClientConfigProfile;
  try {
    loaded = loadClientConfigProfile({
      overrideEnvVars: Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)),
      ...(profile !== undefined ? { profile } : {}),
    });
  } catch (error) {
    throw new UserError(`Temporal's environment configuration cannot be read: ${withoutSourceLines(error instanceof Error ? error.message : String(error))}`, {
      hint: "Check the temporal.toml file (TEMPORAL_CONFIG_FILE, or ~/.config/temporalio/temporal.toml) and TEMPORAL_PROFILE.",
    });
  }
  const section: Record<string, unknown> = {};
  if (loaded.address !== undefined) section.address = loaded.address;
  if (loaded.namespace !== undefined) section.namespace = loaded.namespace;
  if (loaded.apiKey !== undefined) section.apiKey = loaded.apiKey;
  if (loaded.grpcMeta !== undefined && Object.keys(loaded.grpcMeta).length > 0) section.metadata = loaded.grpcMeta;
  const { tls } = loaded;
  if (tls?.disabled) section.tls = false;
  else if (tls && Object.keys(tls).length > 0) {
    section.tls = {
      ...(tls.serverName !== undefined ? { serverName: tls.serverName } : {}),
      ...source("serverRootCaCert", tls.serverCACert),
      ...source("clientCert", tls.clientCert),
      ...source("clientKey", tls.clientKey),
    };
  }
  return section;
}

/** A file as `<key>Path`, inline PEM as `<key>`. */
function source(key: string, data: ConfigDataSource | undefined): Record<string, string> {
  if (data === undefined) return {};
  if ("path" in data) return { [`${key}Path`]: data.path };
  return { [key]: typeof data.data === "string" ? data.data : Buffer.from(data.data).toString("utf8") };
}

/**
 * A TOML parser's message without the lines of the file it quotes (an `api_key = "…"` line is a
 * secret), keeping the line number: `Invalid TOML document: … (line 2)`.
 */
function withoutSourceLines(message: string): string {
  const lines = message.split("\n");
  const caret = lines.findIndex((line) => /^\s*\^\s*$/.test(line));
  const at = caret > 0 ? /^(\d+):/.exec(lines[caret - 1]!) : null;
  return `${lines[0]!.trim()}${at ? ` (line ${at[1]})` : ""}`;
}
