#!/usr/bin/env bash
# `npm run bench`: the figures and their limits (bench/index.ts), after the same set-up as the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-setup.sh
exec node --import tsx bench/index.ts "$@"
