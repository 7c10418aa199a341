/** The stdio command that serves a module of function tools (`mcp.servers.<name>.module`). */
import { fileURLToPath } from "node:url";

/** What the tool server's stderr line starts with when the module cannot be served (it did not load, or has no tools). */
export const toolModuleFailure = "duragent tool module: ";

const fromSource = import.meta.url.endsWith(".ts");
const serverFile = fileURLToPath(new URL(fromSource ? "./tool-server.ts" : "./tool-server.js", import.meta.url));

/** This process's Node, running the tool server on the module: from source (tests, a clone) through tsx. */
export function toolServerCommand(modulePath: string): { command: string; args: string[] } {
  return { command: process.execPath, args: [...(fromSource ? ["--import", import.meta.resolve("tsx")] : []), serverFile, modulePath] };
}

/** The module a server entry serves, when it is a module of function tools. */
export function toolModuleOf(server: { command?: string; args?: string[] }): string | undefined {
  const at = server.args?.indexOf(serverFile) ?? -1;
  return at >= 0 ? server.args![at + 1] : undefined;
}
