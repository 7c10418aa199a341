#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx, so a clone needs no build step.
import { register as registerCommonJs } from "tsx/cjs/api";
import { register } from "tsx/esm/api";

// Both hooks, as the `tsx` command installs them: a user's `agents.ts` in a project without
// `"type": "module"` is CommonJS to Node, and with only the ESM hook Node re-imports its
// `import` syntax as ESM mid-load and fails with ERR_REQUIRE_CYCLE_MODULE.
registerCommonJs();
register();
const { main } = await import("../src/client.ts");
process.exitCode = await main(process.argv);
