"""Graph lowering of the ``keras.ops`` calls Keras 3 functional models record (``ops.mean(x, 1)``).

Each lowered graph runs in the numpy reference executor and is compared with numpy's formula for
the op (what Keras computes); arguments the lowering cannot express are refused by name. The
real-client proof (TF.js 4.22 reproducing Keras, from ``.keras`` and Keras 3 ``.h5``) is the
fixture ``keras_graph/k3_keras_ops`` in tests/keras/test_keras_to_graph.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from tfjs_lite import executor
from tfjs_lite.errors import UnsupportedLayerError
from tfjs_lite.keras.config import keras3_to_tfjs
from tfjs_lite.keras.lowering import lower_keras_model, lowering_issues

RNG = np.random.default_rng(11)
A = RNG.normal(size=(2, 3, 4)).astype(np.float32)
B = RNG.normal(size=(2, 4, 5)).astype(np.float32)


def _tensor(layer: str, shape: list) -> dict:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": shape, "dtype": "float32", "keras_history": [layer, 0, 0]}}


def _input(name: str, shape: list) -> dict:
    return {"module": "keras.layers", "class_name": "InputLayer", "name": name, "inbound_nodes": [],
            "config": {"name": name, "batch_shape": shape, "dtype": "float32", "sparse": False}}


def _op(class_name: str, args: list, config: dict | None = None, module: str = "keras.src.ops.numpy") -> dict:
    """A Keras 3 ``.keras`` entry of one keras.ops call named ``op``."""
    return {"module": module, "class_name": class_name, "registered_name": class_name, "name": "op",
            "config": {"name": "op", **(config or {})}, "inbound_nodes": [{"args": args, "kwargs": {}}]}


def _lower(entry: dict):
    a, b = _input("a", [None, 3, 4]), _input("b", [None, 4, 5])
    model = keras3_to_tfjs({"class_name": "Functional", "config": {
        "name": "m", "layers": [a, b, entry], "input_layers": [["a", 0, 0], ["b", 0, 0]],
        "output_layers": [["op", 0, 0]]}}, [])
    assert lowering_issues(model) == []
    graph, _ = lower_keras_model(model, {}, keras3=True)
    return graph


def _run(entry: dict) -> np.ndarray:
    return executor.run(_lower(entry), {"a": A, "b": B})["op"]


TA, TB = _tensor("a", [None, 3, 4]), _tensor("b", [None, 4, 5])


@pytest.mark.parametrize(("class_name", "config", "expected"), [
    ("Mean", {"axis": 1, "keepdims": False}, A.mean(1)),
    ("Sum", {"axis": [1, 2], "keepdims": True}, A.sum((1, 2), keepdims=True)),
    ("Max", {"axis": -1, "keepdims": False, "initial": None}, A.max(-1)),
    ("Min", {"axis": None, "keepdims": False, "initial": None}, A.min()),
    ("Prod", {"axis": 2, "keepdims": False}, A.prod(2)),
    ("Transpose", {"axes": [0, 2, 1]}, A.transpose(0, 2, 1)),
    ("Transpose", {"axes": None}, A.transpose(2, 1, 0)),
    ("ExpandDims", {"axis": -1}, A[..., None]),
    ("Reshape", {"newshape": [-1, 12]}, A.reshape(-1, 12)),
    ("Reshape", {"newshape": [2, 2, -1]}, A.reshape(2, 2, -1)),
    ("Reshape", {"newshape": [-1, 8]}, A.reshape(-1, 8)),  # -1 takes batch * 12 / 8: the batch must be even
    ("Clip", {"x_min": -0.5, "x_max": 0.25}, np.clip(A, -0.5, 0.25)),
    ("Cast", {"dtype": "int32"}, A.astype(np.int32)),
])
def test_one_tensor_ops_compute_what_numpy_does(class_name, config, expected):
    got = _run(_op(class_name, [TA], config))
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_softmax_on_any_axis(axis):
    expected = np.exp(A - A.max(axis, keepdims=True))
    expected /= expected.sum(axis, keepdims=True)
    np.testing.assert_allclose(_run(_op("Softmax", [TA], {"axis": axis}, module="keras.src.ops.nn")),
                               expected, rtol=1e-6, atol=1e-7)


def test_matmul_concatenate_and_squeeze():
    np.testing.assert_allclose(_run(_op("Matmul", [TA, TB])), A @ B, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(_run(_op("Concatenate", [[TA, TA]], {"axis": -1})), np.concatenate([A, A], -1))
    single = _tensor("a", [None, 3, 1])
    a = _input("a", [None, 3, 1])
    model = keras3_to_tfjs({"class_name": "Functional", "config": {
        "name": "m", "layers": [a, _op("Squeeze", [single], {"axis": None})],
        "input_layers": [["a", 0, 0]], "output_layers": [["op", 0, 0]]}}, [])
    graph, _ = lower_keras_model(model, {}, keras3=True)
    np.testing.assert_array_equal(executor.run(graph, {"a": A[..., :1]})["op"], A[..., 0])


@pytest.mark.parametrize(("class_name", "number", "expected"), [
    ("Greater", 0.0, A > 0), ("LessEqual", 0.5, A <= 0.5), ("Equal", 0.0, A == 0), ("NotEqual", 0.0, A != 0),
])
def test_comparisons_with_a_number_are_bool(class_name, number, expected):
    got = _run(_op(class_name, [TA, number]))
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, expected)


def test_where_with_a_number_branch_and_a_comparison_condition():
    condition = _op("Greater", [TA, 0.0])
    condition["name"] = condition["config"]["name"] = "positive"
    where = _op("Where", [_tensor("positive", [None, 3, 4]), TA, -1.0])
    a, b = _input("a", [None, 3, 4]), _input("b", [None, 4, 5])
    model = keras3_to_tfjs({"class_name": "Functional", "config": {
        "name": "m", "layers": [a, b, condition, where], "input_layers": [["a", 0, 0], ["b", 0, 0]],
        "output_layers": [["op", 0, 0]]}}, [])
    graph, _ = lower_keras_model(model, {}, keras3=True)
    np.testing.assert_array_equal(executor.run(graph, {"a": A, "b": B})["op"], np.where(A > 0, A, -1.0))


@pytest.mark.parametrize(("class_name", "args", "config", "problem"), [
    ("Reshape", [TA], {"newshape": [7, 5]}, "does not fit"),
    ("Reshape", [TA], {"newshape": [-1, -1]}, "at most one -1"),
    ("Transpose", [TA], {"axes": [0, 1]}, "not a permutation"),
    ("Transpose", [TA], {"axes": [[0], 1, 2]}, "not a permutation"),
    ("Concatenate", [[TA, TB]], {"axis": 1}, "concatenates tensors of shapes"),
    ("Squeeze", [TA], {"axis": 1}, "not all 1"),
    ("Mean", [TA], {"axis": 3}, "not an axis"),
    ("Max", [TA], {"axis": 1, "initial": 0.0}, "initial"),
    ("Cast", [TA], {"dtype": "float64"}, "dtype='float64'"),
    ("Clip", [TA], {"x_min": None, "x_max": 1.0}, "two finite numbers"),
    ("Where", [TA], {}, "expects 3 arguments"),
    ("ExpandDims", [TA], {"axis": [0, 1]}, "option axis"),
    ("Softmax", [TA], {"axis": None}, "every element"),
    ("Softmax", [TA], {"axis": [1, 2]}, "more than one axis"),
])
def test_arguments_the_lowering_cannot_express_are_refused(class_name, args, config, problem):
    with pytest.raises(UnsupportedLayerError, match=problem) as info:
        _lower(_op(class_name, args, config))
    assert "op" in str(info.value) and "\n" not in str(info.value)


def test_matmul_of_a_vector_is_refused():
    vector = _tensor("v", [None])
    v = _input("v", [None])
    model = keras3_to_tfjs({"class_name": "Functional", "config": {
        "name": "m", "layers": [v, _input("b", [None, 4, 5]), _op("Matmul", [vector, TB])],
        "input_layers": [["v", 0, 0], ["b", 0, 0]], "output_layers": [["op", 0, 0]]}}, [])
    with pytest.raises(UnsupportedLayerError, match="rank >= 2"):
        lower_keras_model(model, {}, keras3=True)


def test_logical_and_like_ops():
    positive, small = _op("Greater", [TA, 0.0]), _op("Less", [TA, 0.5])
    positive["name"] = positive["config"]["name"] = "positive"
    small["name"] = small["config"]["name"] = "small"
    both = _op("LogicalAnd", [_tensor("positive", [None, 3, 4]), _tensor("small", [None, 3, 4])])
    a, b = _input("a", [None, 3, 4]), _input("b", [None, 4, 5])
    model = keras3_to_tfjs({"class_name": "Functional", "config": {
        "name": "m", "layers": [a, b, positive, small, both], "input_layers": [["a", 0, 0], ["b", 0, 0]],
        "output_layers": [["op", 0, 0]]}}, [])
    graph, _ = lower_keras_model(model, {}, keras3=True)
    np.testing.assert_array_equal(executor.run(graph, {"a": A, "b": B})["op"], (A > 0) & (A < 0.5))
    ones = _run(_op("OnesLike", [TA], {"dtype": "bool"}))
    assert ones.dtype == np.bool_ and ones.all() and ones.shape == A.shape
    np.testing.assert_array_equal(_run(_op("ZerosLike", [TA], {"dtype": None})), np.zeros_like(A))
