"""Reverse conversions (layers model -> ``.keras`` / ``.h5``) loaded and run by real Keras 3.

Keras 3 (JAX backend, CPU) lives in its own cached venv, never in the project's: the package and its
tests do not import Keras. The venv is made once under ``$TFJS_LITE_KERAS_VENV`` (default
``~/.cache/tfjs-lite/keras-venv``) and reused (tests/cached_venv.py: skipped without registry
access, except under CI or ``TFJS_LITE_REQUIRE_PROTO_COMPAT=1``, where it fails).

For every case the fixture's source model is converted forward with tfjs-lite, then back to
``.keras`` and ``.h5``; one Keras 3 process loads all of them, predicts on the fixture's
``inputs.json``, and the outputs must match the source framework's ``expected.json``.
tests/keras/test_tf_keras_loads_reverse.py does the same for the ``.h5`` files in tf_keras 2.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cached_venv import child_env, venv_python
from reverse_in_keras import assert_reproduces, fixture_source, round_trip, run_in_keras

CASES_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "keras"
KERAS_VERSION = "3.15.1"
KERAS_SPEC = (f"keras=={KERAS_VERSION}", "jax[cpu]")
CASES = ["mlp", "cnn", "multi_io", "nested", "nested_bn", "rnn", "layers_zoo", "k3_h5",
         "k3_sequential_keras", "k3_functional_keras", "k3_nested_keras", "k3_nested_bn_h5"]
FORMATS = {"keras_keras": ".keras", "keras": ".h5"}


@pytest.fixture(scope="module")
def keras3_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every case converted forward and back, then loaded and run by Keras 3 in one process."""
    python = venv_python("TFJS_LITE_KERAS_VENV", "keras-venv", f"keras-{KERAS_VERSION}-jax", KERAS_SPEC,
                         timeout=900)
    work = tmp_path_factory.mktemp("keras3")
    jobs = [(key, path, CASES_DIR / case) for case in CASES
            for key, path in round_trip(fixture_source(CASES_DIR / case), work, case, FORMATS).items()]
    env = child_env(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
    return run_in_keras(python, "keras3", jobs, env, work, timeout=900)


@pytest.mark.parametrize("suffix", sorted(FORMATS.values()))
@pytest.mark.parametrize("case", CASES)
def test_keras3_loads_and_reproduces_the_source(case: str, suffix: str, keras3_results: dict) -> None:
    assert_reproduces(keras3_results[f"{case}{suffix}"], CASES_DIR / case, KERAS_VERSION)
