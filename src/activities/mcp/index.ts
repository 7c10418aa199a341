export {
  allowedToolsMatcher,
  McpConnectionPool,
  type McpCallOptions,
  type McpConnectionInfo,
  type McpConnectionPoolOptions,
  type McpPoolLogger,
} from "./connection-pool.js";
export { describeSchemaErrors, toContentPart, toToolResult, type McpCallToolResult } from "./tool-results.js";
