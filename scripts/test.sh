#!/usr/bin/env bash
# The whole test suite, against a real Temporal dev server, real MCP servers and the real LLM SDKs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-setup.sh
npx tsc --noEmit -p .
exec node --import tsx scripts/run-tests.ts "$@"
