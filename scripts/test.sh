#!/usr/bin/env bash
# The whole test suite, against a real Temporal dev server, real MCP servers and the real LLM SDKs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-setup.sh
npx tsc --noEmit -p .
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/*.test.ts)
exec node --import tsx --test --test-concurrency=2 --test-timeout=600000 "${files[@]}"
