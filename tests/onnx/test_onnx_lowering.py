"""Lowering details that the fixture comparisons alone do not pin down: which TF form a lowering
picks, where it must not fire, and that static shape arithmetic never reaches the graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tfjs_node import load_tensors

from tfjs_lite import executor
from tfjs_lite.readers.onnx import read_onnx
from tfjs_lite.readers.onnx.context import FOLD_LIMIT, tf_name
from tfjs_lite.readers.onnx.model import OnnxGraph, OnnxNode, ValueInfo, load_onnx
from tfjs_lite.readers.onnx.reader import lower_graph
from tfjs_lite.readers.onnx.rewrite import fuse_group_norm

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "onnx"


def _ops(path: Path) -> list[str]:
    graph = read_onnx(path)
    return [graph.op(n) for n in graph.nodes()]


@pytest.mark.parametrize("case, present, absent", [
    ("Resize_x2_linear_half_pixel", "ResizeBilinear", "BatchMatMulV2"),
    ("Resize_x2_linear_align_corners", "ResizeBilinear", "BatchMatMulV2"),
    ("Resize_x2_nearest_asymmetric_floor", "ResizeNearestNeighbor", "GatherV2"),
    ("Resize_x2_nearest_half_pixel_round_prefer_floor", "ResizeNearestNeighbor", "GatherV2"),
    # 5 * 1.5 is not a whole size: TF samples with in/out, ONNX with 1/scale, so exact matrices
    ("Resize_linear_half_pixel", "BatchMatMulV2", "ResizeBilinear"),
    # 2x down with round_prefer_floor has ties TF.js rounds the other way: exact index gathers
    ("Resize_nearest_down", "GatherV2", "ResizeNearestNeighbor"),
    # asymmetric + round_prefer_ceil has no TF.js resize: gathers
    ("Resize_nearest_asymmetric_round_prefer_ceil", "GatherV2", "ResizeNearestNeighbor"),
    # half_pixel_symmetric: interpolation matrices
    ("Resize_linear_half_pixel_symmetric", "BatchMatMulV2", "ResizeBilinear"),
    ("Conv_depthwise", "DepthwiseConv2dNative", "Conv2D"),
    ("Conv_stride_dilation", "Conv2D", "DepthwiseConv2dNative"),
])
def test_lowering_picks_the_tf_form(case, present, absent):
    ops = _ops(FIXTURES / "ops" / case / "model.onnx")
    assert present in ops and absent not in ops


def test_static_shape_arithmetic_is_folded_away():
    # YOLOv8's head computes anchors from Shape(x): with static shapes no Shape op survives
    assert "Shape" not in _ops(FIXTURES / "models" / "yolov8_w0125" / "model.onnx")
    # ... while a dynamic batch keeps it, as it must
    assert "Shape" in _ops(FIXTURES / "models" / "transformer_dynamic_batch" / "model.onnx")


def _graph(nodes: list[OnnxNode], initializers: dict, opset: int = 18) -> OnnxGraph:
    return OnnxGraph(nodes, initializers, [("x", ValueInfo(1, (1, 4, 3, 3)))], [("y", ValueInfo(1, None))], {}, opset)


def _group_norm_decomposition(target: list[int], scale_size: int = 2, extra_reader: bool = False) -> OnnxGraph:
    nodes = [OnnxNode("Reshape", "r1", ["x", "shape"], ["g"], {}),
             OnnxNode("InstanceNormalization", "norm", ["g", "s", "b"], ["n"], {"epsilon": 1e-5}),
             OnnxNode("Reshape", "r2", ["n", "back"], ["y"], {})]
    if extra_reader:
        nodes.append(OnnxNode("Relu", "other", ["g"], ["z"], {}))
    return _graph(nodes, {"shape": np.array(target, np.int64), "back": np.array([1, 4, 3, 3], np.int64),
                          "s": np.ones(scale_size, np.float32), "b": np.zeros(scale_size, np.float32)})


def test_group_norm_decomposition_becomes_group_normalization():
    graph = _group_norm_decomposition([0, 2, -1])
    assert fuse_group_norm(graph) == 1
    assert [n.op_type for n in graph.nodes] == ["GroupNormalization", "Reshape"]


@pytest.mark.parametrize("target, scale_size, extra_reader", [
    ([0, 2, 18], 2, False),     # not [N, G, -1]
    ([0, 2, -1], 4, False),     # per-channel parameters: not this decomposition
    ([0, 2, -1], 2, True),      # the grouped tensor is read elsewhere
    ([1, 2, 3, -1], 2, False),  # rank 4 target
])
def test_group_norm_rewrite_does_not_fire(target, scale_size, extra_reader):
    graph = _group_norm_decomposition(target, scale_size, extra_reader)
    assert fuse_group_norm(graph) == 0
    assert "GroupNormalization" not in [n.op_type for n in graph.nodes]


@pytest.mark.parametrize("dims, folded", [([2, 3], True), ([FOLD_LIMIT + 1], False)])
def test_constant_of_shape_folds_only_small_results(dims, folded):
    node = OnnxNode("ConstantOfShape", "fill", ["shape"], ["c"], {"value": np.array([2.0], np.float32)})
    add = OnnxNode("Add", "add", ["c", "x1"], ["y"], {})
    graph = OnnxGraph([node, add], {"shape": np.array(dims, np.int64)}, [("x1", ValueInfo(1, (1,)))],
                      [("y", ValueInfo(1, None))], {}, 18)
    lowered = lower_graph(graph)
    ops = [lowered.op(n) for n in lowered.nodes()]
    assert ("Fill" not in ops) is folded


@pytest.mark.parametrize("name, expected", [
    ("/model.0/conv/Conv", "model.0/conv/Conv"), ("onnx::Conv_12", "onnx__Conv_12"), ("_x", "x"), ("::", "fb"),
])
def test_tf_names_are_valid(name, expected):
    assert tf_name(name, "fb") == expected


def test_signature_keeps_onnx_names(tmp_path):
    from tfjs_lite import convert

    convert(FIXTURES / "ops" / "TopK" / "model.onnx", tmp_path / "m")
    signature = json.loads((tmp_path / "m" / "model.json").read_text())["signature"]
    assert list(signature["inputs"]) == ["x"] and list(signature["outputs"]) == ["out0", "out1"]
    assert signature["outputs"]["out1"]["dtype"] == "DT_INT32"


@pytest.mark.parametrize("y_shape, dropped", [
    ((None, 4, 3, 3), True),    # one symbolic dim, the rest equal: the element count forces it
    ((None, 4, None, 3), False),  # two symbolic dims could trade sizes: the Reshape stays
    ((None, 2, 6, 3), False),   # another shape
])
def test_reshape_to_a_runtime_shape_like_its_own(y_shape, dropped):
    x_shape = tuple(None if d is None else (4 if i == 1 else 3) for i, d in enumerate(y_shape))
    nodes = [OnnxNode("Shape", "shape", ["y"], ["s"], {}), OnnxNode("Reshape", "reshape", ["x", "s"], ["out"], {})]
    graph = OnnxGraph(nodes, {}, [("x", ValueInfo(1, x_shape)), ("y", ValueInfo(1, y_shape))],
                      [("out", ValueInfo(1, None))], {}, 18)
    lowered = lower_graph(graph)
    assert ("Reshape" not in [lowered.op(n) for n in lowered.nodes()]) is dropped


def _lstm(x_shape: tuple, attrs: dict, lengths: list[int] | None = None) -> OnnxGraph:
    rng = np.random.default_rng(0)
    weights = {"W": rng.standard_normal((1, 16, 3)).astype(np.float32),
               "R": rng.standard_normal((1, 16, 4)).astype(np.float32)}
    inputs = ["x", "W", "R"]
    if lengths is not None:
        weights["lens"] = np.array(lengths, np.int32)
        inputs += ["", "lens"]
    node = OnnxNode("LSTM", "lstm", inputs, ["y", "y_h", "y_c"], {"hidden_size": 4, **attrs})
    return OnnxGraph([node], weights, [("x", ValueInfo(1, x_shape))], [("y_h", ValueInfo(1, None))], {}, 18)


@pytest.mark.parametrize("x_shape, attrs, lengths, why", [
    ((None, 2, 3), {}, None, "sequence length must be static"),
    ((5, 2, 3), {}, [5, 3], "sequence_lens"),
    ((5, 2, 3), {"input_forget": 1}, None, "input_forget"),
    ((5, 2, 3), {"activations": ["Sigmoid", "Affine", "Tanh"]}, None, "Affine"),
    ((5, 2, 3), {"activations": ["Sigmoid", "Tanh"]}, None, "2 activations given"),
    ((5, 2, 3), {"hidden_size": 5}, None, "W has shape"),
    ((100_000, 2, 3), {}, None, "too long to unroll"),
])
def test_recurrent_refusals_name_what_is_missing(x_shape, attrs, lengths, why):
    from tfjs_lite.errors import ConversionError

    with pytest.raises(ConversionError, match=why):
        lower_graph(_lstm(x_shape, attrs, lengths))


def test_recurrent_full_sequence_lengths_and_symbolic_batch_are_fine():
    # sequence_lens equal to the length changes nothing; a symbolic batch needs no zero state
    x = np.random.default_rng(1).standard_normal((5, 2, 3)).astype(np.float32)
    symbolic = executor.run(lower_graph(_lstm((5, None, 3), {}, [5, 5])), {"x": x}, outputs=["y_h"])["y_h"]
    static = executor.run(lower_graph(_lstm((5, 2, 3), {})), {"x": x}, outputs=["y_h"])["y_h"]
    assert symbolic.shape == (1, 2, 4) and np.abs(static).max() > 0.05
    np.testing.assert_allclose(symbolic, static, rtol=1e-6)


@pytest.mark.parametrize("case", ["LSTM_bidirectional_initial", "GRU_reverse_initial"])
def test_recurrent_batch_major_layout_matches_the_sequence_major_one(case):
    # onnxruntime has no layout=1 kernel, so the batch-major form is checked against the recorded
    # sequence-major one: the same model with layout=1 and every input/output's first two axes swapped
    folder = FIXTURES / "ops" / case
    graph = load_onnx(folder / "model.onnx")
    graph.nodes[0].attrs["layout"] = 1
    swap = {"x": (1, 0, 2), "h0": (1, 0, 2), "c0": (1, 0, 2)}
    graph.inputs = [(n, ValueInfo(v.elem_type, tuple(v.shape[i] for i in swap[n]))) for n, v in graph.inputs]
    inputs, expected = load_tensors(folder / "inputs.json"), load_tensors(folder / "expected.json")
    got = executor.run(lower_graph(graph), {k: v.transpose(swap[k]) for k, v in inputs.items()},
                       outputs=list(expected))
    for name, want in expected.items():  # Y: [seq, dirs, batch, h] -> [batch, seq, dirs, h]; states: swap
        perm = (2, 0, 1, 3) if want.ndim == 4 else (1, 0, 2)
        np.testing.assert_allclose(got[name], want.transpose(perm), rtol=1e-4, atol=1e-5)


def test_grouped_conv_transpose_is_refused_past_the_dense_filter_limit(monkeypatch):
    from tfjs_lite.errors import UnsupportedModelError
    from tfjs_lite.readers.onnx.lowering import conv

    graph = load_onnx(FIXTURES / "ops" / "ConvTranspose_grouped" / "model.onnx")
    lower_graph(graph)  # 4·3·3·3 weights, 2 groups: widened
    monkeypatch.setattr(conv, "DENSE_FILTER_LIMIT", 4 * 3 * 3 * 3 * 2 - 1)
    with pytest.raises(UnsupportedModelError, match="dense filter"):
        lower_graph(load_onnx(FIXTURES / "ops" / "ConvTranspose_grouped" / "model.onnx"))


@pytest.mark.parametrize("equation", ["bhid,bhjd->bhij", "bhid,bhjd"])
def test_einsum_output_rank_is_known_to_later_ops(equation):
    # the TorchScript exporter gives an Einsum no value_info; a Softmax on its last axis needs the rank
    nodes = [OnnxNode("Einsum", "e", ["q", "k"], ["s"], {"equation": equation}),
             OnnxNode("Softmax", "softmax", ["s"], ["y"], {"axis": -1})]
    graph = OnnxGraph(nodes, {}, [("q", ValueInfo(1, (2, 2, 5, 4))), ("k", ValueInfo(1, (2, 2, 3, 4)))],
                      [("y", ValueInfo(1, None))], {}, 17)
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 2, 5, 4)).astype(np.float32), rng.standard_normal((2, 2, 3, 4)).astype(np.float32)
    got = executor.run(lower_graph(graph), {"q": q, "k": k}, outputs=["y"])["y"]
    scores = np.einsum(equation, q, k)
    want = np.exp(scores - scores.max(-1, keepdims=True))
    np.testing.assert_allclose(got, want / want.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("attrs", [{"padding_mode": "reflection"}, {"mode": "bicubic"}])
def test_grid_sample_refuses_what_it_does_not_compute(attrs):
    from tfjs_lite.errors import UnsupportedModelError

    graph = load_onnx(FIXTURES / "ops" / "GridSample_bilinear_zeros_align0" / "model.onnx")
    lower_graph(graph)
    graph.nodes[0].attrs.update(attrs)
    with pytest.raises(UnsupportedModelError, match="GridSample mode="):
        lower_graph(graph)


def _symbolic_batch_graph(nodes: list[OnnxNode], initializers: dict) -> OnnxGraph:
    return OnnxGraph(nodes, initializers, [("x", ValueInfo(1, (None, 3, 4, 4)))], [("y", ValueInfo(1, None))], {}, 17)


@pytest.mark.parametrize("index, folded", [(1, True), (0, False)])
def test_scalar_gather_of_a_symbolic_shape(index, folded):
    # x.size(1) is static even with a symbolic batch (TorchScript's dynamic_axes exports); x.size(0) is not
    nodes = [OnnxNode("Shape", "shape", ["x"], ["s"], {}), OnnxNode("Gather", "g", ["s", "i"], ["d"], {"axis": 0}),
             OnnxNode("Unsqueeze", "u", ["d", "zero"], ["d1"], {}),
             OnnxNode("Concat", "c", ["d1", "rest"], ["target"], {"axis": 0}),
             OnnxNode("Reshape", "r", ["x", "target"], ["y"], {})]
    rest = np.array([-1], np.int64) if index == 0 else np.array([-1, 16], np.int64)
    graph = _symbolic_batch_graph(nodes, {"i": np.array(index, np.int64), "zero": np.array([0], np.int64),
                                          "rest": rest})
    lowered = lower_graph(graph)
    assert ("GatherV2" not in [lowered.op(n) for n in lowered.nodes()]) is folded
    x = np.random.default_rng(0).standard_normal((3, 3, 4, 4)).astype(np.float32)
    got = executor.run(lowered, {"x": x}, outputs=["y"])["y"]
    np.testing.assert_array_equal(got, x.reshape(3, -1) if index == 0 else x.reshape(3, -1, 16))


def test_resize_sizes_from_a_sliced_symbolic_shape():
    # Concat(Shape(x)[:2], [8, 8]) as Resize sizes: N is symbolic, C and the new H, W are known
    nodes = [OnnxNode("Shape", "shape", ["x"], ["s"], {}),
             OnnxNode("Slice", "nc", ["s", "start", "end"], ["n_c"], {}),
             OnnxNode("Concat", "c", ["n_c", "hw"], ["sizes"], {"axis": 0}),
             OnnxNode("Resize", "resize", ["x", "", "", "sizes"], ["y"],
                      {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"})]
    graph = _symbolic_batch_graph(nodes, {"start": np.array([0], np.int64), "end": np.array([2], np.int64),
                                          "hw": np.array([8, 8], np.int64)})
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 4)).astype(np.float32)
    got = executor.run(lower_graph(graph), {"x": x}, outputs=["y"])["y"]
    np.testing.assert_array_equal(got, x.repeat(2, axis=2).repeat(2, axis=3))


def test_if_with_a_runtime_condition_is_refused():
    from tfjs_lite.errors import UnsupportedModelError

    graph = load_onnx(FIXTURES / "ops" / "If_static_condition_then" / "model.onnx")
    assert "Relu" in _ops(FIXTURES / "ops" / "If_static_condition_then" / "model.onnx")  # the branch taken
    assert "Neg" not in _ops(FIXTURES / "ops" / "If_static_condition_then" / "model.onnx")  # the other dropped
    equal = next(n for n in graph.nodes if n.op_type == "Equal")
    equal.inputs = ["x", "x"]  # a condition that depends on the input
    with pytest.raises(UnsupportedModelError, match="condition computed at run time"):
        lower_graph(graph)


@pytest.mark.parametrize("attrs", [{"pads": [1, 1, 0, 0]}, {"ceil_mode": 1}, {"storage_order": 1}])
def test_max_pool_indices_refuses_windows_it_cannot_index(attrs):
    from tfjs_lite.errors import UnsupportedModelError

    graph = load_onnx(FIXTURES / "ops" / "MaxPool_indices_k3s2" / "model.onnx")
    lower_graph(graph)
    graph.nodes[0].attrs.update(attrs)
    with pytest.raises(UnsupportedModelError, match="Indices output"):
        lower_graph(graph)
