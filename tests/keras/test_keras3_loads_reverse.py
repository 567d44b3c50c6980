"""Reverse conversions (layers model -> ``.keras`` / ``.h5``) loaded and run by real Keras 3.

Keras 3 (JAX backend, CPU) lives in its own cached venv, never in the project's: the package and its
tests do not import Keras. The venv is made once under ``$TFJS_LITE_KERAS_VENV`` (default
``~/.cache/tfjs-lite/keras-venv``) and reused. Without registry access the test is skipped, except
under CI or ``TFJS_LITE_REQUIRE_PROTO_COMPAT=1`` (scripts/test.sh), where it fails.

For every case the fixture's source model is converted forward with tfjs-lite, then back to
``.keras`` and ``.h5``; one Keras 3 process loads all of them, predicts on the fixture's
``inputs.json``, and the outputs must match the source framework's ``expected.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from tfjs_node import TOLERANCE, compare, load_tensors

from tfjs_lite.conversion import convert

REPO = Path(__file__).resolve().parents[2]
CASES_DIR = REPO / "fixtures" / "keras"
KERAS_SPEC = ("keras==3.15.1", "jax[cpu]")
CASES = ["mlp", "cnn", "multi_io", "nested", "nested_bn", "rnn", "layers_zoo", "k3_h5",
         "k3_sequential_keras", "k3_functional_keras", "k3_nested_keras", "k3_nested_bn_h5"]
FORMATS = {"keras_keras": ".keras", "keras": ".h5"}

# Runs inside the Keras venv (the tests never import Keras): argv = a JSON list of
# [key, model file, fixture folder].
_CHILD = REPO / "fixtures" / "keras3_run_reverse.py"


def _must_run() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("TFJS_LITE_REQUIRE_PROTO_COMPAT") == "1"


def _keras_python() -> Path:
    default = Path.home() / ".cache" / "tfjs-lite" / "keras-venv"
    root = Path(os.environ.get("TFJS_LITE_KERAS_VENV", default)) / f"keras-3.15.1-jax-py{sys.version_info[0]}{sys.version_info[1]}"
    python = root / "bin" / "python"
    if (root / "ready").exists():
        return python
    venv.EnvBuilder(clear=True, with_pip=True, system_site_packages=False).create(root)
    result = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *KERAS_SPEC],
                            capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        message = f"cannot install {' '.join(KERAS_SPEC)} into a venv: {result.stderr.strip()[-500:]}"
        if _must_run():
            pytest.fail(message)
        pytest.skip(message)
    (root / "ready").write_text(" ".join(KERAS_SPEC))
    return python


def _source(case: str) -> Path:
    meta = json.loads((CASES_DIR / case / "case.json").read_text())
    return CASES_DIR / case / meta["file"]


@pytest.fixture(scope="module")
def keras3_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every case converted forward and back, then loaded and run by Keras 3 in one process."""
    python = _keras_python()
    work = tmp_path_factory.mktemp("keras3")
    jobs = []
    for case in CASES:
        layers = work / f"{case}_layers"
        convert(_source(case), layers)
        for output_format, suffix in FORMATS.items():
            target = work / f"{case}{suffix}"
            convert(layers, target, output_format=output_format)
            jobs.append([f"{case}{suffix}", str(target), str(CASES_DIR / case)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", PYTHONNOUSERSITE="1", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([str(python), str(_CHILD), json.dumps(jobs)], capture_output=True, text=True,
                          env=env, cwd=str(work), timeout=900)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


@pytest.mark.parametrize("suffix", sorted(FORMATS.values()))
@pytest.mark.parametrize("case", CASES)
def test_keras3_loads_and_reproduces_the_source(case: str, suffix: str, keras3_results: dict) -> None:
    import numpy as np

    result = keras3_results[f"{case}{suffix}"]
    assert "error" not in result, result.get("error")
    assert result["keras"] == "3.15.1"
    expected = load_tensors(CASES_DIR / case / "expected.json")
    assert len(result["outputs"]) == len(expected)
    got = {name: np.asarray(out["data"]).reshape(out["shape"]) for name, out in zip(expected, result["outputs"])}
    compare(got, expected, rtol=TOLERANCE["float32"])
