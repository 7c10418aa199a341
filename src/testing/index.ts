/**
 * `duragent/testing`: test your agents offline. The scripted model server speaks OpenAI's and
 * Anthropic's wire formats on loopback, so the real SDKs run end to end against a script; point a
 * provider's `baseURL` at it. `demoModel` is the script a new project runs on without an API key.
 */
export {
  startScriptedModelServer,
  type ModelScript,
  type RecordedRequest,
  type ScriptedCall,
  type ScriptedModelServer,
  type ScriptedModelServerOptions,
  type ScriptedToolCall,
  type ScriptedTurn,
  type Wire,
} from "./scripted-model-server.js";
export { demoModel } from "./demo-model.js";
export { historyStats, runChainStats, type HistoryStats } from "./history-stats.js";
export { workflowPromises } from "./workflow-promises.js";
export { loadRunHistory, replayRunHistories, saveRunHistory, type ReplayOutcome } from "./replay.js";
