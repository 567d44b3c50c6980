"""fuse_prelu: decomposed PReLU => Prelu; Prelu into fused contractions."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from opt_graphs import bias_add, conv, image_input, matmul, rand, single_output
from tfjs_lite.optimizer.passes.fuse_conv import FuseConv
from tfjs_lite.optimizer.passes.fuse_prelu import FusePrelu


def _keras_prelu(g: GraphBuilder, x, alpha_shape=(4,), *, swap: bool = False, name: str = "add"):
    # What tf_keras 2.19 writes after Neg(alpha) is folded: AddV2(Relu(x), Mul(-alpha, Relu(Neg(x))))
    neg_alpha = g.const(-np.abs(rand(alpha_shape, 9)), name=f"{name}/neg_alpha")
    mul = g.op("Mul", neg_alpha, g.op("Relu", g.op("Neg", x)))
    pos = g.op("Relu", x)
    return g.op("AddV2", *((mul, pos) if swap else (pos, mul)), name=name)


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("alpha_shape", [(4,), (5, 5, 4), (1, 1, 4)])
def test_keras_form(swap: bool, alpha_shape: tuple[int, ...]) -> None:
    g = GraphBuilder()
    y = _keras_prelu(g, image_input(g, 4), alpha_shape, swap=swap)
    g2 = assert_pass_preserves(single_output(g, y), FusePrelu())
    assert g2.op("add") == "Prelu" and g2.inputs_of("add")[0].node == "x"
    assert not g2.nodes_by_op("Relu", "Neg", "Mul")


def test_sub_form() -> None:
    #  Relu(x) - alpha * Relu(-x)
    g = GraphBuilder()
    x = image_input(g, 4)
    mul = g.op("Mul", g.const(np.abs(rand((4,), 9))), g.op("Relu", g.op("Neg", x)))
    y = g.op("Sub", g.op("Relu", x), mul, name="sub")
    g2 = assert_pass_preserves(single_output(g, y), FusePrelu())
    assert g2.op("sub") == "Prelu"


def test_into_fused_conv() -> None:
    #  _FusedConv2D[BiasAdd] -> Prelu   ==>   _FusedConv2D[BiasAdd, Prelu], num_args 2
    g = GraphBuilder()
    y = _keras_prelu(g, bias_add(g, conv(g, image_input(g)), 4), (5, 5, 4))
    graph = single_output(g, y)
    assert FuseConv().run(graph)
    g2 = assert_pass_preserves(graph, FusePrelu(), expect_ops={"Placeholder": 1, "Const": 4, "_FusedConv2D": 1})
    attrs = g2.attrs("add")
    assert attrs["fused_ops"] == ["BiasAdd", "Prelu"] and attrs["num_args"] == 2
    assert attrs["TArgs"] == ["DT_FLOAT", "DT_FLOAT"] and len(g2.inputs_of("add")) == 4


def test_into_bare_matmul() -> None:
    g = GraphBuilder()
    y = g.op("Prelu", matmul(g, g.input("a", (2, 5))), g.const(rand((3,), 4)), name="prelu")
    g2 = assert_pass_preserves(single_output(g, y), FusePrelu())
    assert g2.op("prelu") == "_FusedMatMul" and g2.attrs("prelu")["fused_ops"] == ["BiasAdd", "Prelu"]


def test_not_for_different_x() -> None:
    g = GraphBuilder()
    x, z = image_input(g, 4), g.input("z", (1, 5, 5, 4))
    mul = g.op("Mul", g.const(rand((4,), 9)), g.op("Relu", g.op("Neg", z)))
    y = g.op("AddV2", g.op("Relu", x), mul)
    assert_pass_preserves(single_output(g, y), FusePrelu(), expect_modified=False)


def test_not_when_relu_consumed_elsewhere() -> None:
    g = GraphBuilder()
    x = image_input(g, 4)
    pos = g.op("Relu", x)
    g.output("pos", pos)
    mul = g.op("Mul", g.const(rand((4,), 9)), g.op("Relu", g.op("Neg", x)))
    assert_pass_preserves(single_output(g, g.op("AddV2", pos, mul)), FusePrelu(), expect_modified=False)


def test_not_for_non_const_alpha() -> None:
    g = GraphBuilder()
    x = image_input(g, 4)
    mul = g.op("Mul", g.input("alpha", (4,)), g.op("Relu", g.op("Neg", x)))
    assert_pass_preserves(single_output(g, g.op("AddV2", g.op("Relu", x), mul)), FusePrelu(),
                          expect_modified=False)


def test_not_into_fused_with_activation() -> None:
    g = GraphBuilder()
    r = g.op("Relu", bias_add(g, conv(g, image_input(g)), 4))
    graph = single_output(g, g.op("Prelu", r, g.const(rand((4,), 4))))
    assert FuseConv().run(graph)
    assert_pass_preserves(graph, FusePrelu(), expect_modified=False)
