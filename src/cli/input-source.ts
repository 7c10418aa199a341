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
