/** The stdio command that serves a module of function tools (`mcp.servers.<name>.module`). */
import { fileURLToPath } from "node:url";

/** What the tool server's stderr line starts with when the module cannot be served (it did not load, or has no tools). */
export const toolModuleFailure = "duragent tool module: ";

/** This process's Node, running the tool server on the module: from source (tests, a clone) through tsx. */
export function toolServerCommand(modulePath: string): { command: string; args: string[] } {
  const fromSource = import.meta.url.endsWith(".ts");
  const server = fileURLToPath(new URL(fromSource ? "./tool-server.ts" : "./tool-server.js", import.meta.url));
  return { command: process.execPath, args: [...(fromSource ? ["--import", import.meta.resolve("tsx")] : []), server, modulePath] };
}
