#!/usr/bin/env bash
# The whole test suite, against a real Temporal dev server, real MCP servers and the real LLM SDKs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-setup.sh
# The Web UI test looks at Temporal's UI in Debian's Chromium; without it that test is skipped, saying why.
if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "duragent: installing chromium (apt-get) for the Web UI test" >&2
  { apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; }; } >/dev/null 2>&1 \
    || echo "duragent: chromium could not be installed; the Web UI test will be skipped" >&2
fi
npx tsc --noEmit -p .
exec node --import tsx scripts/run-tests.ts "$@"
