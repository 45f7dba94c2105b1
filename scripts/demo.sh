#!/usr/bin/env bash
# The README's main command: sets up a fresh machine, then tells the whole daotrain story locally.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$DAOTRAIN_ROOT"
bootstrap/bootstrap.sh
exec node cli/main.ts demo "$@"
