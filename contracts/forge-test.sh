#!/usr/bin/env bash
# Runs the Forge suites (unit, fuzz, invariant: foundry.toml sets 256 runs × depth 50) offline,
# compiling with the npm solcjs through solc-wrapper/. Extra arguments go to `forge test`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"
cd "$DAOTRAIN_ROOT/contracts"
node test/osx-fixture.ts
forge test --offline "$@"
