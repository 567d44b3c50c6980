"""The committed part of the TFLite zoo (fixtures/tflite_zoo), proven in real TF.js 4.22.

``fixtures/generate_tflite_zoo.py`` converts Keras zoo architectures (random weights, calibrated
batch norms) with TF's TFLiteConverter and records ``tf.lite.Interpreter``'s outputs and, for
quantized models, every operator's output (``intermediates.npz``). For each committed case:

* TF.js runs the converted graph model and matches the interpreter within the tolerance of
  tests/tflite_tolerance.py — except for the quantized cases in ``AMPLIFIED``: there the
  interpreter's per-layer rounding, amplified by a random-weight model, exceeds the end-to-end
  tolerance, and TF.js is held to the numpy reference executor instead (1e-4), whose lowering is
  proven operator by operator below;
* every operator's lowering, fed the interpreter's own inputs, reproduces the interpreter's
  output within that operator's rounding (``operator_errors``).

The whole zoo runs with ``python benchmarks/tflite_zoo.py`` (docs/tflite_zoo.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tfjs_lite.optimizer import optimize
from tfjs_node import compare_stats, load_tensors
from tflite_tolerance import operator_errors, tolerance

from tfjs_lite import convert, executor
from tfjs_lite.readers.tflite import load_tflite, load_tflite_graph

ZOO = Path(__file__).resolve().parents[2] / "fixtures" / "tflite_zoo"
CASES = sorted(f"{p.parent.parent.name}/{p.parent.name}" for p in ZOO.glob("*/*/model.tflite"))
RECORDED = [c for c in CASES if (ZOO / c / "intermediates.npz").is_file()]
# Quantized cases whose end-to-end difference from the interpreter is amplified rounding (their
# operators all match, test_every_operator_matches_the_interpreter).
AMPLIFIED = {"MiniDenseNet/int8", "MobileNetAlpha025/int8",
             "MiniConvNeXt/int8", "MiniResNet/uint8_io", "MiniResNet/int16x8"}


def test_the_zoo_is_committed():
    assert len(CASES) >= 4 and len(RECORDED) >= 2
    assert AMPLIFIED <= set(CASES)


def _worst(actual: dict, expected: dict) -> float:
    return max(s["rel"] for s in compare_stats(actual, expected).values())


@pytest.mark.parametrize("case", CASES)
def test_tfjs_reproduces_the_interpreter(case, tfjs, tmp_path):
    folder = ZOO / case
    convert(folder / "model.tflite", tmp_path / "m")
    inputs, expected = load_tensors(folder / "inputs.json"), load_tensors(folder / "expected.json")
    got = dict(tfjs.execute_graph(str(tmp_path / "m"), inputs, list(expected)))
    error, allowed = _worst(got, expected), tolerance(folder, expected)
    if case not in AMPLIFIED:
        assert error <= allowed, f"{case}: {error:.2e} > {allowed:.2e}"
        return
    assert error > allowed, f"{case} is within its tolerance now: take it out of AMPLIFIED"
    graph = load_tflite_graph(folder / "model.tflite")
    optimize(graph)
    reference = executor.run(graph, inputs)
    assert _worst(got, {k: reference[k] for k in expected}) <= 1e-4


@pytest.mark.parametrize("case", RECORDED)
def test_every_operator_matches_the_interpreter(case):
    with np.load(ZOO / case / "intermediates.npz") as recorded:
        rows = operator_errors(ZOO / case, dict(recorded))
    operators = load_tflite(ZOO / case / "model.tflite").subgraphs[0].operators
    assert {r["operator"] for r in rows} == {op.index for op in operators}  # every operator checked
    over = [r for r in rows if r["error"] > r["allowed"]]
    assert not over, over[:5]


def test_keras3_grouped_convolutions_become_depthwise(tmp_path):
    """Keras 3's ConvNeXt holds its 7x7 depthwise convolutions as grouped CONV_2D: each must be
    one depthwise convolution in the graph model, not a convolution per channel."""
    convert(ZOO / "k3_MiniConvNeXt" / "float32" / "model.tflite", tmp_path / "m")
    ops = [n["op"] for n in json.loads((tmp_path / "m" / "model.json").read_text())["modelTopology"]["node"]]
    assert sum(op in ("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative") for op in ops) == 4
    assert sum(op in ("Conv2D", "_FusedConv2D") for op in ops) == 4  # the stem and 3 downsamplings
