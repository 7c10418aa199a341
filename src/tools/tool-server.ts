/**
 * The MCP server of a module of function tools, `node tool-server.js <module>`: duragent starts it
 * as it starts any stdio server (`mcp.servers.<name>.module`), in a process of its own, so a tool
 * that hangs or crashes takes no worker with it. Its tools are the module's `defineTool` exports.
 */
import { randomUUID } from "node:crypto";
import { basename, resolve } from "node:path";
import { McpServer } from "@modelcontextprotocol/server";
import { StdioServerTransport } from "@modelcontextprotocol/server/stdio";
import { importModule } from "../client/module-loader.js";
import { RunMetaSchema, runMetaKey, type RunMeta } from "../common/tools.js";
import { isUserError } from "../errors/user-error.js";
import { duragentVersion } from "../package-info.js";
import { isDuragentTool, type DuragentTool } from "./define-tool.js";
import { toolResult } from "./tool-output.js";
import { toolModuleFailure } from "./tool-server-command.js";

async function serve(modulePath: string): Promise<void> {
  // Stdout carries MCP's messages: what a tool logs goes to stderr, which the worker logs.
  console.log = console.info = console.debug = console.error;
  const exported = await importModule(resolve(modulePath), { listedUnder: "an MCP server's `module:`" });
  const tools = Object.values(exported).filter(isDuragentTool);
  if (tools.length === 0) throw new Error(`${modulePath} exports no tools: export each one made with defineTool from "duragent/tools".`);
  const named = new Map<string, DuragentTool>();
  for (const tool of tools) {
    if (named.has(tool.name) && named.get(tool.name) !== tool) throw new Error(`${modulePath} exports two tools named '${tool.name}'.`);
    named.set(tool.name, tool);
  }
  const server = new McpServer({ name: basename(modulePath).replace(/\.[cm]?[jt]sx?$/, ""), version: duragentVersion });
  for (const tool of named.values()) {
    server.registerTool(
      tool.name,
      {
        description: tool.description,
        inputSchema: tool.input,
        ...(tool.title !== undefined ? { title: tool.title } : {}),
        ...(tool.annotations !== undefined ? { annotations: tool.annotations } : {}),
      },
      async (args, ctx) => {
        const token = ctx.mcpReq._meta?.progressToken;
        const progress = async (done: number, total?: number, message?: string) => {
          if (token === undefined) return;
          await ctx.mcpReq.notify({ method: "notifications/progress", params: { progressToken: token, progress: done, ...(total !== undefined ? { total } : {}), ...(message !== undefined ? { message } : {}) } });
        };
        const run = runOf(ctx.mcpReq._meta?.[runMetaKey]);
        const toolContext = tool.toolContext ? tool.toolContext.safeParse(run.toolContext) : { success: true as const, data: run.toolContext };
        if (!toolContext.success) {
          const issues = toolContext.error.issues.map((issue) => `${issue.path.join(".") || "(the whole context)"}: ${issue.message}`).join("; ");
          return { content: [{ type: "text", text: `The run's tool context does not have what '${tool.name}' needs (${issues}): start the run with it (toolContext, or duragent run --tool-context).` }], isError: true };
        }
        return toolResult(await tool.run(args as never, { signal: ctx.mcpReq.signal, progress, ...run, toolContext: toolContext.data as never }));
      },
    );
  }
  await server.connect(new StdioServerTransport());
}

/** The run a call says it is of; a caller other than duragent (an MCP inspector) says none, and each call is then its own. */
function runOf(meta: unknown): RunMeta {
  const parsed = RunMetaSchema.safeParse(meta);
  return parsed.success ? parsed.data : { runId: "", idempotencyKey: randomUUID(), attempt: 1, toolContext: {} };
}

const [modulePath] = process.argv.slice(2);
if (modulePath === undefined) {
  process.stderr.write("usage: tool-server <module>\n");
  process.exit(2);
}
serve(modulePath).catch((error: unknown) => {
  // One marked line on stderr: the worker reads it as the connection's failure, which no retry mends.
  const message = isUserError(error) && error.hint ? error.message.slice(0, -error.hint.length - 1) : error instanceof Error ? error.message : String(error);
  process.stderr.write(`${toolModuleFailure}${message.replace(/\s*\n\s*/g, " ")}\n`);
  process.exit(1);
});
