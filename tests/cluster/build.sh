#!/usr/bin/env bash
# Builds the binaries of the cluster suite from Go modules, once, into a cache outside
# the repository; later runs reuse them.
#
#   bash tests/cluster/build.sh kubernetes 1.37.2   -> CACHE/kubernetes-1.37.2/{kube-apiserver,kubectl}
#   bash tests/cluster/build.sh etcd 3.7.3          -> CACHE/etcd-3.7.3/etcd
#
# CACHE is ${MLFLOW_STACK_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-stack/cluster}.
# The Go build and module caches are Go's own (GOCACHE, GOMODCACHE), also outside git.
#
# k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/apiserver, ...) at
# v0.0.0 and replaces them with ./staging/src/... paths, which only work inside its own
# repository. A throwaway module here requires k8s.io/kubernetes at the version and
# replaces every staging module with its published release of the same patch level
# (v1.37.2 -> v0.37.2).
# etcd's server module requires published versions already.
# A finished build is marked by a `.complete` file, written last: an interrupted build
# is redone, never reused.
set -euo pipefail

CACHE=${MLFLOW_STACK_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-stack/cluster}
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false

# throwaway_module DIR: an empty main module to build other modules' commands from.
throwaway_module() {
  mkdir -p "$1"
  (cd "$1" && go mod init mlflow-stack.local/cluster-build >/dev/null 2>&1)
}

build_kubernetes() {
  local version=$1 out="$CACHE/kubernetes-$1" work gomod minor staging
  [[ -f $out/.complete ]] && return 0
  if [[ ! $version =~ ^1\.([0-9]+)\.([0-9]+)$ ]]; then
    echo "kubernetes version must be 1.MINOR.PATCH, got: $version" >&2
    return 2
  fi
  minor=${BASH_REMATCH[1]}
  work=$(mktemp -d "${TMPDIR:-/tmp}/kubernetes-build.XXXXXX")
  # shellcheck disable=SC2064  # expand now: work is local
  trap "rm -rf '$work'" RETURN
  throwaway_module "$work"
  gomod=$(go mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [[ -f $gomod ]] || {
    echo "no go.mod for k8s.io/kubernetes@v$version" >&2
    return 1
  }
  # "k8s.io/api => ./staging/src/k8s.io/api" -> "k8s.io/api"
  mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/.*#\1#p' "$gomod")
  [[ ${#staging[@]} -gt 0 ]] || {
    echo "no staging modules found in $gomod" >&2
    return 1
  }
  local module edits=()
  for module in "${staging[@]}"; do
    edits+=("-replace=$module=$module@v0.$minor.${version##*.}")
  done
  (
    cd "$work"
    go mod edit "${edits[@]}" "-require=k8s.io/kubernetes@v$version"
    go mod tidy >/dev/null 2>&1 || true # nothing imported yet; fills go.sum lazily below
    go get "k8s.io/kubernetes/cmd/kube-apiserver@v$version" "k8s.io/kubernetes/cmd/kubectl@v$version"
    local pkg=k8s.io/component-base/version
    local ldflags="-s -w -X $pkg.gitVersion=v$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    mkdir -p "$out"
    go build -trimpath -ldflags "$ldflags" -o "$out/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
  )
  "$out/kube-apiserver" --version >/dev/null
  touch "$out/.complete"
}

build_etcd() {
  local version=$1 out="$CACHE/etcd-$1" work
  [[ -f $out/.complete ]] && return 0
  work=$(mktemp -d "${TMPDIR:-/tmp}/etcd-build.XXXXXX")
  # shellcheck disable=SC2064  # expand now: work is local
  trap "rm -rf '$work'" RETURN
  throwaway_module "$work"
  (
    cd "$work"
    go get "go.etcd.io/etcd/server/v3@v$version"
    mkdir -p "$out"
    go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
  )
  "$out/etcd" --version >/dev/null
  touch "$out/.complete"
}

case ${1:-} in
  kubernetes) build_kubernetes "${2:?version}" ;;
  etcd) build_etcd "${2:?version}" ;;
  *)
    echo "usage: $0 kubernetes|etcd VERSION" >&2
    exit 2
    ;;
esac
