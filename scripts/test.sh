#!/usr/bin/env bash
# The whole test suite on a fresh machine: a project venv, the Python test extras, Node and the
# pinned TF.js npm packages for the real-client tests, lint (ruff) and types (mypy) of the package,
# then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
scripts/install_node_deps.sh
# `tfjs-lite bench --browser` and its tests drive a real headless Chromium from Debian's packages.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
    && ! command -v google-chrome >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "test.sh: installing chromium with apt-get" >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# The pinned TF.js packages `bench` and `verify --runtime tfjs` run in (npm ci into the cache once).
.venv/bin/python -c "from tfjs_lite.tools.bench_runtime import ensure_node_modules; ensure_node_modules()"
.venv/bin/python -m ruff check tfjs_lite optimizer
scripts/typecheck.sh
# Real-client tests and the protobuf 4.21/7.x compatibility check must run: a missing Node, npm
# package or PyPI access fails them instead of skipping (the Node harness never skips anyway).
export TFJS_LITE_REQUIRE_PROTO_COMPAT=1
exec .venv/bin/python -m pytest "$@"
