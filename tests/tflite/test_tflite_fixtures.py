"""TFLite fixtures (made by TF's TFLiteConverter) -> graph models, proven in real TF.js 4.22
against tf.lite.Interpreter's outputs, and on the numpy reference executor, within the
tolerances of tests/tflite_tolerance.py (derived from each model's quantization).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tfjs_node import TOLERANCE, compare, load_tensors
from tflite_tolerance import tolerance as case_tolerance

from tfjs_lite import convert, executor
from tfjs_lite.errors import UnsupportedOpError
from tfjs_lite.readers.tflite import load_tflite, load_tflite_graph
from tfjs_lite.readers.tflite.tensors import constant

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "tflite"
RUNNABLE = sorted(p.name for p in FIXTURES.iterdir() if (p / "expected.json").is_file())


def _load(name: str) -> tuple[dict, dict]:
    return load_tensors(FIXTURES / name / "inputs.json"), load_tensors(FIXTURES / name / "expected.json")


def tolerance(name: str, expected: dict) -> float:
    return case_tolerance(FIXTURES / name, expected)


def _rel(actual: dict, expected: dict, rtol: float) -> float:
    return compare({k: np.atleast_1d(v) for k, v in actual.items()},
                   {k: np.atleast_1d(v) for k, v in expected.items()}, rtol=rtol)


@pytest.mark.parametrize("name", RUNNABLE)
def test_fixture_runs_in_tfjs(name, tfjs, tmp_path):
    convert(FIXTURES / name / "model.tflite", tmp_path / name)
    inputs, expected = _load(name)
    got = tfjs.execute_graph(str(tmp_path / name), inputs, list(expected))
    _rel(got, expected, tolerance(name, expected))


@pytest.mark.parametrize("name", RUNNABLE)
def test_numpy_executor_matches_the_interpreter(name):
    graph = load_tflite_graph(FIXTURES / name / "model.tflite")
    graph.check()
    inputs, expected = _load(name)
    _rel(executor.run(graph, inputs), expected, tolerance(name, expected))


def test_quantized_tolerances_are_tight_enough():
    """The derived tolerances stay small: a wrong dequantization (a missing zero point, a scale
    on the wrong axis) would exceed them."""
    for name in ("cnn_int8", "cnn_uint8_io_per_tensor"):
        _, expected = _load(name)
        assert tolerance(name, expected) < 0.05
    assert tolerance("cnn_dynamic_range", {}) <= 6 / 254


def test_wrong_dequantization_is_caught(monkeypatch):
    """Reading per-channel weights with one scale must fail the comparison."""
    from tfjs_lite.readers.tflite import tensors

    original = tensors.dequantize

    def one_scale(values, quant, where):
        mean = np.full(1, quant.scale.mean(), np.float32)
        return original(values, type(quant)(mean, quant.zero_point[:1], quant.axis), where)

    monkeypatch.setattr(tensors, "dequantize", one_scale)
    name = "cnn_int8"
    inputs, expected = _load(name)
    with pytest.raises(AssertionError):
        _rel(executor.run(load_tflite_graph(FIXTURES / name / "model.tflite"), inputs), expected,
             tolerance(name, expected))


def test_float16_weights_are_folded_into_float32_constants(tmp_path):
    convert(FIXTURES / "cnn_float16" / "model.tflite", tmp_path / "m")
    model = json.loads((tmp_path / "m" / "model.json").read_text())
    ops = {n["op"] for n in model["modelTopology"]["node"]}
    assert "Dequantize" not in ops and "Cast" not in ops
    dtypes = {w["dtype"] for g in model["weightsManifest"] for w in g["weights"]}
    assert "float32" in dtypes and dtypes <= {"float32", "int32"}


def test_integer_inputs_are_fed_as_integers(tmp_path):
    convert(FIXTURES / "cnn_uint8_io_per_tensor" / "model.tflite", tmp_path / "m")
    sig = json.loads((tmp_path / "m" / "model.json").read_text())["signature"]
    (info,) = sig["inputs"].values()
    assert info["dtype"] == "DT_INT32"
    assert [o["dtype"] for o in sig["outputs"].values()] == ["DT_FLOAT"]


def test_signature_names_and_dynamic_dims(tmp_path):
    convert(FIXTURES / "signature_resize" / "model.tflite", tmp_path / "m")
    sig = json.loads((tmp_path / "m" / "model.json").read_text())["signature"]
    assert sorted(sig["inputs"]) == ["gain", "image"]
    assert list(sig["outputs"]) == ["aligned", "mean_colour", "resized", "thumb"]
    assert sig["inputs"]["image"]["tensorShape"] == {"dim": [{"size": "1"}, {"size": "12"}, {"size": "10"},
                                                            {"size": "3"}]}


def test_no_signature_uses_tensor_names_and_keeps_functional_control_flow(tmp_path):
    convert(FIXTURES / "ops_control" / "model.tflite", tmp_path / "m")
    model = json.loads((tmp_path / "m" / "model.json").read_text())
    assert sorted(model["signature"]["inputs"]) == ["n", "x"]
    ops = {n["op"] for n in model["modelTopology"]["node"]}
    assert {"StatelessWhile", "StatelessIf"} <= ops
    assert len(model["modelTopology"]["library"]["function"]) == 4


@pytest.mark.parametrize("flag,rtol", [("uint8", TOLERANCE["uint8"]), ("float16", TOLERANCE["float16"])])
def test_weight_quantization_flags(flag, rtol, tfjs, tmp_path):
    name = "ops_layers"
    result = convert(FIXTURES / name / "model.tflite", tmp_path / "m", **{f"quantize_{flag}": True})
    model = json.loads((tmp_path / "m" / "model.json").read_text())
    assert any(w.get("quantization", {}).get("dtype") == flag for g in model["weightsManifest"] for w in g["weights"])
    inputs, expected = _load(name)
    _rel(tfjs.execute_graph(str(tmp_path / "m"), inputs, list(expected)), expected, rtol)
    assert result.files


def test_flex_ops_are_refused_by_name(tmp_path):
    with pytest.raises(UnsupportedOpError, match=r"FlexMatrixInverse.*Flex delegate.*operator 1"):
        convert(FIXTURES / "flex_op" / "model.tflite", tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_conversion_is_deterministic(tmp_path):
    for out in ("a", "b"):
        convert(FIXTURES / "cnn_int8" / "model.tflite", tmp_path / out)
    for path in sorted((tmp_path / "a").iterdir()):
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_constants_are_views_of_the_file():
    model = load_tflite(FIXTURES / "cnn_float32" / "model.tflite")
    sub = model.subgraphs[0]
    weights = [t for t in sub.tensors if model.raw(t) is not None and t.type_name == "FLOAT32"]
    assert weights
    value = constant(model, weights[0])
    assert not value.flags.owndata and not value.flags.writeable


def test_dynamic_dimensions_stay_unknown(tmp_path):
    convert(FIXTURES / "ops_dynamic" / "model.tflite", tmp_path / "m")
    sig = json.loads((tmp_path / "m" / "model.json").read_text())["signature"]
    assert sig["inputs"]["x"]["tensorShape"] == {"dim": [{"size": "-1"}, {"size": "3"}, {"size": "4"}]}


def test_fused_lstm_is_unrolled():
    graph = load_tflite_graph(FIXTURES / "lstm_fused" / "model.tflite")
    assert not graph.functions
    assert len(graph.nodes_by_op("Split")) == 7 + 7  # one gate split per step, two layers of 7 steps


def test_memory_mapped_read_gives_the_same_model(tmp_path, monkeypatch):
    """Big files are mapped instead of read; the output must not depend on which."""
    from tfjs_lite.readers.tflite import model as tflite_model

    convert(FIXTURES / "cnn_float32" / "model.tflite", tmp_path / "read")
    monkeypatch.setattr(tflite_model, "_MMAP_FROM", 0)
    assert type(load_tflite(FIXTURES / "cnn_float32" / "model.tflite").data).__name__ == "mmap"
    convert(FIXTURES / "cnn_float32" / "model.tflite", tmp_path / "mapped")
    for path in sorted((tmp_path / "read").iterdir()):
        assert path.read_bytes() == (tmp_path / "mapped" / path.name).read_bytes(), path.name
