#!/usr/bin/env bash
# Slither over contracts/src, compiled by the build's own compiler and settings (buildInfo.ts).
# Fails on any finding not explained where it is (`// slither-disable-next-line <detector>` with
# the reason above it; contracts/README.md lists them). Extra arguments go to slither.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$DAOTRAIN_ROOT/contracts"
rm -rf cache/analysis
node analysis/buildInfo.ts cache/analysis >/dev/null
exec slither . --compile-force-framework foundry --foundry-ignore-compile --foundry-out-directory cache/analysis \
  --filter-paths node_modules "$@"
