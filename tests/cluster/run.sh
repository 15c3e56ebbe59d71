#!/usr/bin/env bash
# Cluster suite: every bundle applied to a real Kubernetes API server, upgraded and
# deleted as its README tells users to.
#
# For each Kubernetes version below it starts etcd and kube-apiserver on 127.0.0.1
# (generated certificates and service-account key pair, Pod Security admission, RBAC),
# installs the CRDs the bundles may use, and checks:
#   crds          Gateway API standard channel (sigs.k8s.io/gateway-api module) and the
#                 GKE / Managed Prometheus kinds built from tests/conformance/crd-schemas/ (crds.py)
#   psa control   a pod template that breaks `restricted` makes the server warn
#                 (proves that the zero-warning checks below can fail)
#   for every stack of stacks/ and tests/fixtures/good/:
#   dry-run       the README's apply command with --dry-run=server: no warning
#   apply         the README's apply command: succeeds with no warning (Pod Security,
#                 field validation, deprecations, CEL rules of the CRDs)
#   live          `kubectl get` of every object: every field the bundle sets is live
#   reapply       the README's apply command again: no warning; `kubectl diff` is empty
#   for every row of upgrades.txt (a stack change), in a namespace of its own:
#   upgrade       the old bundle applied as its README says, then the new one the same
#                 way: the apply succeeds without warning, the live objects equal the new
#                 bundle, nothing of the old bundle that the new one lacks is left behind
#   diff          `kubectl diff` before the upgrade shows a change; when the new bundle
#                 only drops objects (kubectl diff never shows a prune), the README's
#                 server dry run lists each of them as pruned
#   prune control the same upgrade without --prune leaves the dropped objects behind
#                 (proves that the left-behind check can fail)
#   live control  a Deployment scaled behind the bundle's back differs from it (proves
#                 that the live check can fail)
#   strategy      the server Deployment of an older bundle (RollingUpdate with its
#                 rollingUpdate block: the current bundle so rewritten), then the current
#                 bundle (Recreate), in a namespace of its own, both applied as the README
#                 says: no warning, the live objects equal the current bundle, and the live
#                 strategy is Recreate with no rollingUpdate left
#   strategy control
#                 the server refuses a Recreate Deployment that keeps a rollingUpdate
#                 block (proves that the strategy check can fail)
#   delete        the README's remove commands: every object of the bundle is gone,
#                 another stack in the same cluster is untouched
#
# No controller-manager runs: Deployments create no pods (Pod Security is checked by the
# warnings on the pod template, with the `warn` label of the namespace), and a deleted
# Namespace stays Terminating (its deletion is checked, and every object in it is deleted
# by the README's command itself).
#
# The README's commands are read from each bundle's README.md and run in the bundle
# directory. A namespace is first created the way `infra.sh apply` does (its `secrets`
# step: `kubectl create namespace`, the Secrets by `kubectl create … | kubectl apply -f -`).
# `kubectl delete` runs with --wait=false added (a terminating Namespace never finishes).
#
# Binaries are built from Go modules by build.sh once into
# ${XDG_CACHE_HOME:-~/.cache}/mlflow-stack/cluster/ and reused. kubectl is built from the
# same k8s.io/kubernetes release as the API server it talks to.
#
# Usage: bash tests/cluster/run.sh [--build-only]
#   --build-only        only build (or find cached) etcd, kube-apiserver and kubectl, and
#                       stop there: .ci/run builds them so in the background while its
#                       other sections run
# Environment:
#   MLFLOW_STACK=PATH   use this binary instead of `cargo build --release`
#   CLUSTER_VERSIONS    Kubernetes versions to run against (default: both below)
#   KEEP=1              keep the work directory (certificates, logs, bundles; printed)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/tests/cluster"
CRD_SCHEMAS="$ROOT/tests/conformance/crd-schemas"
CACHE=${MLFLOW_STACK_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-stack/cluster}
export MLFLOW_STACK_CLUSTER_CACHE=$CACHE

# 1.37: the newest minor k8s-openapi 0.29 knows (its `latest` feature), newest patch.
# 1.33: the oldest minor the bundle is built for (k8s-openapi feature v1_33), newest patch.
read -r -a K8S_VERSIONS <<<"${CLUSTER_VERSIONS:-1.37.2 1.33.13}"
# The etcd minor kubeadm 1.37 installs (DefaultEtcdVersion 3.7.0), newest patch.
ETCD_VERSION=3.7.3
# The newest Gateway API release whose module this Go toolchain accepts.
GATEWAY_API_VERSION=v1.6.3
# The groups of tests/conformance/crd-schemas/ that are not the Gateway API's.
CRD_GROUPS=(networking.gke.io cloud.google.com monitoring.googleapis.com)

SUITE=cluster
# shellcheck source=tests/support/suite.sh
source "$ROOT/tests/support/suite.sh"

# ---------------------------------------------------------------- processes and cleanup

STARTED_PIDS=()

stop_started() {
  local pid waited
  for pid in "${STARTED_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${STARTED_PIDS[@]}"; do
    waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < 50)); do
      sleep 0.2
      waited=$((waited + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}

on_exit() {
  local status=$?
  if [[ $BASHPID != "$$" ]]; then
    exit "$status" # a subshell: the script's own exit cleans up
  fi
  stop_started
  if [[ -n ${WORK:-} ]]; then
    if [[ -n ${KEEP:-} ]]; then
      echo "work dir: $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

# ---------------------------------------------------------------------------- set up

# openssl (the certificates) and python3 (CRDs, comparisons) from Debian when missing. Go
# must be there: Debian's is too old to build Kubernetes; any Go from 1.21 on fetches the
# toolchain the Kubernetes module asks for through the module proxy. With an argument (the
# --build-only mode), only Go: the build needs nothing else, and installs while other CI
# sections run would contend for apt's lock.
install_prerequisites() {
  local missing=()
  if ! command -v go >/dev/null; then
    echo "cluster: Go 1.21 or newer is needed to build kube-apiserver and etcd (https://go.dev/doc/install)" >&2
    exit 1
  fi
  [[ -z ${1:-} ]] || return 0
  command -v openssl >/dev/null || missing+=(openssl)
  command -v python3 >/dev/null || missing+=(python3)
  if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -ne 0 ]]; then
      echo "missing: ${missing[*]}; install them" >&2
      exit 1
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# build WHAT VERSION: build.sh, timed, its log in the work directory.
build() {
  local started log="$WORK/build-$1-$2.log" seconds
  started=$(date +%s)
  if bash "$HERE/build.sh" "$1" "$2" >"$log" 2>&1; then
    seconds=$(($(date +%s) - started))
    pass "build" "$1 $2 (${seconds} s)"
  else
    fail "build" "$1 $2" "see the log's tail"$'\n'"$(tail -n 30 "$log")"
    summary || exit 1
  fi
}

# The Gateway API's standard-channel manifests, from its Go module.
gateway_api_dir() {
  go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Certificates: a CA, the API server's serving certificate for 127.0.0.1, an admin client
# certificate (group system:masters) and the service-account signing key pair.
make_certificates() {
  local dir=$1
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
      -subj /CN=cluster-suite-ca
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj /CN=kube-apiserver
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out apiserver.crt -days 2 -extfile apiserver.ext
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj /O=system:masters/CN=cluster-suite-admin
    printf 'extendedKeyUsage=clientAuth\n' >admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out admin.crt -days 2 -extfile admin.ext
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key
    openssl pkey -in sa.key -pubout -out sa.pub
  ) >"$dir/openssl.log" 2>&1
}

# start_cluster VERSION DIR: etcd and kube-apiserver, both on 127.0.0.1; sets KUBECONFIG.
start_cluster() {
  local version=$1 dir=$2 bin="$CACHE/kubernetes-$1" etcd_client etcd_peer port
  make_certificates "$dir/pki"
  etcd_client=$(free_port)
  etcd_peer=$(free_port)
  port=$(free_port)
  "$CACHE/etcd-$ETCD_VERSION/etcd" --name=suite --data-dir="$dir/etcd" \
    --listen-client-urls="http://127.0.0.1:$etcd_client" \
    --advertise-client-urls="http://127.0.0.1:$etcd_client" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer" \
    --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
    --initial-cluster="suite=http://127.0.0.1:$etcd_peer" \
    --unsafe-no-fsync >"$dir/etcd.log" 2>&1 &
  STARTED_PIDS+=($!)
  "$bin/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_client" \
    --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$port" \
    --endpoint-reconciler-type=none \
    --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
    --client-ca-file="$dir/pki/ca.crt" \
    --service-account-key-file="$dir/pki/sa.pub" \
    --service-account-signing-key-file="$dir/pki/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --authorization-mode=RBAC \
    --enable-admission-plugins=PodSecurity \
    --service-cluster-ip-range=10.96.0.0/16 \
    --allow-privileged=false --profiling=false \
    --cert-dir="$dir/pki" >"$dir/kube-apiserver.log" 2>&1 &
  STARTED_PIDS+=($!)

  export KUBECONFIG="$dir/kubeconfig"
  kubectl config set-cluster suite --server="https://127.0.0.1:$port" \
    --certificate-authority="$dir/pki/ca.crt" --embed-certs >/dev/null
  kubectl config set-credentials admin --client-certificate="$dir/pki/admin.crt" \
    --client-key="$dir/pki/admin.key" --embed-certs >/dev/null
  kubectl config set-context suite --cluster=suite --user=admin >/dev/null
  kubectl config use-context suite >/dev/null

  local waited=0 pid
  until kubectl get --raw=/readyz >/dev/null 2>&1; do
    for pid in "${STARTED_PIDS[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        fail "readyz" "kube-apiserver $version" "etcd or kube-apiserver exited"$'\n'"$(tail -n 5 "$dir/etcd.log" "$dir/kube-apiserver.log")"
        return 1
      fi
    done
    if ((waited >= 180)); then
      fail "readyz" "kube-apiserver $version" "not ready after 180 s"$'\n'"$(tail -n 20 "$dir/kube-apiserver.log")"
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  local server
  server=$(kubectl version -o json | python3 -c 'import json, sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')
  if [[ $server == "v$version" ]]; then
    pass "readyz" "kube-apiserver $server, etcd $ETCD_VERSION, 127.0.0.1 (${waited} s)"
  else
    fail "readyz" "kube-apiserver $version" "the server says it is $server"
    return 1
  fi
}

install_crds() {
  local out gateway
  gateway=$(gateway_api_dir)
  if ! out=$(python3 "$HERE/crds.py" "$CRD_SCHEMAS" "${CRD_GROUPS[@]}" 2>&1 >"$WORK/gke-crds.json"); then
    fail "crds" "tests/conformance/crd-schemas" "crds.py failed"$'\n'"$out"
    return 1
  fi
  if out=$(kubectl apply --server-side -f "$gateway/config/crd/standard/" -f "$WORK/gke-crds.json" 2>&1 >/dev/null) &&
    [[ -z $out ]] &&
    out=$(kubectl wait --for=condition=Established crd --all --timeout=60s 2>&1); then
    pass "crds" "gateway-api $GATEWAY_API_VERSION standard, $(IFS=' '; echo "${CRD_GROUPS[*]}")"
  else
    fail "crds" "gateway-api $GATEWAY_API_VERSION" "$out"
    return 1
  fi
}

# --------------------------------------------------------------------- bundle helpers

# readme_commands BUNDLE SECTION PATTERN: the lines of the README's shell blocks in
# SECTION ("## Apply") that match the extended regex PATTERN.
readme_commands() {
  awk -v section="$2" -v pattern="$3" '
    /^## / { in_section = ($0 == section) }
    /^```/ { in_block = !in_block; next }
    in_section && in_block && $0 ~ pattern { print }
  ' "$1/README.md"
}

# The bundle's apply command, as its README says.
apply_command() {
  readme_commands "$1" "## Apply" '^(KUBECTL_APPLYSET=true )?kubectl apply '
}

# The bundle's diff command, as its README says.
diff_command() {
  readme_commands "$1" "## Change it" 'kubectl diff '
}

# run_readme BUNDLE COMMAND...: runs the README's command lines in the bundle directory,
# kubectl delete with --wait=false. Output on stdout and stderr.
run_readme() {
  local bundle=$1
  shift
  (
    cd "$bundle"
    # shellcheck disable=SC2329  # called by the README's lines, through eval
    kubectl() {
      if [[ $1 == delete ]]; then
        command kubectl "$@" --wait=false
      else
        command kubectl "$@"
      fi
    }
    local line
    for line in "$@"; do
      eval "$line"
    done
  )
}

# The bundle's objects as a JSON List (no server involved).
bundle_json() {
  kubectl create --dry-run=client -o json -k "$1/kubernetes"
}

# live BUNDLE_JSON: the live objects of the bundle (those that exist).
live() {
  kubectl get -f "$1" --ignore-not-found -o json
}

# infra_value BUNDLE NAME: a `readonly NAME=value` of the bundle's infra.sh.
infra_value() {
  sed -n "s/^readonly $2=//p" "$1/infra.sh" | tr -d "'"
}

namespace_of() {
  infra_value "$1" NAMESPACE
}

# What `infra.sh apply` (its `secrets` step) leaves in the cluster before the README's
# kubectl commands run, made the way it makes them: the namespace and the Secrets.
prepare_namespace() {
  local bundle=$1 namespace secret
  namespace=$(namespace_of "$bundle")
  kubectl get namespace "$namespace" >/dev/null 2>&1 || kubectl create namespace "$namespace" >/dev/null
  for secret in $(infra_value "$bundle" SECRETS | tr -d '()'); do
    kubectl create secret generic "$secret" --namespace="$namespace" \
      --from-literal=placeholder=not-a-secret --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  done
}

# warnings TEXT: the lines of kubectl's output that are warnings.
warnings() {
  grep -i -E '^warning|^W[0-9]{4} ' <<<"$1" || true
}

# build_bundle STACK BUNDLE: the bundle of STACK at BUNDLE, whose last component must be
# the stack's file stem (`build --out DIR` writes DIR/<stem>/).
build_bundle() {
  if [[ $(basename "$2") != "$(basename "$1" .toml)" ]]; then
    echo "build_bundle: $2 is not named after $1" >&2
    return 1
  fi
  "$BIN" build "$1" --out "$(dirname "$2")" 2>&1
}

# apply_readme CHECK SUBJECT BUNDLE [EXTRA]: the README's apply command (with EXTRA
# appended, e.g. --dry-run=server); passes when it succeeds without a warning.
apply_readme() {
  local check=$1 subject=$2 bundle=$3 extra=${4:-} command out warned
  command=$(apply_command "$bundle")
  if [[ -z $command || $(grep -c . <<<"$command") -ne 1 ]]; then
    fail "$check" "$subject" "the README's Apply section has no single kubectl apply command"$'\n'"$command"
    return 1
  fi
  if ! out=$(run_readme "$bundle" "$command $extra" 2>&1); then
    fail "$check" "$subject" "$command $extra failed"$'\n'"$out"
    return 1
  fi
  warned=$(warnings "$out")
  if [[ -n $warned ]]; then
    fail "$check" "$subject" "$(grep -c . <<<"$warned") warning(s)"$'\n'"$warned"
    return 1
  fi
  pass "$check" "$subject"
}

# check_live CHECK SUBJECT BUNDLE_JSON
check_live() {
  local out
  live "$3" >"$3.live" 2>"$3.err" || true
  if out=$(python3 "$HERE/compare.py" equal "$3" "$3.live" 2>&1); then
    pass "$1" "$2"
  else
    fail "$1" "$2" "$(grep -c . <<<"$out") difference(s)"$'\n'"$out"$'\n'"$(cat "$3.err")"
    return 1
  fi
}

# ------------------------------------------------------------------------------ checks

# A Deployment whose pod breaks `restricted` in a namespace labelled like the bundle's:
# the server must warn, and `warnings` must see it.
psa_control() {
  local out
  kubectl create namespace psa-control >/dev/null
  kubectl label namespace psa-control pod-security.kubernetes.io/enforce=restricted \
    pod-security.kubernetes.io/warn=restricted pod-security.kubernetes.io/audit=restricted >/dev/null
  out=$(kubectl create deployment psa-control --namespace=psa-control --image=registry.invalid/x:1 \
    --dry-run=server 2>&1) || true
  if [[ -n $(warnings "$out") ]]; then
    pass "psa control" "a pod template that breaks restricted is warned about"
  else
    fail "psa control" "psa-control" "no warning for a pod that breaks restricted"$'\n'"$out"
  fi
}

# check_stack STACK ID: dry-run, apply, live, reapply.
check_stack() {
  local stack=$1 id=$2 bundle out
  bundle="$WORK/bundles/$id/$(basename "$stack" .toml)"
  if ! out=$(build_bundle "$stack" "$bundle"); then
    fail "build" "$stack" "$out"
    return
  fi
  bundle_json "$bundle" >"$bundle.json"
  prepare_namespace "$bundle"
  apply_readme "dry-run" "$stack" "$bundle" --dry-run=server || true
  apply_readme "apply" "$stack" "$bundle" || return 0
  check_live "live" "$stack" "$bundle.json" || true
  apply_readme "reapply" "$stack" "$bundle" || true
  local diff
  diff=$(diff_command "$bundle")
  if [[ -z $diff ]]; then
    fail "diff after apply" "$stack" "the README's Change section has no kubectl diff"
  elif out=$(run_readme "$bundle" "$diff" 2>&1); then
    pass "diff after apply" "$stack"
  else
    fail "diff after apply" "$stack" "the README's kubectl diff shows changes"$'\n'"$out"
  fi
}

# upgrade_stack ROW SETTINGS: the row's stack file, the base stack with SETTINGS (dotted
# TOML keys, separated by ';') overriding its keys.
upgrade_stack() {
  local name=$1 settings=$2 setting key
  declare -A values=(
    [project]='"acme-ml-prod"'
    [region]='"europe-west3"'
    [bucket]='"acme-ml-prod-mlflow"'
    [tag]='"1.0.0"'
    [environment]='"gke"'
    [name]="\"$name\""
  )
  local list=()
  IFS=';' read -r -a list <<<"$settings"
  for setting in "${list[@]}"; do
    key=${setting%%=*}
    key=${key//[[:space:]]/}
    [[ -n $key ]] || continue
    values[$key]=$(sed 's/^[[:space:]]*//; s/[[:space:]]*$//' <<<"${setting#*=}")
  done
  while IFS= read -r key; do
    printf '%s = %s\n' "$key" "${values[$key]}"
  done < <(printf '%s\n' "${!values[@]}" | sort)
}

# upgrade ROW_NUMBER NAME BEFORE AFTER
upgrade() {
  local number=$1 title=$2 name out command
  name=$(printf 'upgrade-%02d' "$number")
  local dir="$WORK/upgrades/$name"
  mkdir -p "$dir"
  upgrade_stack "$name" "$3" >"$dir/old.toml"
  upgrade_stack "$name" "$4" >"$dir/new.toml"
  if ! out=$(build_bundle "$dir/old.toml" "$dir/old") || ! out=$(build_bundle "$dir/new.toml" "$dir/new"); then
    fail "upgrade" "$title" "a stack of this row does not build"$'\n'"$out"
    return
  fi
  bundle_json "$dir/old" >"$dir/old.json"
  bundle_json "$dir/new" >"$dir/new.json"
  if cmp -s "$dir/old.json" "$dir/new.json"; then
    fail "upgrade" "$title" "the row changes nothing in the Kubernetes objects"
    return
  fi
  prepare_namespace "$dir/old"
  apply_readme "upgrade: apply old" "$title" "$dir/old" || return 0
  # kubectl diff exits 1 when it found differences, >1 on error.
  local rc=0
  out=$(run_readme "$dir/new" "$(diff_command "$dir/new")" 2>&1) || rc=$?
  local dropped
  if [[ $rc -eq 1 ]]; then
    pass "upgrade: diff" "$title"
  elif [[ $rc -eq 0 ]] && dropped=$(python3 "$HERE/compare.py" dropped-only "$dir/old.json" "$dir/new.json"); then
    # Only objects dropped: kubectl diff shows no pruning; the README's dry run lists it.
    upgrade_dry_run "$title" "$dir/new" "$dropped"
  else
    fail "upgrade: diff" "$title" "kubectl diff exited $rc, want 1 (changes)"$'\n'"$out"
  fi
  apply_readme "upgrade: apply new" "$title" "$dir/new" || return 0
  check_live "upgrade: live = new" "$title" "$dir/new.json" || true
  live "$dir/old.json" >"$dir/old.live" 2>/dev/null || true
  if out=$(python3 "$HERE/compare.py" left-behind "$dir/old.json" "$dir/new.json" "$dir/old.live"); then
    pass "upgrade: nothing left" "$title"
  else
    fail "upgrade: nothing left" "$title" "$out"
  fi
}

# upgrade_dry_run TITLE BUNDLE NAMES: the README's server dry run of BUNDLE says it prunes
# each object of NAMES (one per line).
upgrade_dry_run() {
  local title=$1 bundle=$2 names=$3 out name unpruned=""
  out=$(run_readme "$bundle" "$(readme_commands "$bundle" "## Change it" 'kubectl apply .*--dry-run=server')" 2>&1) || true
  while IFS= read -r name; do
    grep -q "/$name pruned" <<<"$out" || unpruned+=" $name"
  done <<<"$names"
  if [[ -z $unpruned ]]; then
    pass "upgrade: dry run prunes" "$title: $(tr '\n' ' ' <<<"$names")(kubectl diff shows no removal)"
  else
    fail "upgrade: dry run prunes" "$title" "the README's dry run does not prune$unpruned"$'\n'"$out"
  fi
}

# The table's first row that drops an object, applied without --prune: the dropped
# object stays, and the left-behind check must say so.
prune_control() {
  local dir="$WORK/upgrades/prune-control" out
  mkdir -p "$dir"
  upgrade_stack prune-control "server.replicas = 2" >"$dir/old.toml"
  upgrade_stack prune-control "server.replicas = 1" >"$dir/new.toml"
  build_bundle "$dir/old.toml" "$dir/old" >/dev/null
  build_bundle "$dir/new.toml" "$dir/new" >/dev/null
  bundle_json "$dir/old" >"$dir/old.json"
  bundle_json "$dir/new" >"$dir/new.json"
  kubectl apply --server-side -k "$dir/old/kubernetes" >/dev/null 2>&1
  kubectl apply --server-side -k "$dir/new/kubernetes" >/dev/null 2>&1
  live "$dir/old.json" >"$dir/old.live" 2>/dev/null || true
  if out=$(python3 "$HERE/compare.py" left-behind "$dir/old.json" "$dir/new.json" "$dir/old.live"); then
    fail "prune control" "replicas 2 -> 1 without --prune" "nothing reported left behind"
  else
    pass "prune control" "without --prune: ${out%%$'\n'*}"
  fi
  # And a field changed behind the bundle's back must make the live check fail.
  kubectl scale deployment prune-control-server --namespace=prune-control --replicas=3 >/dev/null
  live "$dir/new.json" >"$dir/new.live" 2>/dev/null || true
  if out=$(python3 "$HERE/compare.py" equal "$dir/new.json" "$dir/new.live"); then
    fail "live control" "replicas scaled to 3" "the live check saw no difference"
  else
    pass "live control" "after kubectl scale: ${out%%$'\n'*}"
  fi
}

# set_strategy FILE STRATEGY: the one Deployment of the YAML file FILE gets the strategy
# STRATEGY (JSON) in place of its own.
set_strategy() {
  python3 - "$1" "$2" <<'PY'
import json
import sys

import yaml

path, strategy = sys.argv[1], json.loads(sys.argv[2])
with open(path) as file:
    documents = list(yaml.safe_load_all(file))
deployments = [doc for doc in documents if doc and doc.get("kind") == "Deployment"]
if len(deployments) != 1:
    sys.exit(f"{path}: {len(deployments)} Deployments, want 1")
deployments[0]["spec"]["strategy"] = strategy
with open(path, "w") as file:
    yaml.safe_dump_all(documents, file, sort_keys=False)
PY
}

# The server Deployment's strategy in the bundles of mlflow-stack before Recreate.
ROLLING_UPDATE='{"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}'

# A live Deployment of an older bundle (RollingUpdate, its rollingUpdate block set) upgraded
# to the current bundle (Recreate) as the README says, in a namespace of its own: the old
# bundle is the current one with the old strategy.
strategy_upgrade() {
  local name=strategy-upgrade title="RollingUpdate -> Recreate" out strategy
  local dir="$WORK/upgrades/$name"
  mkdir -p "$dir"
  upgrade_stack "$name" "" >"$dir/new.toml"
  if ! out=$(build_bundle "$dir/new.toml" "$dir/new"); then
    fail "strategy" "$title" "the base stack does not build"$'\n'"$out"
    return
  fi
  cp -R "$dir/new" "$dir/old"
  if ! out=$(set_strategy "$dir/old/kubernetes/deployment.yaml" "$ROLLING_UPDATE" 2>&1); then
    fail "strategy" "$title" "$out"
    return
  fi
  bundle_json "$dir/old" >"$dir/old.json"
  bundle_json "$dir/new" >"$dir/new.json"
  prepare_namespace "$dir/old"
  apply_readme "strategy: apply old" "$title" "$dir/old" || return 0
  check_live "strategy: live = old" "$title" "$dir/old.json" || return 0
  apply_readme "strategy: apply new" "$title" "$dir/new" || return 0
  check_live "strategy: live = new" "$title" "$dir/new.json" || true
  strategy=$(kubectl get deployment "$name-server" --namespace="$(namespace_of "$dir/new")" \
    -o jsonpath='{.spec.strategy}')
  if [[ $strategy == '{"type":"Recreate"}' ]]; then
    pass "strategy: no rollingUpdate" "$title: live strategy $strategy"
  else
    fail "strategy: no rollingUpdate" "$title" "live strategy $strategy"
  fi
  strategy_control "$dir/new"
}

# The server refuses a Deployment of type Recreate that keeps a rollingUpdate block (what
# an upgrade that leaves the old block behind would make): proves that the strategy upgrade
# can fail.
strategy_control() {
  local bundle=$1 out
  cp "$bundle/kubernetes/deployment.yaml" "$bundle.control.yaml"
  set_strategy "$bundle.control.yaml" '{"type": "Recreate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}'
  if out=$(kubectl apply --server-side --dry-run=server --namespace="$(namespace_of "$bundle")" \
    -f "$bundle.control.yaml" 2>&1); then
    fail "strategy control" "Recreate with a rollingUpdate block" "the server accepted it"
  elif grep -q "spec.strategy.rollingUpdate: Forbidden" <<<"$out"; then
    pass "strategy control" "Recreate with a rollingUpdate block: $(grep -o 'spec.strategy.rollingUpdate: Forbidden.*' <<<"$out")"
  else
    fail "strategy control" "Recreate with a rollingUpdate block" "refused for another reason"$'\n'"$out"
  fi
}

run_upgrades() {
  local line number=0 title before after
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    number=$((number + 1))
    IFS='|' read -r title before after <<<"$line"
    title=$(sed 's/^[[:space:]]*//; s/[[:space:]]*$//' <<<"$title")
    upgrade "$number" "$title" "$before" "$after"
  done <"$HERE/upgrades.txt"
  prune_control
  strategy_upgrade
}

# Two stacks in the cluster; the README's remove commands of the first delete all of
# it and nothing of the second.
check_delete() {
  local first=$1 second=$2 out commands=()
  mapfile -t commands < <(readme_commands "$first" "## Remove it" '^kubectl ')
  if [[ ${#commands[@]} -eq 0 ]]; then
    fail "delete" "$first" "the README's Remove section has no kubectl command"
    return
  fi
  if ! out=$(run_readme "$first" "${commands[@]}" 2>&1); then
    fail "delete" "$(basename "$first")" "failed"$'\n'"$out"
    return
  fi
  live "$first.json" >"$first.live" 2>/dev/null || true
  if out=$(python3 "$HERE/compare.py" absent "$first.json" "$first.live"); then
    pass "delete" "$(basename "$first"): every object gone"
  else
    fail "delete" "$(basename "$first")" "$out"
  fi
  local namespace secrets
  namespace=$(namespace_of "$first")
  # The ApplySet's parent Secret: gone, or going with its terminating namespace.
  secrets=$(kubectl get secrets --namespace="$namespace" -l applyset.kubernetes.io/id -o name 2>/dev/null)
  if [[ -z $secrets ]]; then
    pass "delete" "$(basename "$first"): ApplySet record gone"
  else
    fail "delete" "$(basename "$first")" "left: $secrets"
  fi
  check_live "delete: other stack kept" "$(basename "$second")" "$second.json" || true
}

# ------------------------------------------------------------------------------ main

run_version() {
  local version=$1 dir="$WORK/k8s-$1" stack id stacks=()
  echo "== Kubernetes $version"
  mkdir -p "$dir"
  start_cluster "$version" "$dir" || {
    stop_started
    return
  }
  install_crds || {
    stop_started
    return
  }
  psa_control
  WORK_BUNDLES="$WORK/bundles"
  rm -rf "$WORK_BUNDLES"
  mkdir -p "$WORK_BUNDLES"
  shopt -s nullglob
  stacks=("$ROOT"/stacks/*.toml "$ROOT"/tests/fixtures/good/*.toml)
  shopt -u nullglob
  for stack in "${stacks[@]}"; do
    id=${stack#"$ROOT/"}
    id=${id%.toml}
    id=${id//\//__}
    check_stack "${stack#"$ROOT/"}" "$id"
  done
  rm -rf "$WORK/upgrades"
  run_upgrades
  check_delete "$WORK_BUNDLES/stacks__example/example" "$WORK_BUNDLES/stacks__production/production"
  stop_started
}

main() {
  local build_only=""
  case ${1:-} in
    --build-only) build_only=1 ;;
    "") ;;
    *)
      echo "usage: $0 [--build-only]" >&2
      exit 2
      ;;
  esac
  cd "$ROOT"
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/cluster.XXXXXX")
  install_prerequisites "$build_only"
  [[ -n $build_only ]] || build_compiler
  build etcd "$ETCD_VERSION"
  local version
  for version in "${K8S_VERSIONS[@]}"; do
    build kubernetes "$version"
  done
  if [[ -n $build_only ]]; then
    summary
    return
  fi
  for version in "${K8S_VERSIONS[@]}"; do
    PATH="$CACHE/kubernetes-$version:$PATH" run_version "$version"
  done
  summary
}

main "$@"
