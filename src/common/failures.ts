/**
 * Failure types that cross the activity boundary. An activity throws an `ApplicationFailure`
 * whose `type` is one of these; retry policies and the memory engine read the same names.
 * Sandbox-safe: imported by workflow code.
 */
export const FailureType = {
  /** The provider refused the request (a 4xx other than 408/409/429); retrying cannot help. */
  llmRequestRejected: "LlmRequestRejected",
  /** Transient provider trouble: 408, 409, 429, 5xx or a network error. */
  llmUnavailable: "LlmUnavailable",
  /** The model's answer broke the requested structure even after one repair. */
  structuredOutputInvalid: "StructuredOutputInvalid",
  /** The configuration names something that does not exist (a server, a provider, a model). */
  configuration: "ConfigurationError",
  /** An MCP server could not be reached or died during a call. */
  mcpServerUnavailable: "McpServerUnavailable",
} as const;
export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** Failure types that no retry can fix. */
export const nonRetryableFailureTypes: string[] = [
  FailureType.llmRequestRejected,
  FailureType.structuredOutputInvalid,
  FailureType.configuration,
];
