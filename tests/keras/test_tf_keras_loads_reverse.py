"""Reverse conversions (layers model -> ``.h5``) loaded and run by real tf_keras 2.19.

tf_keras 2 (the Keras of TensorFlow 2.x, what most ``.h5`` users run) lives in its own cached venv
with ``tensorflow-cpu``, never in the project's: the package and its tests do not import TF. The
venv is made once under ``$TFJS_LITE_TF_KERAS_VENV`` (default ``~/.cache/tfjs-lite/tf-keras-venv``,
about 1.5 GB) and reused (tests/cached_venv.py: skipped without registry access, except under CI or
``TFJS_LITE_REQUIRE_PROTO_COMPAT=1``, where it fails). TensorFlow 2.19 has wheels for Python 3.9-3.12.

Every Keras fixture with recorded outputs that converts to a layers model is converted forward
with tfjs-lite and back to ``.h5``; one tf_keras process loads all of them, predicts on the
fixture's ``inputs.json``, and the outputs must match the source framework's ``expected.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cached_venv import child_env, venv_python
from reverse_in_keras import assert_reproduces, fixture_source, round_trip, run_in_keras
from test_layer_options import REFUSED as REFUSED_OPTIONS
from tfjs_node import TOLERANCE

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TF_KERAS_VERSION = "2.19.0"
# tf_keras requires the package named ``tensorflow`` (the 600 MB GPU-ready wheel, which would come
# next to tensorflow-cpu and overwrite it): it is installed without requirements instead.
TF_SPEC = (f"tensorflow-cpu=={TF_KERAS_VERSION}",)
TF_KERAS_SPEC = (f"tf_keras=={TF_KERAS_VERSION}",)


def _sources() -> list[str]:
    """The source models (relative to fixtures/) of every Keras fixture we can write back as ``.h5``.

    * ``keras/``: every ``"expect": "convert"`` case, made by tf_keras 2.19 and by Keras 3.15
      (``k3_*``: ``.h5`` and ``.keras`` sources alike), except the weights-only files
      (``architecture_of``): they hold no architecture, so there is no ``.h5`` model to write.
    * ``layer_options/``: one tiny tf_keras model per layer option; all but the options the
      forward conversion refuses (tests/keras/test_layer_options.py ``REFUSED``).
    * ``keras_saved_model/``: the tf_keras SavedModels that hold a Keras model (``no_metadata``
      is a plain ``tf.Module``, refused as a layers model).
    * ``keras_graph/`` and ``zoo/``: the models whose layers tfjs-layers loads. The others are
      refused by the forward conversion (grouped convolutions, TF-op lambdas, attention, ...), so
      there is nothing to write back. ``zoo/k3_MiniDenseNet`` (Keras 3) from its ``.keras`` and
      its legacy ``.h5`` alike.
    """
    sources = []
    for case in sorted((FIXTURES / "keras").glob("*/case.json")):
        info = json.loads(case.read_text())
        if info["expect"] == "convert" and "architecture_of" not in info:
            sources.append(fixture_source(case.parent))
    sources += [fixture_source(case.parent) for case in sorted((FIXTURES / "layer_options").glob("*/case.json"))
                if case.parent.name not in REFUSED_OPTIONS]
    sources += [FIXTURES / "keras_saved_model" / name / "saved_model" for name in ("cnn_bn", "lstm", "mlp")]
    sources += [fixture_source(FIXTURES / "keras_graph" / name)
                for name in ("k3_conv_lstm", "k3_mobilenet", "tfk_conv_lstm", "tfk_mobilenet_v2")]
    sources += [FIXTURES / "zoo" / name for name in ("MiniDenseNet/model.h5", "MiniEfficientNet/model.h5",
                                                     "MobileNetAlpha025/model.h5", "k3_MiniDenseNet/model.keras",
                                                     "k3_MiniDenseNet/model.h5")]
    return [str(source.relative_to(FIXTURES)) for source in sources]


SOURCES = _sources()


@pytest.fixture(scope="module")
def tf_keras_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every source converted forward and back, then loaded and run by tf_keras in one process."""
    python = venv_python("TFJS_LITE_TF_KERAS_VENV", "tf-keras-venv", f"tf_keras-{TF_KERAS_VERSION}", TF_SPEC,
                         no_deps=TF_KERAS_SPEC, timeout=900)
    work = tmp_path_factory.mktemp("tf_keras")
    jobs = [(source, path, (FIXTURES / source).parent) for source in SOURCES
            for path in round_trip(FIXTURES / source, work, source.replace("/", "-"), {"keras": ".h5"}).values()]
    env = child_env(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    return run_in_keras(python, "tf_keras", jobs, env, work, timeout=600)


def test_the_sources_include_both_kerases_and_both_file_kinds() -> None:
    made_by = {json.loads((FIXTURES / source).parent.joinpath("case.json").read_text()).get("keras", "tf_keras")
               .split()[0] for source in SOURCES}
    suffixes = {Path(source).suffix for source in SOURCES}
    assert {"tf_keras", "keras"} <= made_by and {".h5", ".keras", ""} <= suffixes and len(SOURCES) >= 70


@pytest.mark.parametrize("source", SOURCES)
def test_tf_keras_loads_and_reproduces_the_source(source: str, tf_keras_results: dict) -> None:
    # The zoo's deep random-weight models are as sensitive to float32 rounding as their TF outputs
    # are far from the exact result (~1e-4, tests/float64_reference.py); a run in another TF process
    # (other kernels, other thread split) moves them that much. Their bar is the zoo's.
    rtol = TOLERANCE["deep_float32"] if source.startswith("zoo/") else TOLERANCE["float32"]
    assert_reproduces(tf_keras_results[source], (FIXTURES / source).parent, TF_KERAS_VERSION, rtol)
