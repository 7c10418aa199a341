/**
 * Where a command's text comes from: the argument itself, a file (`@path`), or standard input
 * (`-` or `@-`), as curl reads `-d`. `@@text` is the literal `@text`.
 */
import { readFile } from "node:fs/promises";
import { text } from "node:stream/consumers";
import { ExitCode, UserError } from "../errors/user-error.js";

export async function readInputSource(raw: string, option: string): Promise<string> {
  if (raw === "-" || raw === "@-") {
    if (process.stdin.isTTY) throw new UserError(`${option} -: standard input is a terminal; pipe the input in, or pass it as text or @file.`);
    return text(process.stdin);
  }
  if (raw.startsWith("@@")) return raw.slice(1);
  if (!raw.startsWith("@")) return raw;
  const path = raw.slice(1);
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "a directory, not a file" : (error as Error).message;
    throw new UserError(`${option} ${raw}: ${why}.`, {
      exitCode: code === "ENOENT" ? ExitCode.notFound : ExitCode.usage,
      hint: "To send text that begins with @, write @@.",
    });
  }
}

/** `--tool-context`: a JSON object, as text or from a file; the client checks its size and values. */
export async function readToolContext(raw: string): Promise<Record<string, unknown>> {
  const text = await readInputSource(raw, "--tool-context");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UserError(`--tool-context is not JSON: ${(error as Error).message}.`, { hint: `Give a JSON object, e.g. --tool-context '{"userId":"u-42"}', or a file with --tool-context @file.` });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UserError(`--tool-context must be a JSON object; got ${Array.isArray(value) ? "an array" : value === null ? "null" : typeof value}.`, { hint: `e.g. --tool-context '{"userId":"u-42"}'` });
  }
  return value as Record<string, unknown>;
}

/** The client's refusal of a tool context, said of the flag. */
export function toolContextError(error: unknown): unknown {
  return error instanceof UserError && error.name === "InvalidOptions" && error.message.startsWith("the start options: toolContext")
    ? new UserError(error.message.replace(/^the start options: toolContext/, "--tool-context"))
    : error;
}
