#!/usr/bin/env bash
# mypy on the package as it is installed: `optimizer/` becomes tfjs_lite.optimizer (setup.py's
# package_dir), which mypy cannot follow in the source tree, so it checks a tree of symlinks.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
TREE="$(mktemp -d)"
trap 'rm -rf "$TREE"' EXIT
mkdir "$TREE/tfjs_lite"
for entry in "$ROOT"/tfjs_lite/*; do
    ln -s "$entry" "$TREE/tfjs_lite/$(basename "$entry")"
done
ln -s "$ROOT/optimizer" "$TREE/tfjs_lite/optimizer"
cd "$TREE"
exec "$ROOT/.venv/bin/python" -m mypy --config-file "$ROOT/pyproject.toml" --cache-dir "$ROOT/.mypy_cache" -p tfjs_lite "$@"
