/**
 * Deterministic functions the example patterns name as participants (`{ function: "headline" }`).
 * Registered at module load; list this file under `modules:` so Temporal workers register them too.
 */
import { registerPatternFunction } from "../../src/workflows/index.js";

registerPatternFunction("headline", (text) => `# ${text}`);
registerPatternFunction("count-lines", (text) => `${text.split("\n").filter((line) => line.trim() !== "").length} lines`);
