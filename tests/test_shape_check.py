"""The static shape check before writing (tfjs_lite/shape_check.py, kernels/shapes.py) and its
Keras-config counterpart (keras/ranks.py layer_shape_problems): absurd-but-allocation-free graphs
and configs are refused naming the node or layer; real models with dynamic dimensions are not."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.ir import Graph, TensorRef, TensorType
from tfjs_lite.ir.attrs import DType
from tfjs_lite.keras.ranks import layer_shape_problems
from tfjs_lite.limits import MAX_STATIC_TENSOR_ELEMENTS
from tfjs_lite.shape_check import check_static_shapes

FLOAT = DType("DT_FLOAT")


def _input(g: Graph, shape: tuple[int, ...], name: str = "x") -> TensorRef:
    g.add_op("Placeholder", attrs={"dtype": FLOAT, "shape": shape}, name=name,
             out_types=[TensorType(FLOAT, shape)])
    return TensorRef(name, 0)


def _ints(g: Graph, values: Any) -> TensorRef:
    return g.add_const(np.asarray(values, np.int32))


def _zeros(g: Graph, shape: tuple[int, ...]) -> TensorRef:
    return g.add_const(np.broadcast_to(np.float32(0), shape))  # a read-only view: nothing allocated


def _op(g: Graph, op: str, inputs: list[TensorRef], **attrs: Any) -> TensorRef:
    return TensorRef(g.add_op(op, inputs, {"T": FLOAT, **attrs}, name=f"n{len(g)}"), 0)


def _finish(g: Graph, out: TensorRef) -> Graph:
    g.outputs["y"] = out
    return g


NHWC = {"data_format": "NHWC"}


def _tile(shape: tuple[int, ...], multiples: list[int]) -> Graph:
    g = Graph()
    return _finish(g, _op(g, "Tile", [_input(g, shape), _ints(g, multiples)]))


def _reshape(shape: tuple[int, ...], target: list[int]) -> Graph:
    g = Graph()
    return _finish(g, _op(g, "Reshape", [_input(g, shape), _ints(g, target)]))


def _pool(shape: tuple[int, ...], ksize: list[int], strides: list[int], padding: str = "VALID") -> Graph:
    g = Graph()
    return _finish(g, _op(g, "MaxPool", [_input(g, shape)], ksize=ksize, strides=strides, padding=padding, **NHWC))


def _conv(shape: tuple[int, ...], filt: tuple[int, ...], strides: list[int], dilations: list[int],
          padding: str = "SAME") -> Graph:
    g = Graph()
    return _finish(g, _op(g, "Conv2D", [_input(g, shape), _zeros(g, filt)], strides=strides, dilations=dilations,
                          padding=padding, **NHWC))


def _chained_tiles() -> Graph:
    # Each Tile is within the budget from its own inputs' view only if shapes do not propagate.
    g = Graph()
    first = _op(g, "Tile", [_input(g, (-1, 4)), _ints(g, [1 << 10, 1 << 10])])
    relu = _op(g, "Relu", [first])
    return _finish(g, _op(g, "Tile", [relu, _ints(g, [1 << 10, 1])]))


def _fill(dims: list[int]) -> Graph:
    g = Graph()
    return _finish(g, _op(g, "Fill", [_ints(g, dims), _input(g, ())]))


def _resize(shape: tuple[int, ...], size: list[int]) -> Graph:
    g = Graph()
    return _finish(g, _op(g, "ResizeBilinear", [_input(g, shape), _ints(g, size)]))


def _pad(shape: tuple[int, ...], pads: list[list[int]]) -> Graph:
    g = Graph()
    return _finish(g, _op(g, "Pad", [_input(g, shape), _ints(g, pads)]))


def _in_function(inner: Graph) -> Graph:
    g = Graph()
    g.functions["body"] = inner
    return _finish(g, _input(g, (1,), "outer"))


def _pooled_then_reshaped(target: list[int]) -> Graph:
    # Shapes flow through a reduction, a Slice and a Pack before the Reshape that contradicts them.
    g = Graph()
    x = _op(g, "Mean", [_input(g, (2, 7, 7, 64)), _ints(g, [1, 2])], keep_dims=False)
    x = _op(g, "Slice", [x, _ints(g, [0, 0]), _ints(g, [-1, 32])])
    x = TensorRef(g.add_op("Pack", [x, x], {"T": FLOAT, "N": 2, "axis": 0}, name="pack"), 0)
    return _finish(g, _op(g, "Reshape", [x, _ints(g, target)]))


def _slice(begin: list[int], size: list[int]) -> Graph:
    g = Graph()
    return _finish(g, _op(g, "Slice", [_input(g, (4, 6)), _ints(g, begin), _ints(g, size)]))


BIG = 1 << 40
REFUSED = {
    "Reshape after Mean, Slice and Pack to another count": (_pooled_then_reshaped([2, 63]), ModelFormatError,
                                                            "the input [2, 2, 32] holds 128"),
    "Slice past the end": (_slice([2, 0], [3, -1]), ModelFormatError, "do not fit in the input [4, 6]"),
    # what: (graph, error type, text the one line must hold)
    "Tile by 2**20 x 2**20 on a dynamic batch": (_tile((-1, 4), [1 << 20, 1 << 20]), UnsupportedModelError, "'n2' (Tile)"),
    "Tile chain over the budget": (_chained_tiles(), UnsupportedModelError, "(Tile): output 0 has the static shape [1048576, 4096]"),
    "Fill of 2**40": (_fill([1 << 20, 1 << 20]), UnsupportedModelError, "(Fill)"),
    "ResizeBilinear to 2**20 x 2**20": (_resize((-1, 8, 8, 3), [1 << 20, 1 << 20]), UnsupportedModelError, "[?, 1048576, 1048576, 3]"),
    "Pad by 2**20": (_pad((-1, 8, 8, 3), [[0, 0], [1 << 20, 1 << 20], [1 << 20, 1 << 20], [0, 0]]), UnsupportedModelError, "(Pad)"),
    "Reshape to another element count": (_reshape((2, 6), [5, 2]), ModelFormatError, "holds 10 elements but the input [2, 6] holds 12"),
    "Reshape to an indivisible -1": (_reshape((2, 6), [-1, 5]), ModelFormatError, "cannot be reshaped to [-1, 5]"),
    "Reshape with two -1": (_reshape((-1, 6), [-1, -1]), ModelFormatError, "more than one -1"),
    "Reshape to [2**20, 2**20] of a dynamic input": (_reshape((-1, 6), [1 << 20, 1 << 20]), UnsupportedModelError, "(Reshape)"),
    "Tile by a negative multiple": (_tile((2, 3), [1, -1]), ModelFormatError, "negative"),
    "MaxPool kernel 2**40": (_pool((-1, 8, 8, 3), [1, BIG, BIG, 1], [1, 1, 1, 1]), ModelFormatError, "kernel size"),
    "MaxPool kernel 2**40 on an unknown shape": (_pool((), [1, BIG, BIG, 1], [1, 1, 1, 1]), ModelFormatError, "kernel size"),
    "MaxPool window 4096 x 8192": (_pool((-1, 8, 8, 3), [1, 4096, 8192, 1], [1, 1, 1, 1], "SAME"), ModelFormatError, "elements"),
    "MaxPool VALID window larger than the input": (_pool((-1, 8, 8, 3), [1, 9, 9, 1], [1, 1, 1, 1]), ModelFormatError, "does not fit"),
    "Conv2D stride 0": (_conv((-1, 8, 8, 3), (3, 3, 3, 4), [1, 0, 0, 1], [1, 1, 1, 1]), ModelFormatError, "stride [1, 0, 0, 1]"),
    "Conv2D stride -2": (_conv((-1, 8, 8, 3), (3, 3, 3, 4), [1, -2, -2, 1], [1, 1, 1, 1]), ModelFormatError, "below 1"),
    "Conv2D dilations 2**20": (_conv((-1, 8, 8, 3), (3, 3, 3, 4), [1, 1, 1, 1], [1, 1 << 20, 1 << 20, 1]), ModelFormatError, "dilation"),
    "Conv2D dilated kernel spanning 2**17": (_conv((-1, 8, 8, 3), (3, 3, 3, 4), [1, 1, 1, 1], [1, 1 << 16, 1, 1]), ModelFormatError, "spans"),
    "Tile inside a function body": (_in_function(_tile((-1, 4), [1 << 20, 1 << 20])), UnsupportedModelError, "function 'body': node"),
}


@pytest.mark.parametrize("what", sorted(REFUSED))
def test_absurd_static_shapes_are_refused_naming_the_node(what: str) -> None:
    graph, error, text = REFUSED[what]
    with pytest.raises(error) as caught:
        check_static_shapes(graph)
    message = str(caught.value)
    assert text in message and "\n" not in message and "node '" in message


def _resnet_stem_and_head() -> Graph:
    """ResNet-50's stem, a bottleneck's convolutions and its head at 224 px, batch unknown."""
    g = Graph()
    x = _input(g, (-1, 224, 224, 3))
    x = _op(g, "Conv2D", [x, _zeros(g, (7, 7, 3, 64))], strides=[1, 2, 2, 1], dilations=[1, 1, 1, 1],
            padding="SAME", **NHWC)
    x = _op(g, "Relu", [_op(g, "BiasAdd", [x, _zeros(g, (64,))], **NHWC)])
    x = _op(g, "MaxPool", [x], ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding="SAME", **NHWC)
    x = _op(g, "Conv2D", [x, _zeros(g, (1, 1, 64, 256))], strides=[1, 1, 1, 1], dilations=[1, 1, 1, 1],
            padding="VALID", **NHWC)
    x = _op(g, "Conv2D", [x, _zeros(g, (3, 3, 256, 2048))], strides=[1, 8, 8, 1], dilations=[1, 1, 1, 1],
            padding="SAME", **NHWC)
    x = _op(g, "AvgPool", [x], ksize=[1, 7, 7, 1], strides=[1, 1, 1, 1], padding="VALID", **NHWC)
    x = _op(g, "Reshape", [x, _ints(g, [-1, 2048])])
    x = _op(g, "MatMul", [x, _zeros(g, (2048, 1000))])
    return _finish(g, _op(g, "Softmax", [x]))


def _unknown_multiples() -> Graph:
    g = Graph()
    x = _input(g, (-1, 4))
    multiples = _op(g, "Cast", [_input(g, (2,), "m")])  # known only at run time
    return _finish(g, _op(g, "Tile", [x, multiples]))


def _stale_recorded_shape() -> Graph:
    # A shape a reader recorded (not derived from the inputs) never proves a contradiction.
    g = Graph()
    x = _input(g, (-1,))
    unique = TensorRef(g.add_op("Unique", [x], {"T": FLOAT}, name="u", out_types=[TensorType(FLOAT, (2, 6))]), 0)
    return _finish(g, _op(g, "Reshape", [unique, _ints(g, [5, 2])]))


ACCEPTED = {
    "ResNet-50 stem and head, dynamic batch": _resnet_stem_and_head(),
    "dynamic dims everywhere": _finish(g := Graph(), _op(g, "Reshape", [
        _op(g, "ResizeBilinear", [_input(g, (-1, -1, -1, 3)), _ints(g, [512, 512])]), _ints(g, [-1, 512 * 512 * 3])])),
    "Reshape of a dynamic batch to [-1, 3136]": _reshape((-1, 7, 7, 64), [-1, 3136]),
    "Reshape of an unknown size to [2, 5]": _reshape((-1, 6), [2, 5]),
    "Resize to 4096 x 4096": _resize((-1, 8, 8, 3), [4096, 4096]),
    "Tile by multiples known at run time": _unknown_multiples(),
    "Tile just under the budget": _tile((-1, 4), [MAX_STATIC_TENSOR_ELEMENTS // 8, 2]),
    "global MaxPool 224 x 224": _pool((-1, 224, 224, 3), [1, 224, 224, 1], [1, 1, 1, 1]),
    "contradiction on a recorded shape only": _stale_recorded_shape(),
    "Reshape after Mean, Slice and Pack": _pooled_then_reshaped([4, 32]),
    "Slice to the end": _slice([2, 0], [2, -1]),
}


@pytest.mark.parametrize("what", sorted(ACCEPTED))
def test_real_and_dynamic_shapes_pass(what: str) -> None:
    check_static_shapes(ACCEPTED[what])


# --- Keras configs (the layers path writes them without lowering) ---------------------------------

def _sequential(input_shape: list[Any], *layers: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    listed = [{"class_name": "InputLayer", "config": {"name": "input", "batch_input_shape": input_shape}}]
    listed += [{"class_name": cls, "config": {"name": f"l{i}", **config}} for i, (cls, config) in enumerate(layers)]
    return {"class_name": "Sequential", "config": {"name": "m", "layers": listed}}


def _functional(input_shape: list[Any], *layers: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    listed = [{"class_name": "InputLayer", "name": "input", "config": {"name": "input", "batch_input_shape": input_shape},
               "inbound_nodes": []}]
    previous = "input"
    for i, (cls, config) in enumerate(layers):
        listed.append({"class_name": cls, "name": f"l{i}", "config": {"name": f"l{i}", **config},
                       "inbound_nodes": [[[previous, 0, 0, {}]]]})
        previous = f"l{i}"
    return {"class_name": "Functional", "config": {"name": "m", "layers": listed, "input_layers": [["input", 0, 0]],
                                                   "output_layers": [[previous, 0, 0]]}}


IMAGE = [None, 8, 8, 3]
KERAS_REFUSED = {
    "Reshape to another element count": (IMAGE, [("Reshape", {"target_shape": [7, 3]})], "holds 21 elements"),
    "Reshape after a pool to another count": (IMAGE, [("MaxPooling2D", {"pool_size": [2, 2], "padding": "valid"}),
                                                      ("Reshape", {"target_shape": [16, 4]})], "[4, 4, 3] holds 48"),
    "UpSampling2D by 2**15 x 2**15": (IMAGE, [("UpSampling2D", {"size": [1 << 15, 1 << 15]})], "over the"),
    "MaxPooling2D VALID pool larger than the input": (IMAGE, [("MaxPooling2D", {"pool_size": [9, 9], "padding": "valid"})],
                                                      "does not fit"),
    "Conv2D dilated kernel spanning 2**17": (IMAGE, [("Conv2D", {"filters": 4, "kernel_size": [3, 3], "padding": "same",
                                                                 "dilation_rate": [1 << 16, 1]})], "spans 131073"),
    "Dense units 0": ([None, 4], [("Dense", {"units": 0})], "units=0"),
    "Dense units 2**32": ([None, 4], [("Dense", {"units": 1 << 32})], "over the"),
    "ZeroPadding2D by 2**20": (IMAGE, [("ZeroPadding2D", {"padding": [[1 << 20, 1 << 20], [1 << 20, 1 << 20]]})], "over the"),
    "ZeroPadding2D negative": (IMAGE, [("ZeroPadding2D", {"padding": [[-1, 0], [0, 0]]})], "negative"),
    "Cropping2D more than the input": (IMAGE, [("Cropping2D", {"cropping": [[5, 5], [0, 0]]})], "removes more"),
    "RepeatVector 2**40": ([None, 4], [("RepeatVector", {"n": BIG})], "over the"),
    "Permute naming axis 5 of a rank-4 input": (IMAGE, [("Permute", {"dims": [1, 5, 2]})], "not a permutation"),
}


@pytest.mark.parametrize("kind", [_sequential, _functional], ids=["sequential", "functional"])
@pytest.mark.parametrize("what", sorted(KERAS_REFUSED))
def test_keras_configs_that_cannot_run_are_named(what: str, kind: Any) -> None:
    input_shape, layers, text = KERAS_REFUSED[what]
    problems = layer_shape_problems(kind(input_shape, *layers))
    assert problems and text in problems[0][2], problems


KERAS_ACCEPTED = {
    "dynamic spatial dims": ([None, None, None, 3], [("UpSampling2D", {"size": [2, 2]}),
                                                    ("Conv2D", {"filters": 4, "kernel_size": [3, 3], "strides": [2, 2]}),
                                                    ("Reshape", {"target_shape": [-1, 4]})]),
    "ResNet-like stem at 224 px": ([None, 224, 224, 3], [
        ("ZeroPadding2D", {"padding": [[3, 3], [3, 3]]}),
        ("Conv2D", {"filters": 64, "kernel_size": [7, 7], "strides": [2, 2], "padding": "valid"}),
        ("MaxPooling2D", {"pool_size": [3, 3], "strides": [2, 2], "padding": "same"}),
        ("Conv2D", {"filters": 2048, "kernel_size": [1, 1], "strides": [8, 8]}),
        ("AveragePooling2D", {"pool_size": [7, 7]}),
        ("Reshape", {"target_shape": [2048]}),
        ("Dense", {"units": 1000})]),
    "Conv2DTranspose valid s2 then Reshape": ([None, 4, 4, 1], [
        ("Conv2DTranspose", {"filters": 2, "kernel_size": [3, 3], "strides": [2, 2], "padding": "valid"}),
        ("Reshape", {"target_shape": [81, 2]})]),
    "Conv1D causal on an input shorter than the kernel": ([None, 2, 3], [
        ("Conv1D", {"filters": 4, "kernel_size": [3], "padding": "causal"}), ("Reshape", {"target_shape": [8]})]),
    "Conv2DTranspose with output_padding": ([None, 4, 4, 1], [
        ("Conv2DTranspose", {"filters": 2, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same",
                             "output_padding": [1, 1]}),
        ("Reshape", {"target_shape": [128]})]),
    "Permute then Reshape": ([None, 2, 3, 4], [("Permute", {"dims": [3, 1, 2]}), ("Reshape", {"target_shape": [4, 6]})]),
    "Flatten, RepeatVector, Embedding": ([None, 6], [("Embedding", {"input_dim": 10, "output_dim": 4}),
                                                     ("Flatten", {}), ("RepeatVector", {"n": 3}),
                                                     ("Reshape", {"target_shape": [3, 24]})]),
}


@pytest.mark.parametrize("kind", [_sequential, _functional], ids=["sequential", "functional"])
@pytest.mark.parametrize("what", sorted(KERAS_ACCEPTED))
def test_real_keras_configs_pass(what: str, kind: Any) -> None:
    input_shape, layers = KERAS_ACCEPTED[what]
    assert layer_shape_problems(kind(input_shape, *layers)) == []


WINDOW_OPTIONS_REFUSED = {
    # What keras/validate.py refuses in any layer (nested ones too), before shapes are known.
    "UpSampling2D by 2**20": ("UpSampling2D", {"size": [1 << 20, 1 << 20]}, "'size' is [1048576, 1048576], over 65536"),
    "UpSampling2D by 0": ("UpSampling2D", {"size": [0, 2]}, "not a positive integer"),
    "MaxPooling2D pool 2**40": ("MaxPooling2D", {"pool_size": [BIG, BIG]}, "'pool_size'"),
    "Conv2D strides 0": ("Conv2D", {"filters": 4, "kernel_size": [3, 3], "strides": [0, 0]}, "'strides'"),
    "Conv2D dilation 2**20": ("Conv2D", {"filters": 4, "kernel_size": 3, "dilation_rate": 1 << 20}, "over 65536"),
}


@pytest.mark.parametrize("what", sorted(WINDOW_OPTIONS_REFUSED))
def test_keras_window_options_out_of_range_are_refused(what: str) -> None:
    from tfjs_lite.keras.validate import validate_model_config

    class_name, config, text = WINDOW_OPTIONS_REFUSED[what]
    model = _sequential([None, None, None, 3], (class_name, config))
    nested = _sequential([None, 8, 8, 3], ("Sequential", model["config"]))
    for config_to_check in (model, nested):
        with pytest.raises(ModelFormatError, match=None) as caught:
            validate_model_config(config_to_check)
        assert text in str(caught.value)


@pytest.mark.parametrize("what", ["Reshape to another element count", "Cropping2D more than the input",
                                  "RepeatVector 2**40"])
def test_keras_nested_models_are_checked_with_their_callers_input(what: str) -> None:
    input_shape, layers, text = KERAS_REFUSED[what]
    inner = _sequential([None], *layers)
    inner["config"]["layers"] = inner["config"]["layers"][1:]  # no input shape of its own
    outer = _functional(input_shape, ("Sequential", inner["config"]))
    problems = layer_shape_problems(outer)
    assert problems and problems[0][0] == "l0/l0" and text in problems[0][2], problems
