"""Lowering rules on small hand-built TFLite models, checked on the numpy reference executor
against numpy formulas of the TFLite kernels' semantics (fused activations, the operator-code
rule, depth multipliers, keep_num_dims, TF1 SELECT, offset slices, quantized constants, buffers
after the FlatBuffer, WHILE subgraphs, unsupported operators)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tflite_builder import TfliteBuilder
from tfjs_lite import executor
from tfjs_lite.errors import ModelFormatError, UnsupportedOpError
from tfjs_lite.readers.tflite import load_tflite, load_tflite_graph

RNG = np.random.default_rng(0)


def _run(tmp_path: Path, data: bytes, feeds: dict) -> dict:
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    graph = load_tflite_graph(path)
    graph.check()
    return executor.run(graph, feeds)


def _unary_model(name: str, shape: list[int], options: dict | None = None, **kw) -> bytes:
    b = TfliteBuilder()
    x, y = b.tensor("x", shape), b.tensor("y", shape)
    b.op(name, [x], [y], options, **kw)
    return b.finish([x], [y])


ACTIVATIONS = {
    0: lambda v: v,
    1: lambda v: np.maximum(v, 0),
    2: lambda v: np.clip(v, -1, 1),
    3: lambda v: np.clip(v, 0, 6),
    4: np.tanh,
    5: lambda v: (v < 0).astype(np.float32),
}


@pytest.mark.parametrize("code", sorted(ACTIVATIONS))
def test_fused_activations(code, tmp_path):
    b = TfliteBuilder()
    x = b.tensor("x", [2, 5])
    w = b.const("w", RNG.normal(size=(2, 5)).astype(np.float32) * 4)
    y = b.tensor("y", [2, 5])
    b.op("ADD", [x, w], [y], {"fused_activation_function": code})
    feed = (RNG.normal(size=(2, 5)) * 4).astype(np.float32)
    got = _run(tmp_path, b.finish([x], [y]), {"x": feed})["y"]
    weights = load_tflite(tmp_path / "m.tflite")
    w_value = np.frombuffer(weights.raw(weights.subgraphs[0].tensors[1]), np.float32).reshape(2, 5)
    np.testing.assert_allclose(got, ACTIVATIONS[code](feed + w_value), rtol=1e-6)


@pytest.mark.parametrize("deprecated,builtin,expected", [
    (19, 0, "RELU"),        # a pre-3a file: only the int8 field
    (127, 150, "GELU"),     # codes past 126: 127 in the old field, the code in the new one
    (0, 19, "RELU"),        # a writer that left the old field at 0
])
def test_operator_code_is_the_larger_field(deprecated, builtin, expected, tmp_path):
    b = TfliteBuilder()
    x, y = b.tensor("x", [3]), b.tensor("y", [3])
    b.op(expected, [x], [y], code=b.code(expected, deprecated=deprecated, builtin=builtin))
    path = tmp_path / "m.tflite"
    path.write_bytes(b.finish([x], [y]))
    assert load_tflite(path).subgraphs[0].operators[0].opcode == expected


def test_depthwise_multiplier_from_shapes(tmp_path):
    b = TfliteBuilder()
    x = b.tensor("x", [1, 5, 5, 3])
    filt = RNG.normal(size=(1, 3, 3, 6)).astype(np.float32)  # C=3, multiplier 2
    bias = RNG.normal(size=6).astype(np.float32)
    w, bb, y = b.const("w", filt), b.const("b", bias), b.tensor("y", [1, 5, 5, 6])
    # depth_multiplier deliberately stale (the kernel uses the shapes)
    b.op("DEPTHWISE_CONV_2D", [x, w, bb], [y], {"padding": 0, "stride_w": 1, "stride_h": 1, "depth_multiplier": 1})
    feed = RNG.normal(size=(1, 5, 5, 3)).astype(np.float32)
    got = _run(tmp_path, b.finish([x], [y]), {"x": feed})["y"]
    padded = np.pad(feed, ((0, 0), (1, 1), (1, 1), (0, 0)))
    want = np.zeros((1, 5, 5, 6), np.float32)
    for i in range(5):
        for j in range(5):
            patch = padded[0, i:i + 3, j:j + 3, :]  # [3,3,C]
            for c in range(3):
                for m in range(2):
                    want[0, i, j, c * 2 + m] = np.sum(patch[:, :, c] * filt[0, :, :, c * 2 + m])
    np.testing.assert_allclose(got, want + bias, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("keep", [True, False])
def test_fully_connected_keep_num_dims(keep, tmp_path):
    b = TfliteBuilder()
    x = b.tensor("x", [2, 3, 4])
    weights = RNG.normal(size=(5, 4)).astype(np.float32)  # [out, in]
    w = b.const("w", weights)
    y = b.tensor("y", [2, 3, 5] if keep else [6, 5])
    b.op("FULLY_CONNECTED", [x, w, -1], [y], {"keep_num_dims": keep, "fused_activation_function": 1})
    feed = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    got = _run(tmp_path, b.finish([x], [y]), {"x": feed})["y"]
    want = np.maximum(feed.reshape(-1, 4) @ weights.T, 0)
    np.testing.assert_allclose(got, want.reshape(2, 3, 5) if keep else want, rtol=1e-5, atol=1e-6)


def test_tf1_select_with_a_vector_condition_picks_rows(tmp_path):
    b = TfliteBuilder()
    cond, x, z = b.tensor("cond", [3], "bool"), b.tensor("x", [3, 2]), b.tensor("z", [3, 2])
    y = b.tensor("y", [3, 2])
    b.op("SELECT", [cond, x, z], [y])
    feeds = {"cond": np.array([True, False, True]), "x": np.ones((3, 2), np.float32),
             "z": np.zeros((3, 2), np.float32)}
    got = _run(tmp_path, b.finish([cond, x, z], [y]), feeds)["y"]
    np.testing.assert_array_equal(got, [[1, 1], [0, 0], [1, 1]])


def test_strided_slice_offset_means_sizes(tmp_path):
    b = TfliteBuilder()
    x = b.tensor("x", [6, 4])
    begin, size, strides = b.const("begin", [1, 1]), b.const("size", [3, 2]), b.const("strides", [1, 1])
    y = b.tensor("y", [3, 2])
    b.op("STRIDED_SLICE", [x, begin, size, strides], [y], {"offset": True})
    feed = np.arange(24, dtype=np.float32).reshape(6, 4)
    np.testing.assert_array_equal(_run(tmp_path, b.finish([x], [y]), {"x": feed})["y"], feed[1:4, 1:3])


@pytest.mark.parametrize("op,shape_in,shape_out", [("SPACE_TO_DEPTH", [2, 4, 6, 3], [2, 2, 3, 12]),
                                                  ("DEPTH_TO_SPACE", [2, 2, 3, 12], [2, 4, 6, 3])])
def test_space_depth(op, shape_in, shape_out, tmp_path):
    b = TfliteBuilder()
    x, y = b.tensor("x", shape_in), b.tensor("y", shape_out)
    b.op(op, [x], [y], {"block_size": 2})
    feed = RNG.normal(size=shape_in).astype(np.float32)
    got = _run(tmp_path, b.finish([x], [y]), {"x": feed})["y"]
    n, h, w, c = shape_in
    if op == "SPACE_TO_DEPTH":
        want = feed.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(shape_out)
    else:
        want = feed.reshape(n, h, w, 2, 2, c // 4).transpose(0, 1, 3, 2, 4, 5).reshape(shape_out)
    np.testing.assert_array_equal(got, want)


def test_per_channel_int8_weights_with_zero_points(tmp_path):
    q = RNG.integers(-127, 128, size=(3, 4)).astype(np.int8)
    scales, zeros = np.array([0.5, 0.25, 0.125], np.float32), np.array([1, -2, 3])
    b = TfliteBuilder()
    x = b.tensor("x", [3, 4])
    w8 = b.tensor("w8", [3, 4], "int8", q, quant=(scales, zeros, 0))
    w = b.tensor("w", [3, 4])
    y = b.tensor("y", [3, 4])
    b.op("DEQUANTIZE", [w8], [w])
    b.op("MUL", [x, w], [y], {"fused_activation_function": 0})
    feed = RNG.normal(size=(3, 4)).astype(np.float32)
    got = _run(tmp_path, b.finish([x], [y]), {"x": feed})["y"]
    real = (q.astype(np.float32) - zeros[:, None]) * scales[:, None]
    np.testing.assert_allclose(got, feed * real, rtol=1e-6)


def test_float16_constant_dequantized(tmp_path):
    half = RNG.normal(size=(4,)).astype(np.float16)
    b = TfliteBuilder()
    x, h, w, y = b.tensor("x", [4]), b.const("h", half, "float16"), b.tensor("w", [4]), b.tensor("y", [4])
    b.op("DEQUANTIZE", [h], [w])
    b.op("ADD", [x, w], [y], {})
    got = _run(tmp_path, b.finish([x], [y]), {"x": np.zeros(4, np.float32)})["y"]
    np.testing.assert_array_equal(got, half.astype(np.float32))


def test_quantized_uint8_input_is_dequantized_in_the_graph(tmp_path):
    b = TfliteBuilder()
    x = b.tensor("x", [4], "uint8", quant=([0.5], [128], 0))
    f, y = b.tensor("f", [4]), b.tensor("y", [4])
    b.op("DEQUANTIZE", [x], [f])
    b.op("RELU", [f], [y])
    got = _run(tmp_path, b.finish([x], [y]), {"x": np.array([0, 127, 128, 255], np.int32)})["y"]
    np.testing.assert_array_equal(got, [0, 0, 0, 63.5])


def test_buffer_stored_after_the_flatbuffer(tmp_path):
    value = np.arange(4, dtype=np.float32)
    b = TfliteBuilder()
    x = b.tensor("x", [4])
    w = b.tensor("w", [4], buffer=b.external_buffer(offset=4096, size=value.nbytes))
    y = b.tensor("y", [4])
    b.op("ADD", [x, w], [y], {})
    head = b.finish([x], [y])
    data = head + bytes(4096 - len(head)) + value.tobytes()
    got = _run(tmp_path, data, {"x": np.ones(4, np.float32)})["y"]
    np.testing.assert_array_equal(got, value + 1)


def test_buffer_past_the_end_is_refused(tmp_path):
    b = TfliteBuilder()
    x = b.tensor("x", [4])
    w = b.tensor("w", [4], buffer=b.external_buffer(offset=10_000, size=16))
    y = b.tensor("y", [4])
    b.op("ADD", [x, w], [y], {})
    path = tmp_path / "m.tflite"
    path.write_bytes(b.finish([x], [y]))
    with pytest.raises(ModelFormatError, match="outside the file"):
        load_tflite(path)


def _while_model(body_calls_itself: bool = False) -> bytes:
    """main: WHILE(i < 5) { i += 1; acc *= 2 } on (i, acc)."""
    b = TfliteBuilder()
    i, acc = b.tensor("i", [], "int32"), b.tensor("acc", [2])
    oi, oacc = b.tensor("out_i", [], "int32"), b.tensor("out_acc", [2])
    b.op("WHILE", [i, acc], [oi, oacc], {"cond_subgraph_index": 1, "body_subgraph_index": 2})
    b.subgraph([i, acc], [oi, oacc], "main")
    ci, cacc, limit, c = b.tensor("i", [], "int32"), b.tensor("acc", [2]), b.const("limit", np.int32(5)), b.tensor("c", [], "bool")
    b.op("LESS", [ci, limit], [c])
    b.subgraph([ci, cacc], [c], "cond")
    bi, bacc, one, two = b.tensor("i", [], "int32"), b.tensor("acc", [2]), b.const("one", np.int32(1)), b.const("two", np.float32(2))
    ni, nacc = b.tensor("ni", [], "int32"), b.tensor("nacc", [2])
    b.op("ADD", [bi, one], [ni], {})
    if body_calls_itself:
        b.op("WHILE", [bi, bacc], [ni, nacc], {"cond_subgraph_index": 1, "body_subgraph_index": 2})
    else:
        b.op("MUL", [bacc, two], [nacc], {})
    b.subgraph([bi, bacc], [ni, nacc], "body")
    return b.finish()


def test_while_subgraphs_become_functions(tmp_path):
    got = _run(tmp_path, _while_model(), {"i": np.int32(0), "acc": np.array([1.0, 3.0], np.float32)})
    assert int(got["out_i"]) == 5
    np.testing.assert_array_equal(got["out_acc"], [32.0, 96.0])


def test_subgraph_cycle_is_refused(tmp_path):
    path = tmp_path / "m.tflite"
    path.write_bytes(_while_model(body_calls_itself=True))
    with pytest.raises(ModelFormatError, match=r"cycle \(2 -> 2\)"):
        load_tflite_graph(path)


def test_unsupported_operators_are_listed_at_once(tmp_path):
    b = TfliteBuilder()
    x, a, c, d, y = (b.tensor(n, [3]) for n in ("x", "a", "c", "d", "y"))
    b.op("CUSTOM", [x], [a], custom="MyOp")
    b.op("RELU", [a], [c])
    b.op("CUSTOM", [c], [d], custom="MyOp")
    b.op("UNKNOWN", [d], [y], code=b.code("UNKNOWN", deprecated=127, builtin=230))
    path = tmp_path / "m.tflite"
    path.write_bytes(b.finish([x], [y]))
    with pytest.raises(UnsupportedOpError, match=r"builtin operator 230 \(operator 3\); custom op 'MyOp' "
                                                 r"\(operators 0, 2\)"):
        load_tflite_graph(path)


def test_reshape_from_options_and_softmax_beta(tmp_path):
    b = TfliteBuilder()
    x, r, y = b.tensor("x", [2, 6]), b.tensor("r", [3, 4]), b.tensor("y", [3, 4])
    b.op("RESHAPE", [x], [r], {"new_shape": [3, 4]})
    b.op("SOFTMAX", [r], [y], {"beta": 0.5})
    feed = RNG.normal(size=(2, 6)).astype(np.float32)
    got = _run(tmp_path, b.finish([x], [y]), {"x": feed})["y"]
    z = np.exp(0.5 * feed.reshape(3, 4))
    np.testing.assert_allclose(got, z / z.sum(-1, keepdims=True), rtol=1e-6)


@pytest.mark.parametrize("approximate", [False, True])
def test_gelu_and_hard_swish(approximate, tmp_path):
    feed = np.linspace(-4, 4, 9, dtype=np.float32)
    got = _run(tmp_path, _unary_model("GELU", [9], {"approximate": approximate}), {"x": feed})["y"]
    if approximate:
        want = 0.5 * feed * (1 + np.tanh(math.sqrt(2 / math.pi) * (feed + 0.044715 * feed ** 3)))
    else:
        want = 0.5 * feed * (1 + np.vectorize(math.erf)(feed / math.sqrt(2)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    got = _run(tmp_path, _unary_model("HARD_SWISH", [9]), {"x": feed})["y"]
    np.testing.assert_allclose(got, feed * np.clip(feed + 3, 0, 6) / 6, rtol=1e-6)


def test_l2_normalization(tmp_path):
    feed = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    got = _run(tmp_path, _unary_model("L2_NORMALIZATION", [2, 2], {}), {"x": feed})["y"]
    np.testing.assert_allclose(got, [[0.6, 0.8], [0.0, 0.0]], rtol=1e-6)


def test_cast_between_types_tfjs_holds_alike_is_an_identity(tmp_path):
    b = TfliteBuilder()
    x, y = b.tensor("x", [3], "int32"), b.tensor("y", [3], "int64")
    b.op("CAST", [x], [y])
    path = tmp_path / "m.tflite"
    path.write_bytes(b.finish([x], [y]))
    graph = load_tflite_graph(path)
    assert graph.outputs["y"] == graph.inputs["x"]


def test_signature_name_picks_the_subgraph(tmp_path):
    b = TfliteBuilder()
    x, y = b.tensor("x", [2]), b.tensor("y", [2])
    b.op("RELU", [x], [y])
    b.subgraph([x], [y], "relu")
    x2, y2 = b.tensor("x", [2]), b.tensor("y", [2])
    b.op("NEG", [x2], [y2])
    b.subgraph([x2], [y2], "neg")
    b.signature("relu", [("features", x)], [("out", y)], subgraph=0)
    b.signature("negate", [("features", x2)], [("negated", y2)], subgraph=1)
    path = tmp_path / "m.tflite"
    path.write_bytes(b.finish())
    feed = {"features": np.array([-1.0, 2.0], np.float32)}
    assert executor.run(load_tflite_graph(path), feed)["out"].tolist() == [0.0, 2.0]
    assert executor.run(load_tflite_graph(path, "negate"), feed)["negated"].tolist() == [1.0, -2.0]
    from tfjs_lite.errors import UsageError

    with pytest.raises(UsageError, match="'relu', 'negate'"):
        load_tflite_graph(path, "nope")


def test_grouped_conv_2d(tmp_path):
    b = TfliteBuilder()
    x = b.tensor("x", [1, 3, 3, 4])
    filt = RNG.normal(size=(6, 2, 2, 2)).astype(np.float32)  # O=6, I/g=2: 2 groups of 3 outputs
    w, y = b.const("w", filt), b.tensor("y", [1, 2, 2, 6])
    b.op("CONV_2D", [x, w, -1], [y], {"padding": 1, "stride_w": 1, "stride_h": 1})
    feed = RNG.normal(size=(1, 3, 3, 4)).astype(np.float32)
    got = _run(tmp_path, b.finish([x], [y]), {"x": feed})["y"]
    want = np.zeros((1, 2, 2, 6), np.float32)
    for o in range(6):
        g = o // 3
        for i in range(2):
            for j in range(2):
                want[0, i, j, o] = np.sum(feed[0, i:i + 2, j:j + 2, 2 * g:2 * g + 2] * filt[o])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def _models_for_tfjs() -> dict[str, tuple[bytes, dict]]:
    """Hand-built models whose operators no TF-made fixture holds (or holds in this form)."""
    models: dict[str, tuple[bytes, dict]] = {}
    img = RNG.normal(size=(1, 4, 4, 4)).astype(np.float32)
    for code in (2, 5):
        b = TfliteBuilder()
        x, w, y = b.tensor("x", [1, 4, 4, 4]), b.const("w", RNG.normal(size=(4,)).astype(np.float32)), b.tensor("y", [1, 4, 4, 4])
        b.op("ADD", [x, w], [y], {"fused_activation_function": code})
        models[f"fused_activation_{code}"] = (b.finish([x], [y]), {"x": img})
    b = TfliteBuilder()
    x, w, y = b.tensor("x", [1, 4, 4, 4]), b.const("w", RNG.normal(size=(6, 2, 2, 2)).astype(np.float32)), b.tensor("y", [1, 3, 3, 6])
    b.op("CONV_2D", [x, w, -1], [y], {"padding": 1, "stride_w": 1, "stride_h": 1, "fused_activation_function": 3})
    models["grouped_conv"] = (b.finish([x], [y]), {"x": img})
    b = TfliteBuilder()
    x, p, r, n, z = (b.tensor(k, s) for k, s in (("x", [1, 4, 4, 4]), ("p", [1, 2, 2, 4]), ("r", [1, 2, 2, 4]),
                                                 ("n", [1, 2, 2, 4]), ("z", [1, 2, 2, 4])))
    b.op("L2_POOL_2D", [x], [p], {"padding": 1, "stride_w": 2, "stride_h": 2, "filter_width": 2, "filter_height": 2})
    b.op("RELU_0_TO_1", [p], [r])
    b.op("ZEROS_LIKE", [r], [z])
    b.op("ADD", [r, z], [n], {})
    models["l2_pool_relu_0_to_1"] = (b.finish([x], [n]), {"x": img})
    b = TfliteBuilder()
    cond, a, c, y = b.tensor("cond", [3], "bool"), b.tensor("a", [3, 2]), b.tensor("c", [3, 2]), b.tensor("y", [3, 2])
    nc = b.tensor("nc", [3], "bool")
    b.op("LOGICAL_NOT", [cond], [nc])
    b.op("SELECT", [nc, a, c], [y])
    models["select_rows"] = (b.finish([cond, a, c], [y]), {"cond": np.array([True, False, True]),
                                                           "a": np.ones((3, 2), np.float32), "c": np.zeros((3, 2), np.float32)})
    b = TfliteBuilder()
    ids, y, z = b.tensor("ids", [3], "int32"), b.tensor("y", [3, 4]), b.tensor("z", [1, 1, 3, 4])
    table = b.tensor("table", [5, 4], "int8", RNG.integers(-127, 128, size=(5, 4)).astype(np.int8),
                     quant=([0.05] * 5, [3] * 5, 0))
    b.op("EMBEDDING_LOOKUP", [ids, table], [y])
    b.op("RESHAPE", [y], [z], {"new_shape": [1, 1, 3, 4]})
    out = b.tensor("out", [1, 1, 3, 4])
    b.op("LOCAL_RESPONSE_NORMALIZATION", [z], [out], {"radius": 1, "bias": 1.0, "alpha": 0.5, "beta": 0.5})
    models["embedding_lrn"] = (b.finish([ids], [out]), {"ids": np.array([4, 1, 1], np.int32)})
    models["depthwise_as_grouped_conv"] = (_depthwise_as_grouped_conv(), {"x": img[..., :3]})
    return models


def _depthwise_as_grouped_conv() -> bytes:
    """Keras 3's depthwise convolution as TFLite holds it: a CONV_2D whose filter has one input
    channel ([O, kh, kw, 1], groups = channels), reading a 1x1 convolution with a zero bias
    (which the optimizer removes, leaving the grouped convolution's input to that node)."""
    b = TfliteBuilder()
    x, h, y = b.tensor("x", [1, 4, 4, 3]), b.tensor("h", [1, 4, 4, 4]), b.tensor("y", [1, 4, 4, 8])
    w1 = b.const("w1", RNG.normal(size=(4, 1, 1, 3)).astype(np.float32))
    zero = b.const("zero", np.zeros(4, np.float32))
    w2 = b.const("w2", RNG.normal(size=(8, 3, 3, 1)).astype(np.float32))  # 4 groups, 2 outputs each
    b.op("CONV_2D", [x, w1, zero], [h], {"padding": 0, "stride_w": 1, "stride_h": 1})
    b.op("CONV_2D", [h, w2, -1], [y], {"padding": 0, "stride_w": 1, "stride_h": 1})
    return b.finish([x], [y])


def test_grouped_conv_becomes_one_depthwise_conv(tmp_path):
    """One channel per group: a DepthwiseConv2dNative after optimization (the lower_grouped_conv
    pass), not a convolution per group; the shape it needs survives the zero bias's removal."""
    from tfjs_lite.optimizer import optimize

    path = tmp_path / "m.tflite"
    path.write_bytes(_depthwise_as_grouped_conv())
    graph = load_tflite_graph(path)
    optimize(graph)
    ops = {graph.op(n) for n in graph.nodes()}
    assert "DepthwiseConv2dNative" in ops and not ops & {"Split", "SplitV", "ConcatV2"}
    assert len(graph.nodes_by_op("Conv2D")) + len(graph.nodes_by_op("_FusedConv2D")) == 1


@pytest.mark.parametrize("name", sorted(_models_for_tfjs()))
def test_hand_built_models_run_in_tfjs(name, tfjs, tmp_path):
    from tfjs_node import compare

    from tfjs_lite import convert

    data, feeds = _models_for_tfjs()[name]
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    want = executor.run(load_tflite_graph(path), feeds)  # the executor is checked against numpy above
    convert(path, tmp_path / "web")
    got = tfjs.execute_graph(str(tmp_path / "web"), feeds, list(want))
    compare(got, want, rtol=1e-5)


def test_embedding_lookup_of_a_per_row_quantized_table(tmp_path):
    table = RNG.integers(-127, 128, size=(5, 3)).astype(np.int8)
    scales = np.array([0.1, 0.2, 0.3, 0.4, 0.5], np.float32)
    b = TfliteBuilder()
    ids = b.tensor("ids", [4], "int32")
    t = b.tensor("table", [5, 3], "int8", table, quant=(scales, [0] * 5, 0))
    y = b.tensor("y", [4, 3])
    b.op("EMBEDDING_LOOKUP", [ids, t], [y])
    got = _run(tmp_path, b.finish([ids], [y]), {"ids": np.array([4, 0, 2, 4], np.int32)})["y"]
    real = table.astype(np.float32) * scales[:, None]
    np.testing.assert_allclose(got, real[[4, 0, 2, 4]], rtol=1e-6)


def test_local_response_normalization(tmp_path):
    feed = RNG.normal(size=(1, 2, 2, 6)).astype(np.float32)
    options = {"radius": 2, "bias": 1.5, "alpha": 0.3, "beta": 0.75}
    got = _run(tmp_path, _unary_model("LOCAL_RESPONSE_NORMALIZATION", [1, 2, 2, 6], options), {"x": feed})["y"]
    want = np.empty_like(feed)
    for c in range(6):
        window = feed[..., max(0, c - 2):c + 3]
        want[..., c] = feed[..., c] / (1.5 + 0.3 * np.sum(window ** 2, axis=-1)) ** 0.75
    np.testing.assert_allclose(got, want, rtol=1e-5)


def _int8_add_model(act: int, scale: float, zero: int) -> bytes:
    """float x -> QUANTIZE (x's int8 tensor, [-1, 1]) -> ADD of an int8 constant -> int8 y
    (``scale``, ``zero``) -> DEQUANTIZE: the fused-activation and saturation rules on one op."""
    b = TfliteBuilder()
    x = b.tensor("x", [2, 4])
    xq = b.tensor("xq", [2, 4], "int8", quant=([1 / 127], [0], 0))
    c = b.tensor("c", [2, 4], "int8", np.full((2, 4), 127, np.int8), quant=([4 / 127], [0], 0))  # 4.0
    yq = b.tensor("yq", [2, 4], "int8", quant=([scale], [zero], 0))
    y = b.tensor("y", [2, 4])
    b.op("QUANTIZE", [x], [xq])
    b.op("ADD", [xq, c], [yq], {"fused_activation_function": act})
    b.op("DEQUANTIZE", [yq], [y])
    return b.finish([x], [y])


@pytest.mark.parametrize("act,scale,zero,low,high", [
    (0, 2 / 255, -128, 0.0, 2.0),        # NONE into [0, 2]: clipped to the int8 range
    (1, 2 / 255, -128, 0.0, 2.0),        # RELU: the clip is the intersection
    (3, 6 / 255, -128, 0.0, 6.0),        # RELU6 into [0, 6]: the activation already is the clamp
    (2, 8 / 255, -128, 0.0, 1.0),        # RELU_N1_TO_1 inside a wider range: the activation's bounds
])
def test_quantized_outputs_saturate_to_their_integer_range(act, scale, zero, low, high, tmp_path):
    """An int8 kernel clamps its result to the integers its output holds (times scale, minus the
    zero point), intersected with the fused activation: what the interpreter computes for values
    past the calibrated range."""
    feed = np.array([[-1.5, -1.0, -0.2, 0.0], [0.3, 0.9, 1.0, 3.0]], np.float32)
    got = _run(tmp_path, _int8_add_model(act, scale, zero), {"x": feed})["y"]
    x_range = np.clip(feed, -128 / 127, 1.0)  # QUANTIZE saturates the float input to xq's range
    lo, hi = max(low, scale * (-128 - zero)), min(high, scale * (127 - zero))
    np.testing.assert_allclose(got, np.clip(x_range + 4.0, lo, hi), rtol=1e-6)


def test_saturation_is_not_emitted_where_it_cannot_cut(tmp_path):
    """RELU6 into a tensor holding [0, 6], pooling and reshaping within the input's range: no clip."""
    (tmp_path / "relu6.tflite").write_bytes(_int8_add_model(3, 6 / 255, -128))
    graph = load_tflite_graph(tmp_path / "relu6.tflite")
    clips = [n for n in graph.nodes_by_op("ClipByValue")]
    assert clips == [graph.meta["tflite_tensors"][1].split(":")[0]]  # only QUANTIZE of the float input
    assert len(graph.nodes_by_op("Relu6")) == 1
    b = TfliteBuilder()
    x = b.tensor("x", [1, 4, 4, 2], "int8", quant=([0.1], [3], 0))
    p = b.tensor("p", [1, 2, 2, 2], "int8", quant=([0.1], [3], 0))
    r = b.tensor("r", [1, 8], "int8", quant=([0.1], [3], 0))
    b.op("MAX_POOL_2D", [x], [p], {"padding": 1, "stride_w": 2, "stride_h": 2, "filter_width": 2,
                                   "filter_height": 2, "fused_activation_function": 0})
    b.op("RESHAPE", [p, b.const("shape", np.array([1, 8], np.int32))], [r])
    (tmp_path / "pool.tflite").write_bytes(b.finish([x], [r]))
    assert not load_tflite_graph(tmp_path / "pool.tflite").nodes_by_op("ClipByValue")
