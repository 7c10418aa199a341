/** Masks a server's configured secrets in text that quotes its URL, command line or errors. */
import type { McpServerConfig } from "../../config/schema.js";

/** Flags whose value is a credential: `--api-key sk-...`, `--header "Authorization: Bearer ..."`. */
const secretFlag = /^--?[\w-]*(key|token|secret|passw|auth|header|credential|cookie)[\w-]*$/i;
/** Shorter values are settings ("true", "debug"), and masking them would garble every message. */
const MIN_SECRET_LENGTH = 8;

/**
 * The values in a server's config that may be secrets: env and header values, URL credentials
 * and query values, and the values of credential flags in `args`, with their parts after
 * "Bearer " or "Name:". Longest first, so a whole value is masked before a part of it.
 */
function secretValuesOf(config: McpServerConfig): string[] {
  const values: string[] = [];
  const withParts = (value: string) => values.push(value, ...value.split(/[\s:=]+/));
  if ("command" in config) {
    Object.values(config.env ?? {}).forEach(withParts);
    const args = config.args ?? [];
    args.forEach((arg, index) => {
      const [flag, inline] = arg.split(/=(.*)/s);
      if (!flag || !secretFlag.test(flag)) return;
      if (inline !== undefined) withParts(inline);
      else if (args[index + 1] !== undefined) withParts(args[index + 1]!);
    });
  } else {
    Object.values(config.headers ?? {}).forEach(withParts);
    const url = URL.canParse(config.url) ? new URL(config.url) : undefined;
    if (url) {
      for (const value of [url.username, url.password, ...url.searchParams.values()]) values.push(value, safeDecode(value));
      url.search.slice(1).split("&").forEach((pair) => values.push(pair.split("=")[1] ?? ""));
    }
  }
  return [...new Set(values)].filter((value) => value.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Masks a server's configured secrets in text bound for workflow history, logs or the Web UI. */
export function redactSecrets(config: McpServerConfig, text: string): string {
  return secretValuesOf(config).reduce((masked, secret) => masked.split(secret).join("***"), text);
}
