#!/usr/bin/env bash
# Conformance suite: the bundles that mlflow-stack writes must pass the tools that
# consume or review them.
#
# For every stack in stacks/ and tests/fixtures/good/ it builds the bundle into a
# temporary directory and checks:
#   build                 `mlflow-stack build` succeeds and `build --check` finds it fresh
#   kubernetes-validate   every kubernetes/*.yaml but kustomization.yaml, --strict,
#                         at Kubernetes 1.33 and 1.37; an unknown kind is a failure
#   check-jsonschema      every custom resource (Gateway API, GKE policies) against its
#                         CRD's JSON Schema in tests/conformance/crd-schemas/; a kind
#                         without a schema there is a failure
#   kustomize             `kubectl kustomize DIR/kubernetes`: no warning, every
#                         resource file listed, and its output validates as above
#   yamllint              every YAML file of the bundle, with .yamllint.yaml, strict
#   YAML 1.1 = YAML 1.2   every YAML file reads the same with YAML 1.1's implicit types
#                         (kubectl, Go clients) as with 1.2's; names and labels are
#                         strings (yaml_types.py, PyYAML)
#   infra.sh              shellcheck -S style, no finding
#   taplo                 the stack file against `mlflow-stack schema`
#   checkov               kubernetes framework, one run over all bundles; the only
#                         allowed failures are the ids in checkov-skips.txt
# and once:
#   taplo rejects / check rejects   broken stacks fail both the schema and the compiler
#   overlay               examples/kustomize-overlay (replicas, a label) and
#                         examples/kustomize-scheduling (node selector, toleration,
#                         priority class, extra env) over deploy/example (built from
#                         stacks/example.toml): kustomize without warning, validates
#
# Tools are pinned in requirements.txt (+ constraints.txt) and installed into
# .venv-tools at the repository root; pip runs only when those files change.
# Nothing here reaches the network except pip; checkov and taplo run offline.
#
# Usage: bash tests/conformance/run.sh
# Environment:
#   MLFLOW_STACK=PATH   use this binary instead of `cargo build --release`
#   KEEP=1              keep the temporary directory with the bundles (printed)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/tests/conformance"
VENV="$ROOT/.venv-tools"
K8S_VERSIONS=(1.33.0 1.37.0)
CRD_SCHEMAS="$HERE/crd-schemas"
OVERLAYS=(examples/kustomize-overlay examples/kustomize-scheduling)
EXAMPLE_STACK=stacks/example.toml
EXAMPLE_OUT=deploy
EXAMPLE_BUNDLE=$EXAMPLE_OUT/example # `build --out DIR` writes DIR/<stem>/

SUITE=conformance
# shellcheck source=tests/support/suite.sh
source "$ROOT/tests/support/suite.sh"

install_tools() {
  local stamp="$VENV/.conformance-stamp" want
  want=$(cat "$HERE/requirements.txt" "$HERE/constraints.txt" <(python3 --version) |
    sha256sum | cut -d' ' -f1)
  if [[ -x $VENV/bin/python && -f $stamp && $(<"$stamp") == "$want" ]]; then
    return
  fi
  echo "installing conformance tools into $VENV"
  if ! python3 -m venv --clear "$VENV"; then
    # Debian's own python3 splits venv support into a package.
    apt-get update -qq && apt-get install -y -qq python3-venv
    python3 -m venv --clear "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    -r "$HERE/requirements.txt" -c "$HERE/constraints.txt"
  printf '%s\n' "$want" >"$stamp"
}

print_versions() {
  echo "tools:"
  echo "  kubernetes-validate $(kubernetes-validate --version)"
  echo "  kubectl $(kubectl version --client | sed -n 's/^Client Version: //p')" \
    "(kustomize $(kubectl version --client | sed -n 's/^Kustomize Version: //p'))"
  echo "  checkov $(checkov --version)"
  echo "  $(yamllint --version)"
  echo "  shellcheck $(shellcheck --version | sed -n 's/^version: //p')"
  echo "  $(taplo --version)"
  echo "  check-jsonschema $(check-jsonschema --version | sed 's/.* //')"
}

# validate_k8s CHECK SUBJECT DIR FILE...: kubernetes-validate --strict at each
# version, on FILEs relative to DIR (short names in the report). It exits 0 on a
# kind it has no schema for (printing WARN) and on a file without any resource, so
# its output is read too: every line must be a pass, and every file must have one.
validate_k8s() {
  local check=$1 subject=$2 dir=$3 version out rc problems file
  shift 3
  for version in "${K8S_VERSIONS[@]}"; do
    rc=0
    out=$(cd "$dir" && kubernetes-validate --strict -k "$version" "$@" 2>&1) || rc=$?
    problems=$(grep -v -E '^INFO .* passed for resource ' <<<"$out" || true)
    for file in "$@"; do
      if ! grep -q -F " $file " <<<"$out"; then
        problems+=$'\n'"$file: no Kubernetes resource validated"
      fi
    done
    problems=$(sed '/^$/d' <<<"$problems")
    if [[ $rc -ne 0 && -z $problems ]]; then
      problems="kubernetes-validate exited $rc"
    fi
    if [[ -z $problems ]]; then
      pass "$check ${version%.*}" "$subject"
    else
      fail "$check ${version%.*}" "$subject" "$(grep -c . <<<"$problems") problem(s)"$'\n'"$problems"
    fi
  done
}

# is_custom FILE: whether FILE holds a custom resource, a kind of a group that has
# schemas in $CRD_SCHEMAS (kubernetes-validate knows Kubernetes' own kinds only).
is_custom() {
  local api_version
  api_version=$(sed -n 's/^apiVersion: *//p' "$1" | head -n 1)
  [[ $api_version == */* && -d $CRD_SCHEMAS/${api_version%/*} ]]
}

# validate_custom CHECK SUBJECT FILE...: check-jsonschema on each custom resource with the
# schema of its group, kind and version.
validate_custom() {
  local check=$1 subject=$2 file api_version kind schema out problems=""
  shift 2
  for file in "$@"; do
    api_version=$(sed -n 's/^apiVersion: *//p' "$file" | head -n 1)
    kind=$(sed -n 's/^kind: *//p' "$file" | head -n 1)
    schema="$CRD_SCHEMAS/${api_version%/*}/${kind,,}_${api_version#*/}.json"
    if [[ ! -f $schema ]]; then
      problems+=$'\n'"$(basename "$file"): no schema for $kind $api_version"
    elif ! out=$(check-jsonschema --schemafile "$schema" "$file" 2>&1); then
      problems+=$'\n'"$(basename "$file"): $out"
    fi
  done
  problems=$(sed '/^$/d' <<<"$problems")
  if [[ -z $problems ]]; then
    pass "$check" "$subject"
  else
    fail "$check" "$subject" "$(grep -c '^[^ ]' <<<"$problems") problem(s)"$'\n'"$problems"
  fi
}

# run_kustomize CHECK SUBJECT DIR OUT: kubectl kustomize DIR > OUT, nothing on stderr.
run_kustomize() {
  local check=$1 subject=$2 dir=$3 out=$4 err
  if err=$(KUBECONFIG=/dev/null kubectl kustomize "$dir" 2>&1 >"$out") && [[ -z $err ]]; then
    return 0
  fi
  fail "$check" "$subject" "kubectl kustomize $dir: ${err:-no output}"
  return 1
}

taplo_check() {
  RUST_LOG=warn taplo check --no-auto-config --colors never \
    --schema "file://$WORK/schema.json" "$1" 2>&1
}

# validate_kustomized STACK ID FILE: kustomize's output, one document per file, through
# the validator of each document's kind.
validate_kustomized() {
  local stack=$1 id=$2 kustomized=$3 dir="$WORK/$2.kustomized" file builtin=() custom=()
  mkdir -p "$dir"
  csplit --quiet --elide-empty-files --prefix="$dir/doc-" --suffix-format='%02d.yaml' \
    "$kustomized" '/^---$/' '{*}'
  for file in "$dir"/doc-*.yaml; do
    if is_custom "$file"; then custom+=("$file"); else builtin+=("${file#"$WORK/"}"); fi
  done
  validate_k8s "kustomize+validate" "$stack" "$WORK" "${builtin[@]}"
  if [[ ${#custom[@]} -gt 0 ]]; then
    validate_custom "kustomize+check-jsonschema" "$stack" "${custom[@]}"
  fi
}

# check_stack STACK ID: build the stack into $WORK/bundles/ID/<stem> and run the per-bundle
# checks (all but checkov, which runs once over the bundles that built).
check_stack() {
  local stack=$1 id=$2 out_dir="$WORK/bundles/$2" bundle out manifests=() file
  bundle="$out_dir/$(basename "$stack" .toml)" # `build --out DIR` writes DIR/<stem>/
  if ! out=$("$BIN" build "$stack" --out "$out_dir" 2>&1); then
    fail "build" "$stack" "$out"
    return
  fi
  printf '%s\t%s\n' "$id" "$stack" >>"$WORK/stacks.tsv" # for checkov_report.py
  if out=$("$BIN" build "$stack" --out "$out_dir" --check 2>&1); then
    pass "build, build --check" "$stack"
  else
    fail "build, build --check" "$stack" "second build differs (not deterministic?)"$'\n'"$out"
  fi

  local builtin=() custom=()
  for file in "$bundle"/kubernetes/*.yaml; do
    [[ $(basename "$file") == kustomization.yaml ]] && continue
    manifests+=("$file")
    if is_custom "$file"; then custom+=("$file"); else builtin+=("$file"); fi
  done
  if [[ ${#builtin[@]} -eq 0 ]]; then
    fail "kubernetes-validate" "$stack" "no manifests in $bundle/kubernetes"
  else
    validate_k8s "kubernetes-validate" "$stack" "$bundle" "${builtin[@]#"$bundle/"}"
  fi
  if [[ ${#custom[@]} -gt 0 ]]; then
    validate_custom "check-jsonschema" "$stack" "${custom[@]}"
  fi

  local kustomized="$WORK/$id.kustomized.yaml" listed total
  if run_kustomize "kustomize" "$stack" "$bundle/kubernetes" "$kustomized"; then
    listed=$(grep -c '^kind:' "$kustomized" || true)
    total=$(cat "${manifests[@]}" /dev/null | grep -c '^kind:' || true)
    if [[ $listed -eq $total ]]; then
      pass "kustomize" "$stack"
    else
      fail "kustomize" "$stack" "output has $listed resources, kubernetes/ holds $total (kustomization.yaml misses a file?)"
    fi
    validate_kustomized "$stack" "$id" "$kustomized"
  fi

  local yamls=()
  mapfile -t yamls < <(find "$bundle" -type f \( -name '*.yaml' -o -name '*.yml' \) | sort)
  if out=$(cd "$bundle" && yamllint -s -f parsable -c "$ROOT/.yamllint.yaml" "${yamls[@]#"$bundle/"}" 2>&1); then
    pass "yamllint" "$stack"
  else
    fail "yamllint" "$stack" "$(grep -c . <<<"$out") finding(s)"$'\n'"$out"
  fi

  if out=$("$VENV/bin/python" "$HERE/yaml_types.py" "${yamls[@]}" 2>&1); then
    pass "YAML 1.1 = YAML 1.2" "$stack"
  else
    fail "YAML 1.1 = YAML 1.2" "$stack" "$(grep -c . <<<"$out") finding(s)"$'\n'"$out"
  fi

  if [[ ! -f $bundle/infra.sh ]]; then
    fail "shellcheck" "$stack" "no infra.sh in the bundle"
  elif out=$(cd "$bundle" && shellcheck -S style -f gcc infra.sh 2>&1); then
    pass "shellcheck" "$stack"
  else
    fail "shellcheck" "$stack" "$(grep -c . <<<"$out") finding(s)"$'\n'"$out"
  fi

  if out=$(taplo_check "$stack"); then
    pass "taplo (schema)" "$stack"
  else
    fail "taplo (schema)" "$stack" "$(grep -c '^error' <<<"$out") error(s)"$'\n'"$out"
  fi
}

# One checkov run over all bundles (it takes seconds to start); the report is split
# per stack by checkov_report.py.
run_checkov() {
  local skips=() line id reason status stack head details
  while IFS= read -r line; do
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    id=${line%%#*}
    id=${id//[[:space:]]/}
    reason=${line#*#}
    if [[ $line != *#* || -z ${reason//[[:space:]]/} ]]; then
      fail "checkov" "checkov-skips.txt" "skip without a reason: $line"
      continue
    fi
    skips+=("$id")
  done <"$HERE/checkov-skips.txt"
  # No --quiet: with -o json it drops the passed and skipped checks from the report.
  local args=(--framework kubernetes -d "$WORK/bundles" --compact --skip-download -o json)
  if [[ ${#skips[@]} -gt 0 ]]; then
    args+=(--skip-check "$(IFS=,; echo "${skips[*]}")")
  fi
  # checkov exits 1 when a check fails; the JSON report says which.
  BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true \
    checkov "${args[@]}" >"$WORK/checkov.json" 2>"$WORK/checkov.err" || true
  while IFS=$'\t' read -r status stack head details; do
    if [[ $status == ok ]]; then
      pass "checkov" "$stack"
    else
      fail "checkov" "$stack" "$head"$'\n'"$(printf '%b' "$details")"
    fi
  done < <("$VENV/bin/python" "$HERE/checkov_report.py" "$WORK/checkov.json" "$WORK/checkov.err" \
    "$WORK/bundles" "$WORK/stacks.tsv" "${skips[@]}" ||
    printf 'FAIL\tcheckov\tcheckov_report.py failed\n')
}

# The schema must really constrain: broken variants of a minimal valid stack fail
# taplo's schema check, and the compiler rejects them too (exit 1).
check_schema_constrains() {
  local dir="$WORK/broken" out name body
  mkdir -p "$dir"
  local base='project = "acme-ml-prod"
region = "europe-west3"
bucket = "acme-ml-prod-mlflow"
tag = "1.0.0"
'
  printf '%senvironment = "gke"\n' "$base" >"$dir/valid.toml"
  if ! out=$(taplo_check "$dir/valid.toml"); then
    fail "taplo accepts minimal stack" "$dir/valid.toml" "$out"
    return
  fi
  pass "taplo accepts minimal stack" "project region bucket tag environment"
  # name, then the lines that follow `base`
  local cases=(
    enum 'environment = "gcp"'
    unknown-key $'environment = "gke"\nregoin = "x"'
    nested-key $'environment = "gke"\n[server]\nworkerz = 2'
    nested-enum $'environment = "gke"\n[expose]\ntype = "node-port"'
    wrong-type $'environment = "gke"\n[server]\nreplicas = "two"'
  )
  local i label rc
  for ((i = 0; i < ${#cases[@]}; i += 2)); do
    name=${cases[i]}
    body=${cases[i + 1]}
    label=${body#'environment = "gke"'$'\n'}
    label="$name: ${label//$'\n'/ }"
    printf '%s%s\n' "$base" "$body" >"$dir/$name.toml"
    if out=$(taplo_check "$dir/$name.toml"); then
      fail "taplo rejects broken stack" "$label" "the schema accepts it"
    elif ! grep -q '^error' <<<"$out"; then
      fail "taplo rejects broken stack" "$label" "taplo failed without a schema error"$'\n'"$out"
    else
      pass "taplo rejects broken stack" "$label"
    fi
    rc=0
    "$BIN" check "$dir/$name.toml" >/dev/null 2>&1 || rc=$?
    if [[ $rc -eq 1 ]]; then
      pass "check rejects broken stack" "$label"
    else
      fail "check rejects broken stack" "$label" "mlflow-stack check exited $rc, want 1"
    fi
  done
}

# The kustomize overlays in examples/ over the example bundle at deploy/example.
check_overlay() {
  local out overlay name
  if ! out=$("$BIN" build "$EXAMPLE_STACK" --out "$EXAMPLE_OUT" 2>&1); then
    fail "overlay" "$EXAMPLE_BUNDLE" "building $EXAMPLE_STACK into $EXAMPLE_BUNDLE failed"$'\n'"$out"
    return
  fi
  for overlay in "${OVERLAYS[@]}"; do
    if [[ ! -f $overlay/kustomization.yaml ]]; then
      fail "overlay" "$overlay" "$overlay/kustomization.yaml is missing"
      continue
    fi
    name=$(basename "$overlay")
    if run_kustomize "overlay kustomize" "$overlay" "$overlay" "$WORK/$name.yaml"; then
      pass "overlay kustomize" "$overlay"
      validate_k8s "overlay+validate" "$overlay" "$WORK" "$name.yaml"
    fi
  done
}

main() {
  cd "$ROOT"
  install_tools
  export PATH="$VENV/bin:$PATH"
  print_versions
  build_compiler

  WORK=$(mktemp -d "${TMPDIR:-/tmp}/conformance.XXXXXX")
  if [[ -n ${KEEP:-} ]]; then
    echo "work dir: $WORK"
  else
    trap 'rm -rf "$WORK"' EXIT
  fi
  mkdir -p "$WORK/bundles"

  local stacks=() stack id out
  shopt -s nullglob
  stacks=(stacks/*.toml tests/fixtures/good/*.toml)
  shopt -u nullglob
  if [[ ${#stacks[@]} -eq 0 ]]; then
    fail "stacks" "stacks/ tests/fixtures/good/" "no stack files found"
  fi

  if out=$("$BIN" schema 2>&1 >"$WORK/schema.json") &&
    "$VENV/bin/python" -m json.tool "$WORK/schema.json" >/dev/null 2>&1; then
    pass "schema" "mlflow-stack schema"
  else
    fail "schema" "mlflow-stack schema" "no valid JSON Schema on stdout"$'\n'"$out"
  fi
  # The copy the stacks name in `#:schema ./stack.schema.json` (editor completion).
  if [[ -f stacks/stack.schema.json ]]; then
    if cmp -s stacks/stack.schema.json "$WORK/schema.json"; then
      pass "schema up to date" "stacks/stack.schema.json"
    else
      fail "schema up to date" "stacks/stack.schema.json" \
        "differs from \`mlflow-stack schema\` (regenerate: mlflow-stack schema > stacks/stack.schema.json)"
    fi
  fi

  : >"$WORK/stacks.tsv"
  for stack in "${stacks[@]}"; do
    id=${stack%.toml}
    id=${id//\//__}
    check_stack "$stack" "$id"
  done

  run_checkov
  check_schema_constrains
  check_overlay
  summary
}

main "$@"
