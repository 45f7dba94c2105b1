#!/usr/bin/env bash
# Halmos proves test/halmos/'s `check_` functions for every value of their arguments: escrow
# conservation, the operator's limits, admission and release gating. It reads forge's build, which
# foundry.toml makes with the AST and extra outputs Halmos asks for, so after forge-test.sh there
# is nothing to compile. Extra arguments go to halmos, e.g. `--function check_escrow`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$DAOTRAIN_ROOT/contracts"
# Loops: a round's two records and its two attesters, plus the exit test.
exec halmos --root . --match-contract DaoTrainSymbolic --loop 3 "$@"
