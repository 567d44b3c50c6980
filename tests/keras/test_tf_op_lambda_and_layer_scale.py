"""Graph lowering of tf.keras 2 ``TFOpLambda`` layers and keras.applications' ``LayerScale``.

Each lowered graph runs in the numpy reference executor and is compared with the formula Keras
computes; TF functions outside the translated set must be refused by name, on both paths. The
real-client proof (TF.js 4.22 reproducing TF) is tests/zoo (MiniConvNeXt, MiniRegNetX).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tfjs_lite import executor
from tfjs_lite.conversion import convert
from tfjs_lite.errors import UnsupportedLayerError
from tfjs_lite.keras.layers import own_weights
from tfjs_lite.keras.lowering import lower_keras_model, lowering_issues
from tfjs_lite.keras.preflight import unsupported_reason

SHAPE = [None, 2, 3]
RNG = np.random.default_rng(7)
A = RNG.normal(size=(4, 2, 3)).astype(np.float32)
B = RNG.normal(size=(4, 2, 3)).astype(np.float32) + 3.0  # away from 0: a safe divisor


def _input(name: str) -> dict:
    return {"class_name": "InputLayer", "name": name,
            "config": {"name": name, "batch_input_shape": SHAPE, "dtype": "float32"}, "inbound_nodes": []}


def _model(layer: dict) -> dict:
    """A tf.keras 2 functional config: inputs ``a`` and ``b``, one layer ``op`` as the output."""
    return {"class_name": "Functional", "config": {
        "name": "m", "layers": [_input("a"), _input("b"), layer],
        "input_layers": [["a", 0, 0], ["b", 0, 0]], "output_layers": [["op", 0, 0]]}}


def _tf_op(function: str, kwargs: dict[str, Any]) -> dict:
    # tf.keras 2 writes the node of a TFOpLambda as its single reference, kwargs included.
    return {"class_name": "TFOpLambda", "name": "op",
            "config": {"name": "op", "trainable": True, "dtype": "float32", "function": function},
            "inbound_nodes": [["a", 0, 0, {**kwargs, "name": None}]]}


def _run(model: dict, weights: dict | None = None) -> np.ndarray:
    assert lowering_issues(model) == []
    graph, _ = lower_keras_model(model, weights or {}, keras3=False)
    return executor.run(graph, {"a": A, "b": B})["op"]


B_REF = ["b", 0, 0]


@pytest.mark.parametrize(("function", "y", "expected"), [
    ("__operators__.add", B_REF, A + B),
    ("math.add", 0.5, A + 0.5),
    ("math.subtract", B_REF, A - B),
    ("math.subtract", 2, A - 2.0),
    ("math.multiply", B_REF, A * B),
    ("math.multiply", 0.25, A * 0.25),
    ("math.truediv", B_REF, A / B),
    ("math.truediv", 4.0, A / 4.0),
    ("math.maximum", B_REF, np.maximum(A, B)),
    ("math.maximum", 0.0, np.maximum(A, 0.0)),
    ("math.minimum", B_REF, np.minimum(A, B)),
    ("math.minimum", -0.5, np.minimum(A, -0.5)),
])
def test_binary_tf_functions_lower_to_the_keras_result(function, y, expected):
    np.testing.assert_allclose(_run(_model(_tf_op(function, {"y": y}))), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("function", "expected"), [
    ("nn.relu", np.maximum(A, 0.0)), ("math.negative", -A), ("math.tanh", np.tanh(A)),
])
def test_unary_tf_functions_lower_to_the_keras_result(function, expected):
    np.testing.assert_allclose(_run(_model(_tf_op(function, {}))), expected, rtol=1e-6, atol=1e-6)


def test_unknown_tf_function_is_refused_by_name_before_lowering():
    model = _model(_tf_op("math.reduce_mean", {"axis": 1}))
    (issue,) = lowering_issues(model)
    assert (issue.layer, issue.class_name) == ("op", "TFOpLambda")
    assert "tf.math.reduce_mean" in issue.problem and "Python" not in issue.problem


@pytest.mark.parametrize(("function", "kwargs", "problem"), [
    ("math.add", {"y": [1.0, 2.0, 3.0]}, "neither a tensor nor a number"),  # a constant list: not translated
    ("math.add", {"y": 1.0, "axis": 1}, "argument 'axis'"),
    ("math.add", {}, "expects 2 argument"),
    ("nn.relu", {"y": 1.0}, "expects 1 argument"),
])
def test_tf_function_calls_the_lowering_cannot_express_are_refused(function, kwargs, problem):
    with pytest.raises(UnsupportedLayerError, match=problem) as caught:
        lower_keras_model(_model(_tf_op(function, kwargs)), {}, keras3=False)
    assert "layer 'op' (TFOpLambda)" in str(caught.value)


def test_layers_path_names_the_tf_function_and_the_way_out():
    reason = unsupported_reason("TFOpLambda", config={"function": "__operators__.add"})
    assert "tf.__operators__.add" in reason and "--output_format tfjs_graph_model" in reason
    assert "Python" not in reason
    assert "Python code" in unsupported_reason("Lambda")  # a Lambda does run Python


def test_layer_scale_multiplies_by_gamma_on_the_last_axis():
    assert own_weights("LayerScale", {"projection_dim": 3, "init_values": 1e-6}) == ["gamma"]
    gamma = np.asarray([0.5, -2.0, 3.0], np.float32)
    layer = {"class_name": "LayerScale", "name": "op",
             "config": {"name": "op", "init_values": 1e-6, "projection_dim": 3},
             "inbound_nodes": [[["a", 0, 0, {}]]]}
    np.testing.assert_allclose(_run(_model(layer), {"op/gamma": gamma}), A * gamma, rtol=1e-6)


def test_layer_scale_without_its_weight_is_refused():
    layer = {"class_name": "LayerScale", "name": "op", "config": {"name": "op", "projection_dim": 3},
             "inbound_nodes": [[["a", 0, 0, {}]]]}
    with pytest.raises(Exception, match="op/gamma"):
        lower_keras_model(_model(layer), {}, keras3=False)


def test_real_tf_keras_tf_functions_are_refused_on_the_layers_path_by_function(tmp_path):
    # fixtures/keras_graph/tfk_tf_functions (tf_keras 2.19) converts on the graph path
    # (tests/keras/test_keras_to_graph.py runs it in TF.js); tfjs-layers cannot run TFOpLambda.
    source = Path(__file__).resolve().parents[2] / "fixtures/keras_graph/tfk_tf_functions/model.h5"
    with pytest.raises(UnsupportedLayerError) as caught:
        convert(source, tmp_path / "out", output_format="tfjs_layers_model")
    message = str(caught.value)
    assert "tf.__operators__.add" in message and "tf.math.truediv" in message and "\n" not in message
    assert "--output_format tfjs_graph_model" in message and "Python" not in message
    assert not (tmp_path / "out").exists()


def _int_model(function: str, y: Any) -> dict:
    model = _model(_tf_op(function, {"y": y}))
    for layer in model["config"]["layers"][:2]:
        layer["config"]["dtype"] = "int32"
    return model


def test_a_number_takes_the_dtype_of_an_int32_tensor():
    tokens = np.arange(-3, 9, dtype=np.int32).reshape(2, 2, 3)
    graph, _ = lower_keras_model(_int_model("__operators__.add", 2), {}, keras3=False)
    (constant,) = [graph.value(n) for n in graph.nodes_by_op("Const")]
    assert constant.dtype == np.int32 and constant == 2  # TF.js's AddV2 wants both operands int32
    got = executor.run(graph, {"a": tokens, "b": tokens})["op"]
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, tokens + 2)


def test_a_fraction_with_an_int32_tensor_is_refused():
    with pytest.raises(UnsupportedLayerError, match="not an integer"):
        lower_keras_model(_int_model("math.multiply", 0.5), {}, keras3=False)
