#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx, so a clone needs no build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/client.ts");
process.exitCode = await main(process.argv);
