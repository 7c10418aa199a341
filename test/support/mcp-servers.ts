/** Commands that start the real MCP servers from npm, without npx or the network. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { StdioServerConfig } from "../../src/config/schema.js";

const require = createRequire(import.meta.url);

export function packageBin(packageName: string): string {
  const manifestPath = require.resolve(`${packageName}/package.json`);
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { bin: string | Record<string, string> };
  const bin = typeof manifest.bin === "string" ? manifest.bin : Object.values(manifest.bin)[0]!;
  return join(dirname(manifestPath), bin);
}

export function filesystemServer(...directories: string[]): StdioServerConfig {
  return { transport: "stdio", command: process.execPath, args: [packageBin("@modelcontextprotocol/server-filesystem"), ...directories] };
}

export function everythingServer(): StdioServerConfig {
  return { transport: "stdio", command: process.execPath, args: [packageBin("@modelcontextprotocol/server-everything"), "stdio"] };
}
