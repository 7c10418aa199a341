export { McpConnectionPool, type McpCallOptions, type McpConnectionInfo, type McpConnectionPoolOptions, type McpPoolLogger } from "./connection-pool.js";
export { toToolResult, type McpCallToolResult } from "./tool-results.js";
