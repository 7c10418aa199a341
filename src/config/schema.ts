/**
 * The shape of `duragent.config.yaml` (and `duragent.secrets.yaml`, merged over it).
 * Every field is checked here, so the rest of the code can trust a loaded config.
 */
import { z } from "zod";

const McpServerCommon = {
  /** Tool names this server may expose to agents; all when absent. Glob `*` is allowed. */
  allowedTools: z.array(z.string()).optional(),
  /** Directories (paths or file:// URIs) offered to the server as MCP roots. */
  roots: z.array(z.string()).optional(),
  /** Per-request timeout in milliseconds. */
  timeoutMs: z.number().int().positive().optional(),
};

export const StdioServerSchema = z.strictObject({
  transport: z.literal("stdio").optional(),
  command: z.string().min(1),
  args: z.array(z.string()).optional(),
  env: z.record(z.string(), z.string()).optional(),
  cwd: z.string().optional(),
  ...McpServerCommon,
});

export const HttpServerSchema = z.strictObject({
  /** `http` is Streamable HTTP; `sse` is the older HTTP+SSE transport. */
  transport: z.enum(["http", "sse"]).optional(),
  url: z.url(),
  headers: z.record(z.string(), z.string()).optional(),
  ...McpServerCommon,
});

export const McpServerSchema = z.union([StdioServerSchema, HttpServerSchema]);
export type McpServerConfig = z.infer<typeof McpServerSchema>;
export type StdioServerConfig = z.infer<typeof StdioServerSchema>;
export type HttpServerConfig = z.infer<typeof HttpServerSchema>;

export const ProviderSchema = z.strictObject({
  /** Which wire format the provider speaks; defaults to the provider's own name. */
  kind: z.enum(["openai", "anthropic"]).optional(),
  apiKey: z.string().optional(),
  /** Any OpenAI-compatible server works here: Ollama, vLLM, llama.cpp. */
  baseURL: z.url().optional(),
  headers: z.record(z.string(), z.string()).optional(),
});
export type ProviderConfig = z.infer<typeof ProviderSchema>;

const DurationMs = z.number().int().positive();

const ActivityPolicySchema = z.strictObject({
  maximumAttempts: z.number().int().min(1).max(100).optional(),
  initialIntervalMs: DurationMs.optional(),
  backoffCoefficient: z.number().min(1).optional(),
  maximumIntervalMs: DurationMs.optional(),
  startToCloseTimeoutMs: DurationMs.optional(),
  heartbeatTimeoutMs: DurationMs.optional(),
});

export const AgentSchema = z.strictObject({
  instruction: z.string().min(1),
  /** Names of entries in `mcp.servers`. */
  servers: z.array(z.string()).default([]),
  model: z.string().optional(),
  maxIterations: z.number().int().positive().optional(),
});
export type AgentConfig = z.infer<typeof AgentSchema>;

export const ConfigSchema = z.strictObject({
  engine: z.enum(["memory", "temporal"]).default("memory"),
  temporal: z
    .strictObject({
      address: z.string().default("localhost:7233"),
      namespace: z.string().default("default"),
      taskQueue: z.string().default("duragent"),
      /** The Web UI base, for the links the CLI prints. */
      uiUrl: z.string().default("http://localhost:8233"),
      /** API key for Temporal Cloud or another remote cluster; implies TLS. */
      apiKey: z.string().optional(),
      tls: z
        .union([
          z.boolean(),
          z.strictObject({
            serverName: z.string().optional(),
            serverRootCaCertPath: z.string().optional(),
            clientCertPath: z.string().optional(),
            clientKeyPath: z.string().optional(),
          }),
        ])
        .optional(),
    })
    .prefault({}),
  mcp: z
    .strictObject({
      servers: z.record(z.string(), McpServerSchema).default({}),
    })
    .prefault({}),
  llm: z
    .strictObject({
      defaultModel: z.string().default("openai:gpt-4.1-mini"),
      providers: z.record(z.string(), ProviderSchema).default({}),
    })
    .prefault({}),
  execution: z
    .strictObject({
      maxIterations: z.number().int().positive().default(10),
      llm: ActivityPolicySchema.optional(),
      tools: ActivityPolicySchema.optional(),
    })
    .prefault({}),
  agents: z.record(z.string(), AgentSchema).default({}),
  /** TypeScript modules (relative to the config file) exporting agents and workflows. */
  modules: z.array(z.string()).default([]),
});
export type DuragentConfig = z.infer<typeof ConfigSchema>;
