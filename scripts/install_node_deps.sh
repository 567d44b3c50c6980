#!/usr/bin/env bash
# Install what the real-TF.js tests need: Node.js >= 18 + npm (apt-get, only when missing or too old)
# and the pinned npm packages in tests/js (npm ci from package-lock.json). Idempotent; fails loudly.
set -euo pipefail

MIN_NODE_MAJOR=18
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JS_DIR="$(cd "$HERE/../tests/js" && pwd)"

die() { echo "install_node_deps: error: $*" >&2; exit 1; }

node_major() {
  command -v node >/dev/null 2>&1 || { echo 0; return; }
  local v
  v="$(node --version 2>/dev/null || true)"
  v="${v#v}"
  echo "${v%%.*}" | grep -E '^[0-9]+$' || echo 0
}

if [ "$(node_major)" -lt "$MIN_NODE_MAJOR" ] || ! command -v npm >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "Node.js >= $MIN_NODE_MAJOR and npm are required and apt-get is not available; install them by hand"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install nodejs npm"
    SUDO="sudo"
  fi
  echo "install_node_deps: installing nodejs + npm with apt-get" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null || die "apt-get install nodejs npm failed"
  [ "$(node_major)" -ge "$MIN_NODE_MAJOR" ] || die "apt installed Node.js $(node --version 2>/dev/null || echo none), need >= $MIN_NODE_MAJOR (use NodeSource or nvm)"
  command -v npm >/dev/null 2>&1 || die "npm still missing after apt-get install"
fi

want="4.22.0"
ok=1
for pkg in tfjs-core tfjs-backend-cpu tfjs-layers tfjs-converter; do
  pj="$JS_DIR/node_modules/@tensorflow/$pkg/package.json"
  got="$(node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' "$pj" 2>/dev/null || true)"
  [ "$got" = "$want" ] || ok=0
done

if [ "$ok" -ne 1 ]; then
  (cd "$JS_DIR" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $JS_DIR failed"
fi

(cd "$JS_DIR" && node -e 'for (const p of ["core", "backend-cpu", "layers", "converter"]) require("@tensorflow/tfjs-" + p)') \
  || die "TF.js packages do not load from $JS_DIR/node_modules"
echo "install_node_deps: node $(node --version), TF.js $want ready in $JS_DIR/node_modules" >&2
