/**
 * The calls a run makes, written by hand as a user would without duragent: the OpenAI SDK for the
 * model and the MCP SDK for the echo tool, one connection each, tools listed once. The memory
 * engine's limit runs `handWrittenLoop` over them in-process; a Temporal limit runs it as a plain
 * workflow whose activities make them.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { readFileSync } from "node:fs";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport as StdioClientTransportV1 } from "@modelcontextprotocol/sdk/client/stdio.js";
import OpenAI from "openai";
import type { Calls } from "./hand-written-loop.js";

const require = createRequire(import.meta.url);
const everythingManifest = require.resolve("@modelcontextprotocol/server-everything/package.json");
export const everythingBin = join(dirname(everythingManifest), (JSON.parse(readFileSync(everythingManifest, "utf8")) as { bin: Record<string, string> }).bin["mcp-server-everything"]!);

export interface DirectCalls extends Calls {
  close(): Promise<void>;
}

/** `sdk: "v1"` runs the tool calls on the 1.x MCP SDK instead of v2, the one duragent is built on. */
export async function openDirectCalls(baseURL: string, sdk: "v1" | "v2" = "v2"): Promise<DirectCalls> {
  const openai = new OpenAI({ apiKey: "bench", baseURL, maxRetries: 0 });
  const server = { command: process.execPath, args: [everythingBin, "stdio"], stderr: "ignore" as const };
  const mcp = sdk === "v1" ? new ClientV1({ name: "bench", version: "1" }) : new Client({ name: "bench", version: "1" });
  await mcp.connect(sdk === "v1" ? new StdioClientTransportV1(server) : new StdioClientTransport(server));
  const listed = (await mcp.listTools()).tools.filter((tool) => tool.name === "echo");
  const tools = listed.map((tool) => ({ type: "function" as const, function: { name: tool.name, description: tool.description ?? "", parameters: tool.inputSchema } }));
  return {
    model: async (messages) => (await openai.chat.completions.create({ model: "bench", messages, tools })).choices[0]!.message,
    tool: async (name, argumentsJson) => {
      const result = await mcp.callTool({ name, arguments: JSON.parse(argumentsJson) as Record<string, unknown> });
      return (result.content as { type: string; text?: string }[]).map((part) => part.text ?? "").join("\n");
    },
    close: () => mcp.close(),
  };
}
