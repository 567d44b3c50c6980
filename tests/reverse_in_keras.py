"""Reverse conversions (layers model -> ``.h5`` / ``.keras``) loaded and run by a real Keras.

Shared by the Keras 3 and the tf_keras 2 tests: each converts fixture models forward with
tfjs-lite and back, runs ``fixtures/keras_run_reverse.py`` once in its cached venv
(:mod:`cached_venv`) over all the files, and compares the outputs with the fixture's
``expected.json``. The tests never import Keras themselves.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from tfjs_node import TOLERANCE, compare, load_tensors

from tfjs_lite.conversion import convert

__all__ = ["CHILD", "assert_reproduces", "fixture_source", "round_trip", "run_in_keras"]

REPO = Path(__file__).resolve().parents[1]
CHILD = REPO / "fixtures" / "keras_run_reverse.py"


def fixture_source(case_dir: Path) -> Path:
    """The source model of a fixture folder (``file`` or ``dir`` of its case.json)."""
    meta = json.loads((case_dir / "case.json").read_text())
    return case_dir / (meta.get("file") or meta["dir"])


def round_trip(source: Path, work: Path, key: str, formats: Mapping[str, str]) -> dict[str, Path]:
    """Convert ``source`` to a layers model, then back to each ``{output_format: suffix}``.

    Returns ``{key + suffix: written file}``."""
    layers = work / f"{key}_layers"
    convert(source, layers, output_format="tfjs_layers_model")
    written = {}
    for output_format, suffix in formats.items():
        target = work / f"{key}{suffix}"
        convert(layers, target, output_format=output_format)
        written[f"{key}{suffix}"] = target
    return written


def run_in_keras(python: Path, flavor: str, jobs: Sequence[tuple[str, Path, Path]], env: Mapping[str, str],
                 cwd: Path, *, timeout: float) -> dict:
    """Load and run every ``(key, model file, fixture folder)`` in one process of ``flavor``
    (``keras3`` / ``tf_keras``); ``{key: {"keras", "outputs"} or {"error"}}``."""
    argv = json.dumps([[key, str(path), str(case)] for key, path, case in jobs])
    done = subprocess.run([str(python), str(CHILD), flavor, argv], capture_output=True, text=True,
                          env=dict(env), cwd=str(cwd), timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def assert_reproduces(result: dict, case_dir: Path, keras_version: str, rtol: float = TOLERANCE["float32"]) -> None:
    """The Keras run loaded the file and computed the source framework's ``expected.json``."""
    assert "error" not in result, result.get("error")
    assert result["keras"] == keras_version
    expected = load_tensors(case_dir / "expected.json")
    assert len(result["outputs"]) == len(expected)
    got = {name: np.asarray(out["data"]).reshape(out["shape"]) for name, out in zip(expected, result["outputs"])}
    compare(got, expected, rtol=rtol)
