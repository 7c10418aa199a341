/**
 * Reads the payload-encryption keys that `codec.keys` points at: environment variables or files,
 * read by the client or worker process when it connects. Key bytes never pass through the config
 * loader, a workflow input or a log line; errors name the config entry and the source, not the key.
 */
import { readFileSync } from "node:fs";
import type { CodecConfig } from "../config/schema.js";
import { displayPath, UserError } from "../errors/user-error.js";
import { keyBytes, type CodecKey } from "./aes-gcm-codec.js";

const newKeyHint = "A key is 32 random bytes written as base64 or hex text, e.g. from `openssl rand -base64 32`.";

export function readCodecKeys(codec: CodecConfig, env: NodeJS.ProcessEnv = process.env): CodecKey[] {
  return codec.keys.map((entry, index) => {
    const where = `codec.keys.${index} ("${entry.id}")`;
    let text: string;
    let source: string;
    if (entry.env !== undefined) {
      source = `the environment variable ${entry.env}`;
      const value = env[entry.env];
      if (value === undefined || value.trim() === "") {
        throw new UserError(`${where}: the environment variable ${entry.env} is not set.`, {
          hint: `Set it in the environment of every client and worker. ${newKeyHint}`,
        });
      }
      text = value;
    } else {
      const file = entry.file!;
      source = `the file ${displayPath(file)}`;
      try {
        text = readFileSync(file, "utf8");
      } catch (error) {
        const code = error instanceof Error && "code" in error ? String(error.code) : "unknown error";
        throw new UserError(`${where}: cannot read the key file ${displayPath(file)} (${code}).`, {
          hint: `Check the path (relative paths start at the config file's directory) and that this process may read it. ${newKeyHint}`,
          cause: error,
        });
      }
    }
    return { id: entry.id, key: parseKeyText(text, { where, source, use: "AES-256" }) };
  });
}

/**
 * 32 bytes from hex (64 digits) or base64 text; surrounding whitespace, such as a file's last
 * newline, is ignored. Errors say `where` the key was asked for and its `source`, never the key.
 */
export function parseKeyText(text: string, about: { where: string; source: string; use: string }): Uint8Array {
  const { where, source, use } = about;
  const trimmed = text.trim();
  let key: Buffer;
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) key = Buffer.from(trimmed, "hex");
  else if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) key = Buffer.from(trimmed, "base64");
  else throw new UserError(`${where}: the key in ${source} is not base64 or hex text.`, { hint: newKeyHint });
  if (key.length !== keyBytes) {
    throw new UserError(`${where}: the key in ${source} is ${key.length} bytes; ${use} needs ${keyBytes}.`, { hint: newKeyHint });
  }
  return key;
}
