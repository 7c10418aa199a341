#!/usr/bin/env node
// The duragent CLI, compiled: plain Node runs it. In a clone, `npm run build` (which `npm test`
// and `npm run demo` run first) writes dist/.
import { existsSync } from "node:fs";

const entry = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(entry)) {
  console.error("duragent: the CLI is not built (no dist/cli/main.js); run `npm run build` in the duragent folder.");
  process.exit(70);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
