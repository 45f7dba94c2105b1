#!/usr/bin/env bash
# Halmos proves test/halmos/'s `check_` functions for every value of their arguments: escrow
# conservation, the operator's limits, admission and release gating. Forge builds them with the
# halmos profile (foundry.toml: its own output folders, so the test build's cache stays valid).
# Extra arguments go to halmos, e.g. `--function check_escrow`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$DAOTRAIN_ROOT/contracts"
export FOUNDRY_PROFILE=halmos
# Loops: a round's two records and its two attesters, plus the exit test.
exec halmos --root . --forge-build-out cache/halmos/out --match-contract DaoTrainSymbolic --loop 3 "$@"
