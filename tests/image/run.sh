#!/usr/bin/env bash
# The image's install line, for real: for each case, build the bundle, make a fresh venv
# of the base image's Python minor with the base image's pip, and run the Dockerfile's
# `RUN pip install ...` command exactly as written, with its /tmp/ files taken from the
# bundle's image/. Docker is not needed, and pip sees no configuration but the Dockerfile's
# (PIP_* variables and pip.conf are ignored). Cases: the default stack (everything from the
# lock, with --require-hashes, then nothing from the index), another MLflow release (the
# lock's shared part with hashes, the rest resolved), an extra package (`server.packages`:
# the lock with hashes, the package and its dependencies resolved), and an extra package
# the lock holds at that version (everything from the lock, then nothing from the index).
#
#   bash tests/image/run.sh [CASE...]      cases: default, previous-mlflow, packages,
#                                                 locked-package
#
# Environment: IMAGE_PYTHON (default python3.12), IMAGE_PIP (default 25.0.1, the pip that
# CPython 3.12's ensurepip bundles), IMAGE_COMPILER (default: cargo run).
# Quiet on success: one line per case, then "image: N passed, M failed".
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# A CPython 3.12: on PATH, or one pyenv installed.
find_python() {
    local candidate
    for candidate in ${IMAGE_PYTHON:-} python3.12 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12; do
        if [[ -n $candidate ]] && "$candidate" -c 'import sys, venv; assert sys.version_info[:2] == (3, 12)' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "no CPython 3.12 found (set IMAGE_PYTHON)" >&2
    return 1
}
PYTHON="$(find_python)"
PIP_VERSION="${IMAGE_PIP:-25.0.1}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/pip"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mlflow-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

compiler() {
    if [[ -n ${IMAGE_COMPILER:-} ]]; then
        "$IMAGE_COMPILER" "$@"
    else
        (cd "$REPO" && cargo run --quiet --locked -- "$@")
    fi
}

# The stack of a case, written into $WORK.
stack_of() {
    local case=$1 stack="$WORK/stacks/$1.toml"
    mkdir -p "$WORK/stacks"
    cp "$REPO/stacks/example.toml" "$stack"
    case $case in
    default) ;;
    previous-mlflow) printf '\n[server]\nmlflow_version = "3.16.1"\n' >>"$stack" ;;
    packages) printf '\n[server]\npackages = ["boto3==1.35.49"]\n' >>"$stack" ;;
    locked-package)
        # A package of the lock, at the lock's version: the image stays locked throughout.
        local pin
        pin=$(grep -m1 '^requests==' "$REPO/lock/server.txt" | cut -d' ' -f1)
        [[ -n $pin ]] || { echo "lock/server.txt has no requests" >&2 && return 1; }
        printf '\n[server]\npackages = ["%s"]\n' "$pin" >>"$stack"
        ;;
    *) echo "unknown case $case" >&2 && return 1 ;;
    esac
    grep -q '^\[server\]' "$REPO/stacks/example.toml" && {
        echo "stacks/example.toml has a [server] table; this script appends one" >&2
        return 1
    }
    echo "$stack"
}

# The RUN instruction of the Dockerfile that starts with `pip install`, continuation lines
# joined, /tmp/ pointed at a copy of the bundle's image/.
install_command() {
    local dockerfile=$1 files=$2
    awk '/^RUN pip install/ { on = 1 } on { sub(/^RUN /, ""); print; if (!/\\$/) exit }' "$dockerfile" |
        sed -e 's/\\$//' | tr '\n' ' ' | sed -e "s#/tmp/#$files/#g"
}

run_case() {
    local case=$1 stack out venv files command log started
    stack=$(stack_of "$case") || return 1
    out="$WORK/bundles/$case"
    compiler build "$stack" --out "$out" >"$WORK/$case-build.log" 2>&1 || {
        cat "$WORK/$case-build.log" >&2
        return 1
    }
    local image="$out/$case/image"
    files="$WORK/files-$case"
    cp -r "$image" "$files" || return 1
    command=$(install_command "$image/Dockerfile" "$files")
    [[ -n $command ]] || { echo "no RUN pip install line in $image/Dockerfile" >&2 && return 1; }
    # A default image, or one whose extra package the lock holds, is locked throughout:
    # no warning, and nothing comes from the index after the lock.
    if [[ $case == default || $case == locked-package ]]; then
        if grep -q unlocked-dependencies "$WORK/$case-build.log" || [[ $command != *--no-index* ]]; then
            echo "FAIL $case: not locked throughout: $command" >&2
            cat "$WORK/$case-build.log" >&2
            return 1
        fi
    fi
    venv="$WORK/venv-$case"
    "$PYTHON" -m venv "$venv" || return 1
    env -i PATH="/usr/bin:/bin" HOME="$WORK" PIP_CACHE_DIR="$CACHE" "$venv/bin/python" -m pip install \
        --quiet --disable-pip-version-check "pip==$PIP_VERSION" || return 1
    local hashed
    hashed=$(grep -c '^[a-z0-9].*==' "$files/requirements.lock" || true)
    log="$WORK/$case.log"
    started=$(date +%s)
    # The Dockerfile's ENV, nothing else: PATH puts the venv's pip first as the image's is.
    # pip's download cache is kept between runs (pip checks every hash all the same).
    if ! env -i PATH="$venv/bin:/usr/bin:/bin" HOME="$WORK" PIP_CONFIG_FILE=/dev/null \
        PIP_CACHE_DIR="$CACHE" \
        PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
        bash -euo pipefail -c "$command" >"$log" 2>&1; then
        echo "FAIL $case: $command" >&2
        tail -n 30 "$log" >&2
        return 1
    fi
    local mlflow
    mlflow=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mlflow"))')
    echo "ok   $case ($(($(date +%s) - started)) s, pip $PIP_VERSION, $("$venv/bin/python" --version)): mlflow $mlflow, $hashed locked packages; $command"
}

cases=("$@")
[[ ${#cases[@]} -gt 0 ]] || cases=(default previous-mlflow packages locked-package)
passed=0 failed=0
for case in "${cases[@]}"; do
    if run_case "$case"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "image: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
