#!/usr/bin/env bash
# The IAP suite: MLflow's basic-auth app with src/image/mlflow_stack_iap.py as its
# authorization function, behind a stand-in for Identity-Aware Proxy, and a client using
# the package of client/ past its tokens' lifetime (tests/iap/test_iap.py).
#
#   bash tests/iap/run.sh [pytest options]
#
# Makes .venv-iap with the server image's own pins (lock/server-auth.in: MLflow and what
# the image adds; pip resolves the rest for this machine's Python, as tests/e2e/run.sh
# does with a bundle's image/requirements.txt) plus tests/iap/requirements.txt, and
# installs client/ into it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$REPO/.venv-iap"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/mlflow-iap.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

PYTHON=python3
if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
    PYTHON=/usr/bin/python3
fi
if [[ ! -x $VENV/bin/python ]]; then
    "$PYTHON" -m venv "$VENV"
fi
timeout 900 "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    -r "$REPO/lock/server-auth.in" -r "$REPO/tests/iap/requirements.txt"
# The client package, built from a copy so that no build output lands in the checkout.
mkdir "$TMP/client"
cp -r "$REPO/client/pyproject.toml" "$REPO/client/README.md" "$REPO/client/src" "$TMP/client/"
timeout 300 "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    --no-build-isolation --force-reinstall "$TMP/client"

cd "$TMP"
timeout 900 "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$REPO/tests/iap" "$@"
