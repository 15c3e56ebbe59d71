#!/usr/bin/env bash
# The client package's unit tests, in a fresh venv with the pins of
# client/requirements-test.txt: `bash client/run-tests.sh [pytest options]`.
# Quiet on success but for pytest's summary line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

VENV=$(mktemp -d "${TMPDIR:-/tmp}/mlflow-stack-client.XXXXXX")
trap 'rm -rf "$VENV"' EXIT

# Debian's python3 when it can make venvs, as tests/e2e/run.sh does.
PYTHON=python3
if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
    PYTHON=/usr/bin/python3
fi
"$PYTHON" -m venv "$VENV"
timeout 900 "$VENV/bin/pip" install --quiet --disable-pip-version-check -r requirements-test.txt
# Built from a copy, so that no build output lands in the checkout; the tests run from
# another copy, so that the installed package is the one they import.
mkdir "$VENV/package" "$VENV/run"
cp -r pyproject.toml README.md src "$VENV/package/"
cp -r tests "$VENV/run/"
timeout 300 "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation "$VENV/package"
cd "$VENV/run"
timeout 600 "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
