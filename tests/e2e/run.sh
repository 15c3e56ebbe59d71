#!/usr/bin/env bash
# End-to-end suite: proves that the bundle mlflow-stack generates runs a working MLflow
# server (PostgreSQL backend, Cloud Storage artifacts through an emulator).
#
#   bash tests/e2e/run.sh [e2e.py options]     e.g. --only example --keep
#
# Works on a fresh Debian machine as root: installs PostgreSQL when missing, builds the
# compiler, builds the bundle of stacks/example.toml, creates .venv-e2e with exactly the
# pins of the bundle's image/requirements.txt plus tests/e2e/requirements.txt (skipped when
# they already match), then runs tests/e2e/e2e.py, which does the real work.
# Quiet on success: the last line is "e2e: N passed, M failed".
# Environment: E2E_STACK (default stacks/example.toml); E2E_COMPILER, an mlflow-stack
# binary to use instead of building target/release/mlflow-stack.
# shellcheck disable=SC2317  # functions below are called through trap and step, which shellcheck cannot see
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$REPO/.venv-e2e"
STACK="${E2E_STACK:-$REPO/stacks/example.toml}"
COMPILER="${E2E_COMPILER:-$REPO/target/release/mlflow-stack}"
STARTED=$(date +%s)
SETUP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/mlflow-e2e-setup.XXXXXX")"
SETUP_LOG="$SETUP_DIR/setup.log"
# `build --out DIR` writes each stack's bundle to DIR/<file stem>/.
BUNDLE="$SETUP_DIR/bundles/$(basename "$STACK" .toml)"
# The same stack at the previous minor MLflow release (see e2e.py's PREVIOUS_MLFLOW), in
# its own venv: the upgrade scenario starts from it.
PREVIOUS_VENV="$REPO/.venv-e2e-previous"
PREVIOUS_BUNDLE_PARENT="$SETUP_DIR/previous"
PREVIOUS_BUNDLE="$PREVIOUS_BUNDLE_PARENT/previous"
# e2e.py appends the process group of everything it starts here, and empties the file
# once it has stopped them all; whatever is still listed at exit is killed below.
export E2E_PGID_FILE="$SETUP_DIR/pgids"
export E2E_STARTED="$STARTED" # so that e2e.py's summary counts the setup time too
: >"$E2E_PGID_FILE"

kill_leftover_processes() {
    local pgid
    while read -r pgid; do
        if [[ -n "$pgid" ]]; then
            kill -KILL -- "-$pgid" 2>/dev/null || true
        fi
    done <"$E2E_PGID_FILE"
}

on_exit() {
    local status=$?
    kill_leftover_processes
    rm -rf "$SETUP_DIR"
    exit "$status"
}
# A signal to this script is passed on to e2e.py, which stops what it started; it gets
# 60 s for that, then the EXIT trap kills whatever process group is still listed.
on_signal() {
    if [[ -n ${E2E_PID:-} ]] && kill -TERM "$E2E_PID" 2>/dev/null; then
        local waited=0
        while kill -0 "$E2E_PID" 2>/dev/null && ((waited < 60)); do
            sleep 1
            waited=$((waited + 1))
        done
    fi
    exit 130
}
trap on_exit EXIT
trap on_signal INT TERM HUP

# Run a setup step with its output in the setup log; on failure show the log's tail.
step() {
    local description="$1"
    shift
    echo "== $description: $*" >>"$SETUP_LOG"
    if ! "$@" >>"$SETUP_LOG" 2>&1; then
        echo "e2e setup failed: $description" >&2
        tail -n 40 "$SETUP_LOG" >&2
        echo "e2e: setup failed after $(($(date +%s) - STARTED)) s"
        echo "e2e: 0 passed, 1 failed"
        exit 1
    fi
}

postgres_installed() {
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || command -v initdb >/dev/null
}

install_postgres() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "PostgreSQL (initdb, postgres) is missing; install the postgresql package" >&2
        return 1
    fi
    # policy-rc.d 101 keeps the package from starting its own cluster on port 5432,
    # where the suite's throwaway cluster must listen.
    local policy=/usr/sbin/policy-rc.d created_policy=no
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        created_policy=yes
    fi
    local status=0
    apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql || status=$?
    [[ $created_policy == yes ]] && rm -f "$policy"
    return "$status"
}

build_compiler() {
    (cd "$REPO" && timeout 1200 cargo build --release --quiet)
    [[ -x $COMPILER ]]
}

build_bundle() {
    timeout 60 "$COMPILER" build "$STACK" --out "$SETUP_DIR/bundles"
    [[ -f $BUNDLE/image/requirements.txt ]]
}

# Debian's python3 when it can make venvs: unlike a python under /root (pyenv), the pod's
# non-root runAsUser can execute it, so e2e.py can run the containers as that user.
venv_python() {
    if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
        echo /usr/bin/python3
    else
        command -v python3
    fi
}

# A venv with the pins of a bundle's image/requirements.txt (and the suite's own tools);
# skipped when they match.
ensure_venv() {
    local venv=$1 bundle=$2 python home
    python="$(venv_python)"
    home="$(dirname "$python")"
    if [[ -x $venv/bin/python ]] && ! grep -qx "home = $home" "$venv/pyvenv.cfg"; then
        rm -rf "$venv" # made from another interpreter
    fi
    if [[ ! -x $venv/bin/python ]]; then
        "$python" -m venv "$venv"
    fi
    local requirements=("$bundle/image/requirements.txt" "$REPO/tests/e2e/requirements.txt")
    if "$venv/bin/python" "$REPO/tests/e2e/pins_match.py" "${requirements[@]}"; then
        return 0
    fi
    timeout 900 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "${requirements[0]}" -r "${requirements[1]}"
    "$venv/bin/python" "$REPO/tests/e2e/pins_match.py" "${requirements[@]}"
}

# The bundle of the same stack at the previous minor MLflow release, which the upgrade
# scenario starts from (e2e.py builds the same variant).
build_previous_bundle() {
    "$VENV/bin/python" "$REPO/tests/e2e/e2e.py" --compiler "$COMPILER" --stack "$STACK" \
        --previous-bundle "$PREVIOUS_BUNDLE_PARENT"
    [[ -f $PREVIOUS_BUNDLE/image/requirements.txt ]]
}

postgres_installed || step "install PostgreSQL" install_postgres
[[ -n ${E2E_COMPILER:-} ]] || step "build the compiler" build_compiler
step "build the bundle of $STACK" build_bundle
step "prepare $VENV" ensure_venv "$VENV" "$BUNDLE"
step "build the bundle of $STACK at the previous MLflow release" build_previous_bundle
step "prepare $PREVIOUS_VENV" ensure_venv "$PREVIOUS_VENV" "$PREVIOUS_BUNDLE"

# In the background so that a signal reaches on_signal at once (bash runs traps only
# between foreground commands).
"$VENV/bin/python" "$REPO/tests/e2e/e2e.py" \
    --compiler "$COMPILER" --stack "$STACK" --bundle "$BUNDLE" \
    --previous-venv "$PREVIOUS_VENV" "$@" </dev/null &
E2E_PID=$!
status=0
wait "$E2E_PID" || status=$?
exit "$status"
