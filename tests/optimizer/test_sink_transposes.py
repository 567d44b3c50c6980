"""sink_transposes: every op rule, the cost model, must-not-fire cases and whole CNNs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves, random_feeds, record_shapes
from layout_graphs import TO_NCHW, TO_NHWC, NchwBuilder, resnet_like

from tfjs_lite import executor
from tfjs_lite.ir import Graph, TensorRef
from tfjs_lite.optimizer import optimize
from tfjs_lite.optimizer.passes.sink_transposes import SinkTransposes, transpose_count

# x is NHWC (2, 3, 4, 6); t = Transpose(x, TO_NCHW) is (2, 6, 3, 4), what the ops below read.
SHAPE = (2, 3, 4, 6)


def _i32(v: object) -> np.ndarray:
    return np.asarray(v, np.int32)


def _f32(shape: tuple[int, ...], seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


Case = Callable[[GraphBuilder, TensorRef, TensorRef], TensorRef]

# name -> op on t (t2: a second transposed tensor of the same shape)
FIRES: dict[str, Case] = {
    "relu": lambda g, t, t2: g.op("Relu", t),
    "leaky_relu": lambda g, t, t2: g.op("LeakyRelu", t, alpha=0.1),
    "cast": lambda g, t, t2: g.op("Cast", t, SrcT="DT_FLOAT", DstT="DT_INT32"),
    "mul_c11": lambda g, t, t2: g.op("Mul", t, g.const(_f32((6, 1, 1)))),
    "add_1c11": lambda g, t, t2: g.op("AddV2", g.const(_f32((1, 6, 1, 1))), t),
    "sub_w": lambda g, t, t2: g.op("Sub", t, g.const(_f32((4,)))),
    "div_hw": lambda g, t, t2: g.op("RealDiv", t, g.const(np.abs(_f32((3, 4))) + 1)),
    "max_scalar": lambda g, t, t2: g.op("Maximum", t, g.const(np.float32(0.5))),
    "pow_full": lambda g, t, t2: g.op("Pow", g.op("Abs", t), g.const(np.abs(_f32((2, 6, 3, 4))))),
    "greater": lambda g, t, t2: g.op("Greater", t, t2),
    "add_two": lambda g, t, t2: g.op("AddV2", t, t2),
    "squared_difference": lambda g, t, t2: g.op("SquaredDifference", t2, t),
    "add_n": lambda g, t, t2: g.op("AddN", t, t2, t, N=3),
    "select": lambda g, t, t2: g.op("SelectV2", g.op("Less", t, t2), t, g.const(np.float32(0))),
    "clip": lambda g, t, t2: g.op("ClipByValue", t, g.const(np.float32(-0.5)), g.const(np.float32(0.5))),
    "concat_1": lambda g, t, t2: g.op("ConcatV2", t, t2, g.const(_i32(1)), N=2),
    "concat_neg": lambda g, t, t2: g.op("ConcatV2", t, t2, g.const(_f32((2, 6, 3, 4))), g.const(_i32(-1)), N=3),
    "pack_0": lambda g, t, t2: g.op("Pack", t, t2, axis=0, N=2),
    "pack_last": lambda g, t, t2: g.op("Pack", t, t2, axis=-1, N=2),
    "expand_dims": lambda g, t, t2: g.op("ExpandDims", t, g.const(_i32(2))),
    "split": lambda g, t, t2: g.op("Split", g.const(_i32(1)), t, num_split=2, outputs=2)[1],
    "split_v": lambda g, t, t2: g.op("SplitV", t, g.const(_i32([1, 3])), g.const(_i32(-1)), num_split=2,
                                     outputs=2)[0],
    "slice": lambda g, t, t2: g.op("Slice", t, g.const(_i32([0, 1, 1, 0])), g.const(_i32([-1, 4, 2, 3]))),
    "strided_slice": lambda g, t, t2: g.op(
        "StridedSlice", t, g.const(_i32([0, 1, 0, 3])), g.const(_i32([1, 5, 2, 0])), g.const(_i32([1, 2, 1, -1])),
        begin_mask=0b0100, end_mask=0b0001),
    "pad": lambda g, t, t2: g.op("Pad", t, g.const(_i32([[0, 0], [1, 2], [0, 1], [3, 0]]))),
    "mirror_pad": lambda g, t, t2: g.op("MirrorPad", t, g.const(_i32([[0, 0], [1, 1], [0, 2], [1, 0]])),
                                        mode="REFLECT"),
    "tile": lambda g, t, t2: g.op("Tile", t, g.const(_i32([1, 2, 1, 3]))),
    "mean_keep": lambda g, t, t2: g.op("Mean", t, g.const(_i32([2, 3])), keep_dims=True),
    "sum_drop": lambda g, t, t2: g.op("Sum", t, g.const(_i32([2])), keep_dims=False),
    "max_drop_neg": lambda g, t, t2: g.op("Max", t, g.const(_i32(-1)), keep_dims=False),
    "mean_drop_hw": lambda g, t, t2: g.op("Mean", t, g.const(_i32([2, 3])), keep_dims=False),
    "argmax": lambda g, t, t2: g.op("ArgMax", t, g.const(_i32(1)), output_type="DT_INT32"),
    "gather_vector": lambda g, t, t2: g.op("GatherV2", t, g.const(_i32([0, 2, 2])), g.const(_i32(1)),
                                           batch_dims=0),
    "gather_scalar": lambda g, t, t2: g.op("GatherV2", t, g.const(_i32(1)), g.const(_i32(-1)), batch_dims=0),
    "cumsum": lambda g, t, t2: g.op("Cumsum", t, g.const(_i32(1))),
    "reverse": lambda g, t, t2: g.op("ReverseV2", t, g.const(_i32([1, 3]))),
    "batch_norm": lambda g, t, t2: g.op(
        "FusedBatchNormV3", t, *(g.const(np.abs(_f32((6,), s)) + 0.5) for s in range(4)),
        data_format="NCHW", epsilon=0.001, is_training=False, outputs=6)[0],
}


def _graph(case: Case, perm: list[int] = TO_NCHW) -> Graph:
    g = GraphBuilder()
    x, x2 = g.input("x", SHAPE), g.input("x2", SHAPE)
    p = g.const(_i32(perm))
    t, t2 = g.op("Transpose", x, p), g.op("Transpose", x2, p)
    g.output("y", g.op("Identity", case(g, t, t2)))
    return g.build()


def _reads_untransposed(graph: Graph) -> bool:
    """The op under test (the Identity's producer, maybe behind the moved transpose) reads x."""
    return any(r.node in ("x", "x2") for n in graph.nodes() if graph.op(n) not in ("Transpose", "Identity")
               for r in graph.inputs_of(n))


@pytest.mark.parametrize("name", sorted(FIRES))
def test_sinks_through(name: str) -> None:
    g2 = assert_pass_preserves(_graph(FIRES[name]), SinkTransposes())
    assert _reads_untransposed(g2)
    assert transpose_count(g2) <= 2


def test_reduction_to_identity_perm_needs_no_transpose() -> None:
    # NCHW Mean over H, W without keep_dims gives (N, C) in both layouts: no transpose after.
    g2 = assert_pass_preserves(_graph(FIRES["mean_drop_hw"]), SinkTransposes())
    assert transpose_count(g2) == 1  # only x2's (unused by this op) is left


def test_broadcast_const_becomes_channel_vector() -> None:
    g2 = assert_pass_preserves(_graph(FIRES["mul_c11"]), SinkTransposes())
    mul = g2.nodes_by_op("Mul")[0]
    assert g2.value(g2.inputs_of(mul)[1].node).shape == (6,)


def test_softmax_only_when_last_axis_stays_last() -> None:
    def softmax(g: GraphBuilder, t: TensorRef, t2: TensorRef) -> TensorRef:
        return g.op("Softmax", t)
    assert_pass_preserves(_graph(softmax), SinkTransposes(), expect_modified=False)
    g2 = assert_pass_preserves(_graph(softmax, [0, 2, 1, 3]), SinkTransposes())
    assert _reads_untransposed(g2)


NEVER: dict[str, Case] = {
    "const_rank_above": lambda g, t, t2: g.op("Mul", t, g.const(_f32((2, 1, 1, 1, 1)))),
    "concat_dynamic_axis": lambda g, t, t2: g.op("ConcatV2", t, t2, g.op("Size", g.const(_i32([5]))), N=2),
    "strided_slice_shrink": lambda g, t, t2: g.op(
        "StridedSlice", t, g.const(_i32([0, 1, 0, 0])), g.const(_i32([1, 2, 2, 2])), g.const(_i32([1, 1, 1, 1])),
        shrink_axis_mask=2),
    "gather_matrix": lambda g, t, t2: g.op("GatherV2", t, g.const(_i32([[0, 1]])), g.const(_i32(1)), batch_dims=0),
    "reshape": lambda g, t, t2: g.op("Reshape", t, g.const(_i32([2, -1]))),
    "bias_add": lambda g, t, t2: g.op("BiasAdd", t, g.const(_f32((4,))), data_format="NHWC"),
    "squeeze_all": lambda g, t, t2: g.op("Squeeze", g.op("Mean", t, g.const(_i32(1)), keep_dims=True)),
}


@pytest.mark.parametrize("name", sorted(NEVER))
def test_does_not_fire(name: str) -> None:
    graph = _graph(NEVER[name])
    g2 = assert_pass_preserves(graph, SinkTransposes(), expect_modified=name == "squeeze_all")
    if name == "squeeze_all":  # the Mean moves; the dims-less Squeeze keeps a transpose above it
        assert g2.nodes_by_op("Squeeze") and transpose_count(g2) == 2


def test_not_on_signature_output() -> None:
    g = GraphBuilder()
    t = g.op("Transpose", g.input("x", SHAPE), g.const(_i32(TO_NCHW)))
    g.output("y", g.op("Relu", t))
    assert_pass_preserves(g.build(), SinkTransposes(), expect_modified=False)


def test_not_when_other_operand_needs_a_transpose() -> None:
    # Add(T(x), z): moving would need T(z, p^-1) and a transpose after: 2 for 1.
    g = GraphBuilder()
    t = g.op("Transpose", g.input("x", SHAPE), g.const(_i32(TO_NCHW)))
    z = g.input("z", (2, 6, 3, 4))
    g.output("y", g.op("Identity", g.op("AddV2", t, z)))
    assert_pass_preserves(g.build(), SinkTransposes(), expect_modified=False)


def test_unknown_rank_operand_stops_the_move() -> None:
    # Concat(T(a), T(b), z): 2 transposes for 2, but z's rank is unknown, so no move.
    g = GraphBuilder()
    p = g.const(_i32(TO_NCHW))
    a, b = g.op("Transpose", g.input("a", SHAPE), p), g.op("Transpose", g.input("b", SHAPE), p)
    z = g.op("Reshape", g.input("z", (2 * 6 * 3 * 4,)), g.input("s", (4,), "DT_INT32"))
    g.output("y", g.op("Identity", g.op("ConcatV2", a, b, z, g.const(_i32(1)), N=3)))
    feeds = {"a": _f32(SHAPE, 1), "b": _f32(SHAPE, 2), "z": _f32((144,), 3), "s": _i32([2, 6, 3, 4])}
    assert_pass_preserves(g.build(), SinkTransposes(), feeds=feeds, expect_modified=False)


def test_known_rank_operand_gets_the_inverse_transpose() -> None:
    g = GraphBuilder()
    p = g.const(_i32(TO_NCHW))
    a, b, c = (g.op("Transpose", g.input(k, SHAPE), p) for k in "abc")
    z = g.input("z", (2, 6, 3, 4))
    g.output("y", g.op("Identity", g.op("ConcatV2", a, b, c, z, g.const(_i32(1)), N=4)))
    g2 = assert_pass_preserves(g.build(), SinkTransposes())
    assert transpose_count(g2) == 2  # 3 -> T(z) and one after the concat


def test_break_even_move_onto_another_operand_is_not_made() -> None:
    g = GraphBuilder()
    p = g.const(_i32(TO_NCHW))
    a, b = g.op("Transpose", g.input("a", SHAPE), p), g.op("Transpose", g.input("b", SHAPE), p)
    z = g.input("z", (2, 6, 3, 4))
    g.output("y", g.op("Identity", g.op("ConcatV2", a, b, z, g.const(_i32(1)), N=3)))
    assert_pass_preserves(g.build(), SinkTransposes(), expect_modified=False)


def test_fan_out_moves_only_when_the_copies_cancel() -> None:
    # Q(x) -> Relu -> P and Q(x) -> Sigmoid -> P: copies of Q meet P on both paths.
    g = GraphBuilder()
    q = g.op("Transpose", g.input("x", SHAPE), g.const(_i32(TO_NCHW)))
    for key, op in (("y", "Relu"), ("z", "Sigmoid")):
        back = g.op("Transpose", g.op(op, q), g.const(_i32(TO_NHWC)))
        g.output(key, g.op("Identity", back))
    g2 = assert_pass_preserves(g.build(), SinkTransposes())
    assert transpose_count(g2) == 0


def test_fan_out_kept_when_copies_would_not_cancel() -> None:
    g = GraphBuilder()
    q = g.op("Transpose", g.input("x", SHAPE), g.const(_i32(TO_NCHW)))
    g.output("y", g.op("Identity", g.op("Relu", q)))
    g.output("z", g.op("Identity", g.op("Sigmoid", q)))
    assert_pass_preserves(g.build(), SinkTransposes(), expect_modified=False)


def test_split_outputs_meeting_transposes_cancel() -> None:
    b = NchwBuilder()
    x = b.g.input("x", (1, 6, 4, 4))
    left, right = b.g.op("Split", b.g.const(_i32(1)), b.conv(x, 6, 6), num_split=2, outputs=2)
    b.g.output("y", b.g.op("Identity", b.g.op("AddV2", b.conv(left, 3, 2), b.conv(right, 3, 2))))
    g2 = assert_pass_preserves(b.g.build(), SinkTransposes(), rtol=1e-5, atol=1e-5)
    assert transpose_count(g2) == 2  # NCHW input, NCHW output


def test_resnet_like_keeps_only_boundary_transposes() -> None:
    graph = resnet_like()
    assert transpose_count(graph) == 20
    g2 = assert_pass_preserves(graph, SinkTransposes(), rtol=1e-5, atol=1e-5)
    # One after the NCHW input, one before the NCHW `features` output; none in the body.
    assert transpose_count(g2) == 2
    assert g2.op(g2.outputs["features"].node) == "Transpose"


def test_resnet_like_through_the_whole_pipeline() -> None:
    graph = resnet_like()
    feeds = random_feeds(graph, seed=5)
    before = executor.run(graph, feeds)
    g2 = graph.copy()
    optimize(g2, check=True)
    after = executor.run(g2, feeds)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], rtol=1e-5, atol=1e-5, err_msg=key)
    assert transpose_count(g2) == 2
    assert len(g2.nodes_by_op("_FusedConv2D")) >= 5  # convs met their bias and activations
    assert optimize(g2).modified is False


# ----------------------------------------------------------------------------- reshapes

RESHAPES: dict[str, Case] = {
    # t is (2, 6, 3, 4) NCHW
    "merge_hw": lambda g, t, t2: g.op("Reshape", t, g.const(_i32([2, 6, 12]))),
    "split_channels": lambda g, t, t2: g.op("Reshape", t, g.const(_i32([2, 2, 3, 3, 4]))),
    "split_w_minus_one": lambda g, t, t2: g.op("Reshape", t, g.const(_i32([2, 6, 3, -1, 2]))),
}


@pytest.mark.parametrize("name", sorted(RESHAPES))
def test_sinks_through_reshape(name: str) -> None:
    g2 = assert_pass_preserves(_graph(RESHAPES[name]), SinkTransposes())
    assert _reads_untransposed(g2)


def test_reshape_mixing_moved_dims_is_left() -> None:
    # [N,C,H,W] -> [N, C*H, W]: C and H are not adjacent in NHWC.
    def mix(g: GraphBuilder, t: TensorRef, t2: TensorRef) -> TensorRef:
        return g.op("Reshape", t, g.const(_i32([2, 18, 4])))
    assert_pass_preserves(_graph(mix), SinkTransposes(), expect_modified=False)


def _shuffle_net_block(groups: int = 2) -> Graph:
    """conv -> channel shuffle (Reshape, Transpose, Reshape) -> conv, all NCHW."""
    b = NchwBuilder()
    x = b.g.input("x", (1, 3, 4, 4))
    h = b.conv(x, 3, 6)
    split = b.g.op("Reshape", h, b.g.const(_i32([1, groups, 6 // groups, 4, 4])))
    swapped = b.g.op("Transpose", split, b.g.const(_i32([0, 2, 1, 3, 4])))
    shuffled = b.g.op("Reshape", swapped, b.g.const(_i32([1, 6, 4, 4])))
    b.g.output("y", b.g.op("Identity", b.conv(b.relu(shuffled), 6, 2)))
    return record_shapes(b.g.build())


def test_channel_shuffle_keeps_only_the_shuffle_transpose() -> None:
    graph = _shuffle_net_block()
    assert transpose_count(graph) == 5
    g2 = assert_pass_preserves(graph, SinkTransposes(), rtol=1e-5, atol=1e-5)
    # In: P(x); out: Q before y; in between only the 5-D shuffle transpose itself.
    assert transpose_count(g2) == 3
    assert sum(len(g2.value(g2.inputs_of(t)[1].node)) == 5 for t in g2.nodes_by_op("Transpose")) == 1


def test_flatten_before_matmul_permutes_the_weight_rows() -> None:
    # AlexNet/VGG head: conv -> Flatten of [N, C, H, W] with H*W > 1 -> Gemm.
    b = NchwBuilder()
    x = b.g.input("x", (2, 3, 3, 4))
    flat = b.g.op("Reshape", b.conv(x, 3, 5), b.g.const(_i32([2, -1])))
    dense = b.g.op("MatMul", flat, b.weights((60, 7)), transpose_a=False, transpose_b=False)
    dense_t = b.g.op("MatMul", flat, b.weights((3, 60)), transpose_a=False, transpose_b=True)
    b.g.output("y", b.g.op("Identity", dense))
    b.g.output("z", b.g.op("Identity", dense_t))
    g2 = assert_pass_preserves(record_shapes(b.g.build()), SinkTransposes(), rtol=1e-5, atol=1e-5)
    assert transpose_count(g2) == 1  # only P(x) at the NCHW input


def test_flatten_read_by_something_else_keeps_its_transpose() -> None:
    b = NchwBuilder()
    x = b.g.input("x", (2, 3, 3, 4))
    flat = b.g.op("Reshape", b.conv(x, 3, 5), b.g.const(_i32([2, -1])))
    b.g.output("y", b.g.op("Identity", b.g.op("MatMul", flat, b.weights((60, 7)))))
    b.g.output("z", b.g.op("Identity", b.g.op("Relu", flat)))
    g2 = assert_pass_preserves(record_shapes(b.g.build()), SinkTransposes(), expect_modified=False)
    assert transpose_count(g2) == 2


def _group_norm_block(*, extra_reader: bool = False) -> Graph:
    """conv -> GroupNorm(2 groups) as torch exports it -> relu -> conv, all NCHW."""
    b = NchwBuilder()
    g = b.g
    x = g.input("x", (1, 3, 3, 3))
    h = b.conv(x, 3, 4)
    grouped = g.op("Reshape", h, g.const(_i32([1, 2, -1])))                      # (1, 2, 18)
    axis = g.const(_i32([2]))
    centered = g.op("Sub", grouped, g.op("Mean", grouped, axis, keep_dims=True))
    variance = g.op("Mean", g.op("Square", centered), axis, keep_dims=True)
    normed = g.op("Mul", centered, g.op("Rsqrt", g.op("AddV2", variance, g.const(np.float32(1e-5)))))
    back = g.op("Reshape", normed, g.const(_i32([1, 4, 3, 3])))
    h = b.relu(b.batch_norm(back, 4))
    g.output("y", g.op("Identity", b.conv(h, 4, 2)))
    if extra_reader:  # something that needs the merged [1, 2, 18] view as it is
        g.output("z", g.op("Identity", g.op("Softmax", normed)))
    return record_shapes(g.build())


def test_group_norm_region_is_refined_and_crossed() -> None:
    graph = _group_norm_block()
    assert transpose_count(graph) == 4
    g2 = assert_pass_preserves(graph, SinkTransposes(), rtol=1e-5, atol=1e-5)
    assert transpose_count(g2) == 2  # the NCHW input and output only
    assert any(len(g2.value(g2.inputs_of(r)[1].node)) == 5 for r in g2.nodes_by_op("Reshape"))


def test_group_norm_region_with_an_unknown_reader_is_left() -> None:
    graph = _group_norm_block(extra_reader=True)
    g2 = assert_pass_preserves(graph, SinkTransposes(), rtol=1e-5, atol=1e-5, expect_modified=False)
    assert not any(len(g2.value(g2.inputs_of(r)[1].node)) == 5 for r in g2.nodes_by_op("Reshape"))


def _spatial_swap_conv(k: int, perm: list[int]) -> Graph:
    """YOLOv8's DFL: a transpose that swaps H and W before a 1x1 conv, then a Reshape."""
    g = GraphBuilder()
    t = g.op("Transpose", g.input("x", (1, 5, 4, 6)), g.const(_i32(perm)))
    conv = g.op("Conv2D", t, g.const(_f32((k, k, 6, 1))), strides=[1, 1, 1, 1], padding="SAME",
                data_format="NHWC")
    g.output("y", g.op("Identity", g.op("Reshape", conv, g.const(_i32([1, 4, 5])))))
    return record_shapes(g.build())


def test_pointwise_conv_commutes_with_a_spatial_swap() -> None:
    g2 = assert_pass_preserves(_spatial_swap_conv(1, [0, 2, 1, 3]), SinkTransposes())
    assert g2.inputs_of(g2.nodes_by_op("Conv2D")[0])[0].node == "x"
    # ... and the trailing size-1 channel does not stop the Reshape after it.
    assert g2.op(g2.inputs_of("Identity")[0].node) == "Transpose"


def test_conv_not_crossed_with_a_wider_kernel() -> None:
    g2 = assert_pass_preserves(_spatial_swap_conv(3, [0, 2, 1, 3]), SinkTransposes(), expect_modified=False)
    assert g2.op(g2.inputs_of(g2.nodes_by_op("Conv2D")[0])[0].node) == "Transpose"


def test_conv_not_crossed_when_channels_move() -> None:
    g = GraphBuilder()
    t = g.op("Transpose", g.input("x", (1, 4, 6, 5)), g.const(_i32([0, 3, 1, 2])))  # (1, 5, 4, 6)
    conv = g.op("Conv2D", t, g.const(_f32((1, 1, 6, 1))), strides=[1, 1, 1, 1], padding="SAME",
                data_format="NHWC")
    g.output("y", g.op("Identity", conv))
    assert_pass_preserves(g.build(), SinkTransposes(), expect_modified=False)


def test_group_norm_of_a_pooled_tensor() -> None:
    # Reshape groups with size-1 dims beside real ones (found by the random NCHW graphs).
    b = NchwBuilder()
    g = b.g
    pooled = b.relu(b.global_pool(b.conv(g.input("x", (1, 3, 4, 4)), 3, 4)))    # (1, 4, 1, 1)
    grouped = g.op("Reshape", pooled, g.const(_i32([1, 2, -1])))
    axis = g.const(_i32([2]))
    centered = g.op("Sub", grouped, g.op("Mean", grouped, axis, keep_dims=True))
    back = g.op("Reshape", g.op("Relu", centered), g.const(_i32([1, 4, 1, 1])))
    g.output("y", g.op("Identity", b.conv(back, 4, 2, k=1)))
    assert_pass_preserves(record_shapes(g.build()), SinkTransposes(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("target", [[-1, 6, 12], [-1, 2, 3, 3, 4]])
def test_reshape_with_a_dynamic_batch(target: list[int]) -> None:
    g = GraphBuilder()
    t = g.op("Transpose", g.input("x", (None, 3, 4, 6)), g.const(_i32(TO_NCHW)))   # (?, 6, 3, 4)
    g.output("y", g.op("Identity", g.op("Reshape", t, g.const(_i32(target)))))
    g2 = assert_pass_preserves(g.build(), SinkTransposes())
    reshape = g2.nodes_by_op("Reshape")[0]
    assert g2.inputs_of(reshape)[0].node == "x" and g2.value(g2.inputs_of(reshape)[1].node)[0] == -1
