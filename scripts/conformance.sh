#!/usr/bin/env bash
# `npm run conformance`: the official MCP conformance suite against duragent, both directions
# (scripts/conformance/run.ts says how; --help lists the options). Installs into .conformance/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ]; then
  echo "duragent: installing npm packages" >&2
  npm install --no-audit --no-fund --loglevel=error >&2
fi
exec node --import tsx scripts/conformance/run.ts "$@"
