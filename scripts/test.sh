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
.venv/bin/python -m ruff check tfjs_lite optimizer
scripts/typecheck.sh
# Real-client tests and the protobuf 4.21/7.x compatibility check must run: a missing Node, npm
# package or PyPI access fails them instead of skipping (the Node harness never skips anyway).
export TFJS_LITE_REQUIRE_PROTO_COMPAT=1
exec .venv/bin/python -m pytest "$@"
