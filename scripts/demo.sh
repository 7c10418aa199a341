#!/usr/bin/env bash
# The main demo: the finder agent on a local Temporal dev server, through the duragent CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-setup.sh
exec node --import tsx scripts/demo.ts "$@"
