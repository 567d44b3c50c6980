"""fold_batch_norm: BN / Mul+Add into contraction weights.

Tolerance: folding reassociates ``(x*W)*s`` as ``x*(W*s)``; float32 rounding then differs by a
few ulp, so comparisons use rtol=atol=1e-5 instead of 1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from opt_graphs import (
    bias_add,
    conv,
    depthwise,
    image_input,
    matmul,
    rand,
    single_output,
)
from tfjs_lite.optimizer.passes.fold_batch_norm import FoldBatchNorm

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _bn(g: GraphBuilder, x, c: int, *, op: str = "FusedBatchNormV3", **attrs):
    params = [g.const(rand((c,), 10 + i, positive=(i == 3))) for i in range(4)]
    return g.op(op, x, *params, name="bn", outputs=6 if op == "FusedBatchNormV3" else 5,
                epsilon=1e-3, is_training=False, data_format="NHWC", **attrs)[0]


@pytest.mark.parametrize("op", ["FusedBatchNorm", "FusedBatchNormV3"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_conv_bn(op: str, with_bias: bool) -> None:
    #  x -> Conv2D (-> BiasAdd) -> FusedBatchNorm -> y   ==>   x -> Conv2D(W') -> BiasAdd(b') "bn"
    g = GraphBuilder()
    c = conv(g, image_input(g))
    if with_bias:
        c = bias_add(g, c, 4)
    y = _bn(g, c, 4, op=op)
    g2 = assert_pass_preserves(single_output(g, y), FoldBatchNorm(), **TOL)
    assert g2.op("bn") == "BiasAdd" and g2.inputs_of("bn")[0].node == "conv"
    assert not g2.nodes_by_op(op)


def test_depthwise_bn() -> None:
    g = GraphBuilder()
    y = _bn(g, depthwise(g, image_input(g)), 6)
    assert_pass_preserves(single_output(g, y), FoldBatchNorm(), **TOL)


@pytest.mark.parametrize("transpose_b", [False, True])
def test_matmul_mul_add(transpose_b: bool) -> None:
    #  MatMul -> Mul(s) -> AddV2(o)   ==>   MatMul(W*s) -> BiasAdd(o)
    g = GraphBuilder()
    m = matmul(g, g.input("a", (2, 5)), transpose_b=transpose_b)
    y = g.op("AddV2", g.op("Mul", g.const(rand((3,), 2)), m), g.const(rand((3,), 4)), name="add")
    g2 = assert_pass_preserves(single_output(g, y), FoldBatchNorm(), **TOL)
    assert g2.op("add") == "BiasAdd" and not g2.nodes_by_op("Mul", "AddV2")


def test_conv_bias_mul_add_with_broadcast_shapes() -> None:
    g = GraphBuilder()
    c = bias_add(g, conv(g, image_input(g)), 4)
    s = g.const(rand((1, 1, 1, 4), 2))
    y = g.op("Add", g.op("Mul", c, s), g.const(np.float32(0.25)))
    assert_pass_preserves(single_output(g, y), FoldBatchNorm(), **TOL)


def test_not_for_non_const_weights() -> None:
    g = GraphBuilder()
    x = image_input(g)
    w = g.input("w", (3, 3, 3, 4))
    y = _bn(g, g.op("Conv2D", x, w, strides=[1, 1, 1, 1], padding="SAME"), 4)
    assert_pass_preserves(single_output(g, y), FoldBatchNorm(), expect_modified=False)


def test_not_when_conv_has_second_consumer() -> None:
    g = GraphBuilder()
    c = conv(g, image_input(g))
    g.output("z", g.op("Relu", c))
    assert_pass_preserves(single_output(g, _bn(g, c, 4)), FoldBatchNorm(), expect_modified=False)


def test_not_when_conv_is_graph_output() -> None:
    g = GraphBuilder()
    c = conv(g, image_input(g))
    g.output("c", c)
    assert_pass_preserves(single_output(g, _bn(g, c, 4)), FoldBatchNorm(), expect_modified=False)


def test_not_in_training_mode() -> None:
    g = GraphBuilder()
    c = conv(g, image_input(g))
    params = [g.const(rand((4,), 10 + i, positive=True)) for i in range(4)]
    y = g.op("FusedBatchNormV3", c, *params, outputs=6, epsilon=1e-3, is_training=True)[0]
    graph = single_output(g, y)
    assert FoldBatchNorm().run(graph.copy()) is False


def test_not_through_activation() -> None:
    #  Conv2D -> Relu -> Mul -> Add : scale/shift after a nonlinearity cannot enter the weights
    g = GraphBuilder()
    r = g.op("Relu", conv(g, image_input(g)))
    y = g.op("AddV2", g.op("Mul", r, g.const(rand((4,), 2))), g.const(rand((4,), 3)))
    assert_pass_preserves(single_output(g, y), FoldBatchNorm(), expect_modified=False)


def test_not_for_full_tensor_scale() -> None:
    g = GraphBuilder()
    y = g.op("Mul", conv(g, image_input(g)), g.const(rand((5, 5, 4), 2)))
    assert_pass_preserves(single_output(g, y), FoldBatchNorm(), expect_modified=False)
