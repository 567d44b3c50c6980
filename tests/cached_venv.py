"""Cached, test-only virtual environments for runtimes the project must never depend on.

Some tests prove a file we write in another runtime (protobuf's oldest release, Keras 3,
tf_keras 2): that runtime goes into its own venv under ``~/.cache/tfjs-lite/<folder>`` (moved by
an environment variable per kind), made once on first use and marked with a ``ready`` file, so a
later run (or a half-finished install) never trusts a venv that did not finish installing.

Without registry access the requesting test is skipped, except under CI (``CI`` set) or
``TFJS_LITE_REQUIRE_PROTO_COMPAT=1`` (scripts/test.sh), where it fails: there the check must run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from collections.abc import Sequence
from pathlib import Path

import pytest

__all__ = ["child_env", "must_run", "venv_python"]


def must_run() -> bool:
    """True where a venv that cannot be made is a failure, not a skip."""
    return bool(os.environ.get("CI")) or os.environ.get("TFJS_LITE_REQUIRE_PROTO_COMPAT") == "1"


def venv_python(env_var: str, folder: str, name: str, packages: Sequence[str], *, timeout: float,
                no_deps: Sequence[str] = ()) -> Path:
    """The python of the venv ``name`` holding ``packages`` (then ``no_deps``, installed without
    their requirements), made on first use.

    It lives in ``$env_var`` (default ``~/.cache/tfjs-lite/<folder>``) under ``<name>-py<X><Y>``:
    a venv is tied to the interpreter that made it.
    """
    default = Path.home() / ".cache" / "tfjs-lite" / folder
    root = Path(os.environ.get(env_var, default)) / f"{name}-py{sys.version_info[0]}{sys.version_info[1]}"
    python = root / "bin" / "python"
    if (root / "ready").exists():
        return python
    venv.EnvBuilder(clear=True, with_pip=True, system_site_packages=False).create(root)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    failure = ""
    try:
        commands = [[*pip, *packages]] + ([[*pip, "--no-deps", *no_deps]] if no_deps else [])
        for command in commands:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
            if result.returncode:
                failure = result.stderr.strip()[-500:]
                break
    except subprocess.TimeoutExpired:
        failure = f"pip did not finish in {timeout:.0f} s"
    if failure:
        message = f"cannot install {' '.join([*packages, *no_deps])} into a venv: {failure}"
        if must_run():
            pytest.fail(message)
        pytest.skip(message)
    (root / "ready").write_text(" ".join([*packages, *no_deps]))
    return python


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a process of such a venv: ours without PYTHON* (no PYTHONPATH or
    PYTHONHOME of the dev venv leaking in), no user site-packages, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONNOUSERSITE"] = "1"
    env.update(extra)
    return env
