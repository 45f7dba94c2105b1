# Sourced by the project's scripts: puts the tools that bootstrap.sh linked first on PATH.
DAOTRAIN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DAOTRAIN_ROOT
export PATH="$DAOTRAIN_ROOT/.daotrain/bin:$DAOTRAIN_ROOT/node_modules/.bin:$PATH"
