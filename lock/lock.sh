#!/usr/bin/env bash
# `just lock`: resolves the server image's requirements (lock/server.in, and the
# server-auth, server-metrics and server-auth-metrics variants) for the platform the
# image runs on and writes lock/*.txt, every package pinned with the sha256 of the wheels
# pip may install there. The compiler embeds both; a test checks that they pin
# what src/emit/image.rs pins, for the Python minor of its base image.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# The base image's Python minor (PYTHON_IMAGE) and platform: Debian trixie on x86_64,
# glibc 2.41, so manylinux wheels up to glibc 2.40 (uv's newest target) install.
PYTHON=3.12
PLATFORM=x86_64-manylinux_2_40
UV=uv==0.13.9
VENV=../.venv-lock

if [[ ! -x $VENV/bin/uv ]] || [[ $("$VENV/bin/uv" --version) != "uv ${UV#uv==}"* ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$UV"
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

compile() { # INPUT TITLE [uv options...]
    local input=$1 title=$2
    shift 2
    "$VENV/bin/uv" pip compile --quiet --no-header --python-version "$PYTHON" \
        --python-platform "$PLATFORM" "$@" --output-file "$TMP/pylock.toml" "$input"
    python3 requirements.py "$title" <"$TMP/pylock.toml"
}

# The largest set first; the others are then held to its versions, so that every image
# shares every version it has in common with another.
compile server-auth-metrics.in "The server image with basic auth and metrics, for CPython $PYTHON on $PLATFORM." \
    >server-auth-metrics.txt.new
for flavour in server server-auth server-metrics; do
    compile "$flavour.in" "The server image of lock/$flavour.in, for CPython $PYTHON on $PLATFORM." \
        --constraints server-auth-metrics.txt.new >"$flavour.txt.new"
done
for flavour in server server-auth server-metrics server-auth-metrics; do
    mv "$flavour.txt.new" "$flavour.txt"
done
for flavour in server server-auth server-metrics server-auth-metrics; do
    echo "lock: $(grep -c '==' "$flavour.txt") packages in lock/$flavour.txt"
done
