/**
 * The shape of `duragent.config.yaml` (and `duragent.secrets.yaml`, merged over it).
 * Every field is checked here, so the rest of the code can trust a loaded config.
 * Paths (`cwd`, `roots`, `modules`, TLS files, codec key files) may be relative: the loader
 * resolves them against the config file's directory.
 */
import { toolServerCommand } from "../tools/tool-server-command.js";
import { z } from "zod";
import { ToolResultClearingSchema } from "../common/tool-result-clearing.js";
import { agentReferences, PatternSpecSchema } from "../workflows/patterns/pattern-spec.js";
import { defaultRunSettings } from "../common/run-settings.js";

const defaultToolStepMs = defaultRunSettings.tools.startToCloseTimeoutMs;

/** `provider:model`; the model part may itself hold colons (`ollama:llama3.2:3b`). */
const modelRefPattern = /^[A-Za-z0-9][A-Za-z0-9._-]*:\S+$/;

/** A model reference such as `openai:gpt-4.1-mini` or `anthropic:claude-sonnet-4-5`. */
const ModelRefSchema = z
  .string()
  .regex(modelRefPattern, { message: 'expected "provider:model", e.g. "openai:gpt-4.1-mini"' });

const DurationMs = z.number().int().positive();

/** Overrides of one activity kind's retry and timeout policy; unset fields keep defaults. */
const ActivityPolicySchema = z
  .strictObject({
    /** Attempts in total, the first included; bounded so a hopeless retry loop still ends. */
    maximumAttempts: z.number().int().min(1).max(100).optional(),
    /** Delay before the first retry. */
    initialIntervalMs: DurationMs.optional(),
    /** Each retry waits this many times longer than the one before. */
    backoffCoefficient: z.number().min(1).optional(),
    /** Cap on the delay between retries. */
    maximumIntervalMs: DurationMs.optional(),
    /** Limit on one attempt. */
    startToCloseTimeoutMs: DurationMs.optional(),
    /** A running attempt that is silent this long counts as failed. */
    heartbeatTimeoutMs: DurationMs.optional(),
    /**
     * Model calls: the attempt fails once the provider has sent nothing this long (before the
     * answer begins, or between a stream's events); at most `startToCloseTimeoutMs`.
     */
    idleTimeoutMs: DurationMs.optional(),
    /**
     * Tool calls: how long a call may wait for a person's answer to its server's question
     * (elicitation, a sampling approval), time `startToCloseTimeoutMs` does not count. Default 24 h.
     */
    answerWaitMs: DurationMs.optional(),
  })
  .superRefine((policy, ctx) => {
    const { initialIntervalMs, maximumIntervalMs } = policy;
    if (initialIntervalMs !== undefined && maximumIntervalMs !== undefined && maximumIntervalMs < initialIntervalMs) {
      ctx.addIssue({
        code: "custom",
        path: ["maximumIntervalMs"],
        message: `must be at least initialIntervalMs (${initialIntervalMs})`,
      });
    }
  });

const McpServerCommon = {
  /** Tool names this server may expose to agents; all when absent. Glob `*` is allowed. */
  allowedTools: z.array(z.string()).optional(),
  /** Directories (paths or file:// URIs) offered to the server as MCP roots. */
  roots: z.array(z.string()).optional(),
  /** Per-request timeout in milliseconds. */
  timeoutMs: z.number().int().positive().optional(),
  /**
   * Gives agents two tools of this server's own to reach its resources: `list_resources` and
   * `read_resource` (by URI, e.g. a resource link a tool returned), unless the server has tools of
   * those names. Default false.
   */
  resourceTools: z.boolean().optional(),
  /**
   * Gives each tool call in flight a connection of its own, so that what the server asks or says
   * during a call (elicitation, sampling, log messages) always reaches that call's run: MCP does
   * not say which call a request belongs to, and with two calls on one connection it is refused.
   * A stdio server is then started once more for each call that overlaps another, and a connection
   * idle for a minute beyond the first is closed. Not for a server that keeps state between calls
   * in its process. Default false: one connection per worker, shared by all calls.
   */
  exclusiveCalls: z.boolean().optional(),
  /**
   * Each call tells the server its run under `_meta["duragent/run"]`: the run's id, the call's
   * idempotency key and attempt, and the run's `toolContext` (a user's id, a tenant). On for
   * modules of function tools, whose `run` is given them; off by default for other servers, which
   * should not see what the run keeps from its models.
   */
  toolContext: z.boolean().optional(),
  /**
   * This server's calls' retry and timeout policy, over `execution.tools`: e.g. `maximumAttempts: 1`
   * for tools that must not run twice, or a longer `startToCloseTimeoutMs` for a slow server.
   */
  execution: ActivityPolicySchema.optional(),
  /**
   * How long the server may take to start and answer `initialize`, in milliseconds: 30 s by
   * default, or `timeoutMs` when only that is set. A run's first model call lists the tools of
   * its servers, so keep this under `execution.llm.startToCloseTimeoutMs`: a server that never
   * starts then fails that call's attempt by name, rather than the model call timing out.
   */
  startupTimeoutMs: z.number().int().positive().optional(),
  /**
   * How the server's `sampling/createMessage` requests are answered: by `llm.defaultModel` when
   * absent; `false` declares no sampling to this server, so it cannot use the run's models.
   */
  sampling: z
    .union([z.literal(false), z.strictObject({
      /** The model that answers; `llm.defaultModel` when absent. Hints from the server may pick another listed model. */
      model: ModelRefSchema.optional(),
      /** Further models the server's model hints may choose (matched by name, exactly or in part). */
      models: z.array(ModelRefSchema).optional(),
      /** Hold each sampling request until a person accepts it (a pending input request of the run). */
      approval: z.boolean().optional(),
    })])
    .optional(),
  /** The least severe server log message forwarded to our logs (`logging/setLevel`); the server decides when absent. */
  logLevel: z.enum(["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]).optional(),
};

/** A server the runtime starts as a child process and talks to over stdin/stdout. */
export const StdioServerSchema = z.strictObject({
  /** Optional: an entry without `url` is a stdio server. */
  transport: z.literal("stdio").optional(),
  /** The executable, found on PATH (e.g. `npx`, `uvx`, `node`). */
  command: z.string().min(1),
  /** Arguments passed to `command`, unchanged (no shell). */
  args: z.array(z.string()).optional(),
  /** Extra environment variables for the child, over a minimal safe environment. */
  env: z.record(z.string(), z.string()).optional(),
  /** Working directory of the child; relative to the config file; the config file's folder when absent. */
  cwd: z.string().optional(),
  ...McpServerCommon,
});

/**
 * OAuth 2.1 for an HTTP server (MCP authorization): discovery, PKCE, dynamic client registration
 * or a client ID metadata document, and token refresh. Sign in once with `duragent auth login
 * <server>`; tokens are kept in `~/.duragent/oauth/<server>.json` (mode 0600), never in a run.
 */
export const OAuthSchema = z.strictObject({
  type: z.literal("oauth"),
  /** A client registered beforehand; without it duragent registers itself with the server. */
  clientId: z.string().optional(),
  /** The pre-registered client's secret, if it has one; keep it in duragent.secrets.yaml. */
  clientSecret: z.string().optional(),
  /** An https URL of a client ID metadata document, used as the client id where the server supports it. */
  clientMetadataUrl: z.url().optional(),
  /** Scopes to ask for, space-separated; the server's advertised scopes when absent. */
  scope: z.string().optional(),
  /** The loopback port the sign-in redirect comes back to; 0 (the default) takes a free one. */
  redirectPort: z.number().int().min(0).max(65535).optional(),
});
export type OAuthConfig = z.infer<typeof OAuthSchema>;

/** JWS algorithms for `private_key_jwt` client assertions. */
const SigningAlgorithmSchema = z.enum(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]);

/**
 * The OAuth client-credentials grant, for machine-to-machine servers: workers get and refresh
 * their own tokens, nobody signs in. The client authenticates with a secret (client_secret_basic
 * or client_secret_post) or with a private key (private_key_jwt, RFC 7523). The secret or key is
 * read on the worker, from an environment variable or a file, when a token is needed: never from
 * the config itself, and never part of a run.
 */
export const ClientCredentialsSchema = z
  .strictObject({
    type: z.literal("client_credentials"),
    clientId: z.string().min(1),
    /** The environment variable holding the client secret. */
    clientSecretEnv: z.string().min(1).optional(),
    /** The file holding the client secret (surrounding whitespace is ignored); relative to the config file. */
    clientSecretFile: z.string().min(1).optional(),
    /** The environment variable holding the PEM private key for private_key_jwt. */
    privateKeyEnv: z.string().min(1).optional(),
    /** The PEM private key file (PKCS#8, SEC1 or PKCS#1) for private_key_jwt; relative to the config file. */
    privateKeyFile: z.string().min(1).optional(),
    /** The assertion's algorithm; taken from the key when absent (ES256 for a P-256 key, RS256 for RSA). */
    signingAlgorithm: SigningAlgorithmSchema.optional(),
    /** How the client authenticates at the token endpoint; private_key_jwt with a key, else what the server supports (Basic first). */
    tokenEndpointAuthMethod: z.enum(["client_secret_basic", "client_secret_post", "private_key_jwt"]).optional(),
    /** Scopes to ask for, space-separated. */
    scope: z.string().optional(),
    /** The authorization server's issuer URL; when given, the credentials are presented to no other authorization server. */
    issuer: z.url().optional(),
  })
  .superRefine((auth, ctx) => {
    const secret = [auth.clientSecretEnv, auth.clientSecretFile].filter((value) => value !== undefined).length;
    const key = [auth.privateKeyEnv, auth.privateKeyFile].filter((value) => value !== undefined).length;
    if (secret + key !== 1) {
      ctx.addIssue({
        code: "custom",
        message: "give exactly one of clientSecretEnv or clientSecretFile (a client secret), or privateKeyEnv or privateKeyFile (a private key for private_key_jwt)",
      });
      return;
    }
    const method = auth.tokenEndpointAuthMethod;
    if (key === 1 && method !== undefined && method !== "private_key_jwt") {
      ctx.addIssue({ code: "custom", path: ["tokenEndpointAuthMethod"], message: `a private key authenticates with private_key_jwt, not ${method}` });
    }
    if (secret === 1 && method === "private_key_jwt") {
      ctx.addIssue({ code: "custom", path: ["tokenEndpointAuthMethod"], message: "private_key_jwt needs privateKeyEnv or privateKeyFile, not a client secret" });
    }
    if (auth.signingAlgorithm !== undefined && key === 0) {
      ctx.addIssue({ code: "custom", path: ["signingAlgorithm"], message: "only a private key (private_key_jwt) signs; give privateKeyEnv or privateKeyFile" });
    }
  });
export type ClientCredentialsConfig = z.infer<typeof ClientCredentialsSchema>;

/** Exactly one of `<name>Env` and `<name>File` (or, when optional, at most one). */
function oneSource(name: string, optional = false) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const given = [value[`${name}Env`], value[`${name}File`]].filter((entry) => entry !== undefined).length;
    if (given > 1 || (!optional && given === 0)) ctx.addIssue({ code: "custom", message: `give ${optional ? "at most" : "exactly"} one of ${name}Env or ${name}File` });
  };
}

/**
 * Enterprise-managed authorization (SEP-990, cross-app access): the worker trades a person's ID
 * token from the enterprise's identity provider for an ID-JAG there (RFC 8693 token exchange), and
 * the ID-JAG for an access token at the MCP server's authorization server (RFC 7523 jwt-bearer).
 * Nobody signs in to the MCP server. The ID token is read from its file or environment variable at
 * each exchange, so whatever keeps it fresh (the IdP's own tooling) can replace it.
 */
export const EnterpriseManagedSchema = z
  .strictObject({
    type: z.literal("enterprise_managed"),
    /** The client at the MCP server's authorization server. */
    clientId: z.string().min(1),
    clientSecretEnv: z.string().min(1).optional(),
    /** Relative to the config file. */
    clientSecretFile: z.string().min(1).optional(),
    /** Scopes to ask for, space-separated. */
    scope: z.string().optional(),
    /** The MCP authorization server's issuer; when given, the credentials go to no other. */
    issuer: z.url().optional(),
    idp: z
      .strictObject({
        /** The identity provider's issuer URL (its token endpoint is discovered), or give `tokenEndpoint`. */
        issuer: z.url().optional(),
        tokenEndpoint: z.url().optional(),
        /** The client at the identity provider that may exchange tokens. */
        clientId: z.string().min(1),
        clientSecretEnv: z.string().min(1).optional(),
        clientSecretFile: z.string().min(1).optional(),
        /** Where the person's ID token is. */
        idTokenEnv: z.string().min(1).optional(),
        idTokenFile: z.string().min(1).optional(),
      })
      .superRefine(oneSource("clientSecret", true))
      .superRefine(oneSource("idToken"))
      .refine((idp) => idp.issuer !== undefined || idp.tokenEndpoint !== undefined, { message: "give the identity provider's issuer or its tokenEndpoint" }),
  })
  .superRefine(oneSource("clientSecret"));
export type EnterpriseManagedConfig = z.infer<typeof EnterpriseManagedSchema>;

/**
 * How duragent authenticates to an HTTP server: a person's sign-in (`oauth`), the server's own
 * credentials (`client_credentials`), or a person's enterprise identity (`enterprise_managed`).
 */
export const McpAuthSchema = z.discriminatedUnion("type", [OAuthSchema, ClientCredentialsSchema, EnterpriseManagedSchema]);
export type McpAuthConfig = z.infer<typeof McpAuthSchema>;

/** A server already running somewhere, reached over HTTP. */
export const HttpServerSchema = z.strictObject({
  /** `http` is Streamable HTTP (the default); `sse` is the older HTTP+SSE transport. */
  transport: z.enum(["http", "sse"]).optional(),
  /** The MCP endpoint, e.g. `http://localhost:3001/mcp`. */
  url: z.url(),
  /** Headers sent with every request, e.g. `Authorization: Bearer ${TOKEN}`. */
  headers: z.record(z.string(), z.string()).optional(),
  /** OAuth instead of (or besides) fixed headers: a person signs in (`type: oauth`), or the worker uses client credentials (`type: client_credentials`). */
  auth: McpAuthSchema.optional(),
  ...McpServerCommon,
});

/**
 * A module of function tools (`defineTool` exports from `duragent/tools`), served as a stdio
 * server of their own: duragent starts this Node on its tool server, in the config's folder.
 */
export const ModuleServerSchema = z.strictObject({
  /** Optional: an entry with `module` is a module of function tools. */
  transport: z.literal("module").optional(),
  /** The module's path, relative to the config file (`./tools.ts`). */
  module: z.string().min(1),
  /** Environment variables its tools read (`DATABASE_URL: ${DATABASE_URL}`), over a minimal safe environment. */
  env: z.record(z.string(), z.string()).optional(),
  ...McpServerCommon,
});

/**
 * Picks the schema before validating, so an error names the field that is wrong rather than
 * "matches no union member": an explicit `transport` decides, else `url` means HTTP and `module`
 * function tools. The chosen `transport` is written into the entry, so the output always carries it.
 */
function tagTransport(input: unknown): unknown {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return input;
  if ("transport" in input && input.transport !== undefined) return input;
  const transport = "url" in input && input.url !== undefined ? "http" : "module" in input && !("command" in input) ? "module" : "stdio";
  return { ...input, transport };
}

/** One `mcp.servers.<name>` entry: stdio when it has no `url`, HTTP when it has one; a module of function tools is a stdio server of duragent's. */
export const McpServerSchema = z.preprocess(
  tagTransport,
  z.discriminatedUnion("transport", [StdioServerSchema, HttpServerSchema, ModuleServerSchema]).transform((server) => {
    if (!("module" in server)) return server;
    const { module, transport: _module, ...rest } = server;
    return { ...rest, transport: "stdio" as const, toolContext: rest.toolContext ?? true, ...toolServerCommand(module) };
  }),
);
export type McpServerConfig = z.infer<typeof McpServerSchema>;
export type StdioServerConfig = z.infer<typeof StdioServerSchema>;
export type HttpServerConfig = z.infer<typeof HttpServerSchema>;

/** Connection details for one LLM provider; keys are the provider names used in models. */
export const ProviderSchema = z.strictObject({
  /** Which wire format the provider speaks; defaults to the provider's own name. */
  kind: z.enum(["openai", "anthropic"]).optional(),
  /** Keep it in `duragent.secrets.yaml` or write `${OPENAI_API_KEY}`; never commit it. */
  apiKey: z.string().optional(),
  /** Any OpenAI-compatible server works here: Ollama, vLLM, llama.cpp. */
  baseURL: z.url().optional(),
  /** Extra headers sent with every request. */
  headers: z.record(z.string(), z.string()).optional(),
  /** Stream answers so people see text as it comes (default true); false for compatible servers that cannot stream. */
  stream: z.boolean().optional(),
  /**
   * The most calls to this provider one worker has in flight at once, its runs' and agents' alike
   * (a batch's fan-outs included); more wait their turn within their step. None when absent.
   */
  maxConcurrentCalls: z.number().int().positive().optional(),
});
export type ProviderConfig = z.infer<typeof ProviderSchema>;

/** An agent defined in config rather than in code. */
const AgentSchema = z.strictObject({
  /** The system prompt. */
  instruction: z.string().min(1),
  /** What the agent is for, as routers, planners, swarm handoffs and MCP clients of `serve` read it; the instruction when absent. */
  description: z.string().min(1).optional(),
  /** Names of entries in `mcp.servers` whose tools this agent may call. */
  servers: z.array(z.string()).default([]),
  /** `provider:model`; `llm.defaultModel` when absent. */
  model: ModelRefSchema.optional(),
  /** Cap on model turns per request; `execution.maxIterations` when absent. */
  maxIterations: z.number().int().positive().optional(),
  /** Cap on the tokens of each model answer; the provider's default when absent (Anthropic's: 4096). */
  maxTokens: z.number().int().positive().optional(),
  /** Sampling temperature of its model calls (sent to OpenAI-compatible providers); the provider's default when absent. */
  temperature: z.number().min(0).max(2).optional(),
  /** False: at most one tool call a turn, run one after another (OpenAI's `parallel_tool_calls`); the provider's default when absent. */
  parallelToolCalls: z.boolean().optional(),
  /** When old tool results are sent to the model as notes: `{ aboveTokens: 100000, keep: 5 }` by default, `false` for never. */
  clearToolResults: ToolResultClearingSchema.optional(),
  /** Give the model a `human_input` tool to ask a person a question. */
  humanInput: z.boolean().optional(),
});
export type AgentConfig = z.infer<typeof AgentSchema>;

/** One payload-encryption key: its id and where its 32 bytes are read (never from the config or a run). */
const CodecKeySchema = z
  .strictObject({
    /** Written into every payload the key encrypts, so the right key decrypts it after a rotation. */
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, { message: 'expected letters, digits and . _ : - (up to 64), e.g. "2026-11"' }),
    /** The environment variable holding the key: 32 bytes as base64 or hex text (`openssl rand -base64 32`). */
    env: z.string().min(1).optional(),
    /** The file holding the key, in the same form; relative to the config file. */
    file: z.string().min(1).optional(),
  })
  .superRefine((key, ctx) => {
    if ((key.env === undefined) === (key.file === undefined)) {
      ctx.addIssue({ code: "custom", message: "give exactly one of env (an environment variable) or file (a path) for the key" });
    }
  });

/**
 * Payload encryption: every client and worker encrypts what it hands to Temporal (inputs, results,
 * messages, answers) with AES-256-GCM, so the cluster stores only ciphertext.
 */
const CodecSchema = z
  .strictObject({
    /** The keys; the one named by `encryptWith` encrypts and every one decrypts, so keep retired keys listed. */
    keys: z.array(CodecKeySchema).min(1, { message: "list at least one key" }),
    /** The id of the key that encrypts new payloads; the first key when absent. */
    encryptWith: z.string().optional(),
    /** Compress payloads before encrypting them (zlib), when that makes them smaller. */
    compress: z.boolean().default(false),
  })
  .superRefine((codec, ctx) => {
    const ids = codec.keys.map((key) => key.id);
    ids.forEach((id, index) => {
      if (ids.indexOf(id) !== index) ctx.addIssue({ code: "custom", path: ["keys", index, "id"], message: `the id "${id}" is used by another key too` });
    });
    if (codec.encryptWith !== undefined && !ids.includes(codec.encryptWith)) {
      ctx.addIssue({ code: "custom", path: ["encryptWith"], message: `no key "${codec.encryptWith}" in codec.keys (ids: ${ids.join(", ")})` });
    }
  });
export type CodecConfig = z.infer<typeof CodecSchema>;

/** US dollars per million tokens: zero or more (zod refuses NaN and infinities). */
const UsdPerMillion = z.number().min(0);

/** One model's price, in USD per million tokens (`ModelPrice` in src/common/pricing.ts). */
const ModelPriceSchema = z.strictObject({
  input: UsdPerMillion,
  output: UsdPerMillion,
  /** Input tokens read from the provider's prompt cache; charged at `input` when absent. */
  cachedInput: UsdPerMillion.optional(),
});

/**
 * Prices by model name (`gpt-4.1-mini`, also matching its dated snapshots) or by
 * `provider:model` for one provider alone; over duragent's defaults (src/common/pricing.ts).
 */
const PricingSchema = z.record(
  z.string().regex(/^\S+$/, { message: 'must be a model name such as "gpt-4.1-mini", or "provider:model", without spaces' }),
  ModelPriceSchema,
);

const knownProviderKinds: readonly string[] = ProviderSchema.shape.kind.unwrap().options;

export const ConfigSchema = z
  .strictObject({
    /** `memory` runs in-process with no durability; `temporal` runs on a Temporal cluster. */
    engine: z.enum(["memory", "temporal"]).default("memory"),
    /**
     * Where the Temporal cluster is; used only with `engine: temporal`. Keys left out come from
     * Temporal's environment configuration (`TEMPORAL_ADDRESS`, `temporal.toml` profiles).
     */
    temporal: z
      .strictObject({
        /** host:port of the frontend service. */
        address: z
          .string()
          .refine((address) => {
            // host:port, or [IPv6]:port; the port, when given, one a socket can have.
            const port = /:(\d+)$/.exec(address)?.[1];
            return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
          }, "expected host:port with a port from 1 to 65535 (set here, by --address or by TEMPORAL_ADDRESS)")
          .default("localhost:7233"),
        namespace: z.string().default("default"),
        /** The queue the worker polls and the client starts runs on. */
        taskQueue: z.string().default("duragent"),
        /** The Web UI base, for the links the CLI prints; `DURAGENT_TEMPORAL_UI`, or Temporal Cloud's for a Cloud address, when absent. */
        uiUrl: z.string().optional(),
        /**
         * Tag runs with the DuragentAgent and DuragentPhase search attributes (workers register
         * them when they can); turn off for a cluster where they cannot be registered.
         */
        searchAttributes: z.boolean().default(true),
        /** API key for Temporal Cloud or another remote cluster; implies TLS. */
        apiKey: z.string().optional(),
        /** `true` for TLS with system roots, or the files (or inline PEM) for custom CAs or mTLS. */
        tls: z
          .union([
            z.boolean(),
            z.strictObject({
              /** Overrides the name checked against the server certificate. */
              serverName: z.string().optional(),
              /** PEM file of the CA that signed the server certificate; relative to the config file. */
              serverRootCaCertPath: z.string().optional(),
              /** PEM client certificate for mTLS; relative to the config file. */
              clientCertPath: z.string().optional(),
              /** PEM client key for mTLS; relative to the config file. */
              clientKeyPath: z.string().optional(),
              /** The CA certificate itself, PEM; instead of its path. */
              serverRootCaCert: z.string().optional(),
              /** The client certificate itself, PEM; instead of its path. */
              clientCert: z.string().optional(),
              /** The client key itself, PEM; instead of its path. Keep it in duragent.secrets.yaml. */
              clientKey: z.string().optional(),
            }),
          ])
          .optional(),
        /** gRPC metadata sent with every request (`TEMPORAL_GRPC_META_*` fills it too). */
        metadata: z.record(z.string(), z.string()).optional(),
        /** The profile of Temporal's `temporal.toml` to read; `TEMPORAL_PROFILE`, else `default`, when absent. */
        profile: z.string().optional(),
      })
      .prefault({}),
    mcp: z
      .strictObject({
        /** MCP servers by name; agents refer to them by that name. */
        servers: z.record(z.string(), McpServerSchema).default({}),
      })
      .prefault({}),
    llm: z
      .strictObject({
        /** The model used when an agent names none: `provider:model`. */
        defaultModel: ModelRefSchema.default("openai:gpt-4.1-mini"),
        /** Provider settings by name; `openai` and `anthropic` work without an entry when their usual API-key variables are set. */
        providers: z.record(z.string(), ProviderSchema).default({}),
        /**
         * What happens when a provider has no API key: `fail` the model call (the default), or let
         * duragent's `scripted` model answer instead, so a new project runs offline.
         */
        withoutApiKey: z.enum(["fail", "scripted"]).default("fail"),
        /**
         * How long one attempt of a model call waits for a busy provider (429, or overloaded, with
         * `retry-after`), as it asks, before the attempt fails: 5 minutes by default. Calls to that
         * provider on the same worker wait for the same moment. Waits end before the attempt's own
         * limit (`execution.llm.startToCloseTimeoutMs`).
         */
        rateLimitWaitMs: DurationMs.optional(),
      })
      .prefault({}),
    /**
     * Model prices in USD per million tokens (`input`, `output`, `cachedInput`), by model name or
     * `provider:model`; over the defaults for OpenAI's and Anthropic's models. Costs shown by
     * `status`, `result --json` and `list` use them.
     */
    pricing: PricingSchema.optional(),
    /** Bounds and retry policies every run carries. */
    execution: z
      .strictObject({
        /** Default cap on model turns in one request. */
        maxIterations: z.number().int().positive().default(10),
        /** The most tokens (input and output, every model's, child runs' included) one run may use; it fails before the model call past it. None when absent. */
        tokenBudget: z.number().int().positive().optional(),
        /** The most one run's model calls may cost, in USD (by `pricing:` over the defaults), child runs' included; it fails before the model call past it. None when absent. */
        costBudget: z.number().positive().optional(),
        /** Policy for model calls. */
        llm: ActivityPolicySchema.optional(),
        /** Policy for MCP tool calls. */
        tools: ActivityPolicySchema.optional(),
        /**
         * A tool call whose step failed for good (its server died or timed out on every attempt,
         * or broke the protocol): `tell-model` (default) gives the model the failure as the call's
         * error and the run goes on; `fail-run` ends the run with it.
         */
        failedToolCall: z.enum(["tell-model", "fail-run"]).optional(),
        /** Tool results over this many bytes are cut, with a note to the model, before they enter history. Default 65536. */
        maxToolResultBytes: z.number().int().positive().optional(),
        /** Model calls over this many bytes (messages, instruction and tool specs) refer to the run's transcript instead of repeating it. Default 8192. */
        transcriptReferenceBytes: z.number().int().positive().optional(),
        /** A chat continues as a new run (fresh history) after this many turns. Default 100. */
        chatTurnsPerRun: z.number().int().positive().optional(),
        /** An agent run (`duragent run <agent>`) continues as a new run after this many model turns; when absent, only when Temporal suggests it (its history passing Temporal's suggested size). */
        agentTurnsPerRun: z.number().int().positive().optional(),
      })
      .prefault({}),
    /** A worker's resources (`duragent worker`, `duragent dev`). */
    worker: z
      .strictObject({
        /**
         * Runs kept in memory between their steps. A cached run holds only its own state (about
         * 120 KB for one waiting for a person; the workflow code is shared by all); a run evicted
         * from the cache costs nothing until its next step, which replays its history first.
         * Default 250. A larger cache answers many waiting runs sooner, for more memory (README, "Sizing").
         */
        maxCachedWorkflows: z.number().int().min(0).default(250),
        /** Workflow tasks run at once; Temporal's default when absent. */
        maxConcurrentWorkflowTaskExecutions: z.number().int().positive().optional(),
        /** Activities (model and tool calls) run at once; Temporal's default when absent. */
        maxConcurrentActivityTaskExecutions: z.number().int().positive().optional(),
        /**
         * How long a stopping worker (SIGTERM, Ctrl-C) lets its model and tool calls in flight
         * finish before it stops them, each then retried on another worker as a failed attempt.
         * Default 20 s: keep it below the time your orchestrator waits before it kills the process
         * (Kubernetes' terminationGracePeriodSeconds, 30 s by default; Compose's stop_grace_period).
         */
        shutdownGraceTimeMs: z.number().int().min(0).default(20_000),
        /** `host:port` to serve `/healthz` and `/readyz` on, for an orchestrator's probes; off when absent (`--health` on the CLI). */
        health: z.string().optional(),
      })
      .prefault({}),
    /** Encrypt payloads on every client and worker; off when absent. `duragent codec-server` decrypts them for the Web UI. */
    codec: CodecSchema.optional(),
    /** Traces and metrics for operators; the standard OTEL_* variables configure the same and win where both speak. */
    telemetry: z
      .strictObject({
        tracing: z
          .strictObject({
            /** false turns tracing off whatever the environment says; true turns it on (OTLP at its default endpoint unless one is given). */
            enabled: z.boolean().optional(),
            /** The OTLP endpoint's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://localhost:4318 (HTTP) or http://localhost:4317 (gRPC). */
            endpoint: z.url().optional(),
            /** As OTEL_EXPORTER_OTLP_PROTOCOL; http/protobuf when absent. */
            protocol: z.enum(["http/protobuf", "grpc"]).optional(),
            /** The service.name resource attribute; OTEL_SERVICE_NAME, else duragent-worker or duragent-client. */
            serviceName: z.string().min(1).optional(),
            /** Put prompts, completions, tool arguments and results on spans. Off by default: they may hold personal data. */
            captureContent: z.boolean().default(false),
          })
          .prefault({}),
        metrics: z
          .strictObject({
            /** `host:port` where a worker serves Prometheus metrics (`duragent worker --metrics`), e.g. 0.0.0.0:9464. */
            prometheus: z
              .string()
              .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, { message: "expected host:port, e.g. 127.0.0.1:9464" })
              .optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    /** The memory engine, in a long-lived process (`duragent serve`): how long runs that ended stay readable. */
    memory: z
      .strictObject({
        /** At most this many ended runs are kept (their status, transcript and result); the oldest go first. Default 1000. */
        keepFinishedRuns: z.number().int().min(0).default(1000),
        /** An ended run is forgotten after this long. Default one hour. */
        keepFinishedMs: z.number().int().min(0).default(3_600_000),
      })
      .prefault({}),
    /** Human approval gates. */
    approvals: z
      .strictObject({
        /** Namespaced tool names or globs (`filesystem_write_*`) whose calls wait for approval. */
        tools: z.array(z.string()).default([]),
        /**
         * Every call of a tool that may change or destroy things waits for approval, as its MCP
         * annotations say: not `readOnlyHint`, and `destructiveHint` not false (a tool without
         * annotations counts). Default false.
         */
        destructive: z.boolean().optional(),
      })
      .prefault({}),
    /** Agents by name. */
    agents: z.record(z.string(), AgentSchema).default({}),
    /**
     * Composable patterns by name (`pattern: chain | parallel | router | intent-classifier |
     * orchestrator | evaluator-optimizer | swarm`), started with `duragent run <name>`.
     * Participants name agents from `agents:`, or nest further patterns.
     */
    workflows: z.record(z.string(), PatternSpecSchema).default({}),
    /** TypeScript modules (relative to the config file) exporting agents and workflows. */
    modules: z.array(z.string()).default([]),
  })
  .superRefine((config, ctx) => {
    // Cross-references are checked here so a typo fails at load, not mid-run.
    const serverNames = Object.keys(config.mcp.servers);
    const configured = serverNames.length > 0 ? `configured: ${serverNames.join(", ")}` : "none are configured";
    for (const [agentName, agent] of Object.entries(config.agents)) {
      agent.servers.forEach((server, index) => {
        if (!Object.hasOwn(config.mcp.servers, server)) {
          ctx.addIssue({
            code: "custom",
            path: ["agents", agentName, "servers", index],
            message: `no server named "${server}" in mcp.servers (${configured})`,
          });
        }
      });
    }
    const agentNames = Object.keys(config.agents);
    for (const [workflowName, spec] of Object.entries(config.workflows)) {
      if (Object.hasOwn(config.agents, workflowName)) {
        ctx.addIssue({ code: "custom", path: ["workflows", workflowName], message: `an agent is also called "${workflowName}"; rename one` });
      }
      for (const reference of agentReferences(spec)) {
        if (!Object.hasOwn(config.agents, reference.name)) {
          ctx.addIssue({
            code: "custom",
            path: ["workflows", workflowName, ...reference.path],
            message: `no agent named "${reference.name}" in agents (${agentNames.length > 0 ? `defined: ${agentNames.join(", ")}` : "none are defined"})`,
          });
        }
      }
    }
    // A model names a provider that exists: one of the built-in kinds, or one under llm.providers.
    const providerNames = [...new Set([...knownProviderKinds, ...Object.keys(config.llm.providers)])];
    const checkModel = (model: string | undefined, path: (string | number)[]) => {
      // A reference without a colon already fails its own format check.
      const colon = model?.indexOf(":") ?? -1;
      const provider = model?.slice(0, colon);
      if (provider === undefined || colon < 0 || providerNames.includes(provider)) return;
      ctx.addIssue({ code: "custom", path, message: `no LLM provider "${provider}": use ${providerNames.map((name) => `"${name}"`).join(", ")}, or add llm.providers.${provider} (with kind and baseURL)` });
    };
    // A tool call's step is cut at its own limit first; a longer server timeout would never be reached.
    for (const [serverName, server] of Object.entries(config.mcp.servers)) {
      const own = server.execution?.startToCloseTimeoutMs;
      const stepLimit = own ?? config.execution.tools?.startToCloseTimeoutMs;
      if (server.timeoutMs === undefined || server.timeoutMs <= (stepLimit ?? defaultToolStepMs)) continue;
      const setting = own !== undefined ? `mcp.servers.${serverName}.execution.startToCloseTimeoutMs` : "execution.tools.startToCloseTimeoutMs";
      ctx.addIssue({
        code: "custom",
        path: ["mcp", "servers", serverName, "timeoutMs"],
        message: `${server.timeoutMs} ms is over ${setting} (${stepLimit ?? `${defaultToolStepMs}, the default`}), which cuts each tool call's attempt first: raise that to at least ${server.timeoutMs}${own === undefined ? ` (or set mcp.servers.${serverName}.execution.startToCloseTimeoutMs for this server alone)` : ""}`,
      });
    }
    checkModel(config.llm.defaultModel, ["llm", "defaultModel"]);
    for (const [agentName, agent] of Object.entries(config.agents)) checkModel(agent.model, ["agents", agentName, "model"]);
    for (const [providerName, provider] of Object.entries(config.llm.providers)) {
      // `kind` defaults to the name, so a custom name needs an explicit kind.
      if (provider.kind === undefined && !knownProviderKinds.includes(providerName)) {
        ctx.addIssue({
          code: "custom",
          path: ["llm", "providers", providerName, "kind"],
          message: `required for a provider not named ${knownProviderKinds.join(" or ")}: set kind to ${knownProviderKinds
            .map((kind) => `"${kind}"`)
            .join(" or ")} (use "openai" for OpenAI-compatible servers)`,
        });
      }
    }
  });
export type DuragentConfig = z.infer<typeof ConfigSchema>;
