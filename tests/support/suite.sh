# Sourced by the shell suites (tests/conformance/run.sh, tests/cluster/run.sh): one line
# per check, the summary line, and the compiler under test. The suite sets ROOT (the
# repository) and SUITE (its name in the summary) before it sources this file.
# shellcheck shell=bash

passed=0
failed=0

# pass CHECK SUBJECT
pass() {
  passed=$((passed + 1))
  printf 'ok   %-28s %s\n' "$1" "$2"
}

# fail CHECK SUBJECT DETAILS: the first line of DETAILS on the FAIL line, the rest (at
# most 40 lines) indented below it.
fail() {
  failed=$((failed + 1))
  printf 'FAIL %-28s %s: %s\n' "$1" "$2" "${3%%$'\n'*}"
  if [[ $3 == *$'\n'* ]]; then
    sed -n '1,40s/^/       /p' <<<"${3#*$'\n'}"
  fi
}

# summary: "SUITE: N passed, M failed"; its status is the suite's (1 when a check failed).
summary() {
  echo "$SUITE: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}

# build_compiler: BIN is $MLFLOW_STACK, or a release build of this checkout (a failed
# build ends the suite).
build_compiler() {
  if [[ -n ${MLFLOW_STACK:-} ]]; then
    BIN=$MLFLOW_STACK
    return
  fi
  # shellcheck disable=SC2034  # read by the suite that sources this file
  BIN="$ROOT/target/release/mlflow-stack"
  local log
  if log=$(cd "$ROOT" && cargo build --release --quiet 2>&1); then
    pass "cargo build --release" "mlflow-stack"
  else
    fail "cargo build --release" "mlflow-stack" "$log"
    summary || exit 1
  fi
}
