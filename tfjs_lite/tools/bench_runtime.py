"""The real TensorFlow.js 4.22 runtime that ``bench`` and ``verify --runtime tfjs`` run models in.

The JavaScript side ships in the wheel (``tfjs_lite/js``); the npm packages it needs are pinned by
the ``package.json`` + ``package-lock.json`` there. They are taken from, in order: the
``--node-modules`` flag, the ``TFJS_LITE_NODE_MODULES`` environment variable, or a cache folder
(``$XDG_CACHE_HOME/tfjs-lite/js-4.22.0``, default ``~/.cache``) that ``npm ci`` fills on first use.
Once present they work offline. Nothing here imports a Python package beyond the standard library.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional

__all__ = [
    "JS_DIR",
    "NODE_MODULES_ENV",
    "REQUIRED_PACKAGES",
    "TFJS_VERSION",
    "ensure_node_modules",
    "find_node",
    "run_node_bench",
]

JS_DIR = Path(__file__).resolve().parent.parent / "js"
TFJS_VERSION = "4.22.0"
NODE_MODULES_ENV = "TFJS_LITE_NODE_MODULES"
REQUIRED_PACKAGES = tuple(
    json.loads((JS_DIR / "package.json").read_text(encoding="utf-8"))["dependencies"]
)
_NODE_HELP = "install Node.js 18 or newer with npm (e.g. apt-get install nodejs npm, or from nodejs.org)"


def find_node() -> str:
    """The ``node`` executable; a UsageError (exit 2) saying what to install when there is none."""
    from tfjs_lite.errors import UsageError

    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise UsageError(f"Node.js is needed to run models in TensorFlow.js: {_NODE_HELP}")
    return node


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tfjs-lite" / f"js-{TFJS_VERSION}"


def _missing_packages(node_modules: Path) -> list[str]:
    missing = []
    for name in REQUIRED_PACKAGES:
        try:
            manifest = json.loads((node_modules / name / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            missing.append(name)
            continue
        if manifest.get("version") != TFJS_VERSION:
            missing.append(f"{name} (has {manifest.get('version')}, need {TFJS_VERSION})")
    return missing


def _npm_ci(target: Path) -> None:
    """Install the pinned packages into ``target/node_modules`` (staged, then moved into place)."""
    from tfjs_lite.errors import UsageError

    npm = shutil.which("npm")
    if npm is None:
        raise UsageError(f"npm is needed to install TensorFlow.js {TFJS_VERSION} once: {_NODE_HELP}")
    target.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.write(
        f"tfjs-lite: installing TensorFlow.js {TFJS_VERSION} npm packages into {target} (first use only) ...\n"
    )
    sys.stderr.flush()
    staging = Path(tempfile.mkdtemp(prefix=".js-staging-", dir=target.parent))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(JS_DIR / name, staging / name)
        proc = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=staging, capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            tail = " ".join((proc.stderr or proc.stdout).split())[-300:]
            raise UsageError(
                f"npm ci could not install TensorFlow.js {TFJS_VERSION} ({tail}); without network access, "
                f"point {NODE_MODULES_ENV} at a node_modules folder holding {', '.join(REQUIRED_PACKAGES)}"
            )
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    sys.stderr.write(f"tfjs-lite: TensorFlow.js {TFJS_VERSION} installed\n")


def ensure_node_modules(folder: Optional[str] = None) -> Path:
    """The ``node_modules`` folder holding the pinned TF.js packages, installing them if needed.

    A folder given by the flag or the environment variable is used as it is (an error names the
    packages it lacks); the cache folder is filled with ``npm ci`` when incomplete.
    """
    from tfjs_lite.errors import UsageError

    given = folder or os.environ.get(NODE_MODULES_ENV)
    if given:
        node_modules = Path(given).expanduser().resolve()
        if node_modules.name != "node_modules" and (node_modules / "node_modules").is_dir():
            node_modules = node_modules / "node_modules"
        missing = _missing_packages(node_modules)
        if missing:
            source = "--node-modules" if folder else NODE_MODULES_ENV
            raise UsageError(f"{source} folder {node_modules} lacks {', '.join(missing)}")
        return node_modules
    cache = _cache_dir()
    if _missing_packages(cache / "node_modules"):
        _npm_ci(cache)
    missing = _missing_packages(cache / "node_modules")
    if missing:
        raise UsageError(f"{cache / 'node_modules'} still lacks {', '.join(missing)} after npm ci")
    return cache / "node_modules"


def run_node_bench(request: Mapping[str, Any], *, node_modules: Optional[str] = None,
                   timeout: float = 600.0) -> dict[str, Any]:
    """Run ``js/bench.js`` on ``request`` in Node; returns its result dict.

    Raises:
        UsageError: No Node, packages missing, or a problem the user can fix (bad inputs, a
            dynamic shape without ``--input``, a model TF.js refuses to load).
        UnsupportedModelError: TF.js failed while running the model.
    """
    from tfjs_lite.errors import UnsupportedModelError, UsageError

    node = find_node()
    modules = ensure_node_modules(node_modules)
    env = dict(os.environ, NODE_PATH=str(modules))
    try:
        proc = subprocess.run(
            [node, str(JS_DIR / "bench.js")], input=json.dumps(request), env=env,
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"TensorFlow.js did not finish within {timeout:g} s (use fewer --runs or --timeout)") from None
    try:
        response = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = " ".join(proc.stderr.split())[-400:]
        raise UnsupportedModelError(f"TensorFlow.js in Node exited with status {proc.returncode}: {tail}") from None
    if not response.get("ok"):
        message = " ".join(str(response.get("error")).split())
        if response.get("usage"):
            raise UsageError(message)
        raise UnsupportedModelError(f"TensorFlow.js {TFJS_VERSION} failed: {message}")
    return response["result"]
