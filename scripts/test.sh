#!/usr/bin/env bash
# The README's test command: sets up a fresh machine, then runs every check CI runs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$DAOTRAIN_ROOT"
bootstrap/bootstrap.sh --with huggingface
echo "[test] lint (biome) and types (tsc)" >&2
biome ci .
tsc -p tsconfig.json
tsc -p console/web/tsconfig.json
echo "[test] forge (Solidity unit, fuzz and invariant suites)" >&2
contracts/forge-test.sh
echo "[test] slither (static analysis of contracts/src)" >&2
contracts/analysis/slither.sh
echo "[test] halmos (symbolic proofs: escrow, operator limits, admission, release gating)" >&2
contracts/analysis/halmos.sh
echo "[test] vitest" >&2
vitest run "$@"
