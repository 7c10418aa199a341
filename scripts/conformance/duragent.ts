/**
 * The duragent CLI from source, for the conformance runner: the same `main` bin/duragent.js runs
 * from dist/, so `duragent serve` is measured as the working tree has it, without a build.
 *
 *   node --import tsx scripts/conformance/duragent.ts --config <file> serve --transport http
 */
import { main } from "../../src/cli/main.js";

process.exitCode = await main(process.argv);
