"""batch_norm_to_mul_add: an inference batch norm no contraction absorbed => Mul + Add."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from opt_graphs import conv, image_input, rand, single_output
from tfjs_lite.optimizer.passes.batch_norm_to_mul_add import BatchNormToMulAdd

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _bn(g: GraphBuilder, x, c: int, *, op: str = "FusedBatchNormV3", params=None, **attrs):
    params = params or [g.const(rand((c,), 10 + i, positive=(i == 3))) for i in range(4)]
    attrs = {"epsilon": 1e-3, "is_training": False, "data_format": "NHWC", **attrs}
    return g.op(op, x, *params, name="bn", outputs=6 if op == "FusedBatchNormV3" else 5, **attrs)[0]


@pytest.mark.parametrize("op", ["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"])
def test_bn_after_relu_becomes_mul_add(op: str) -> None:
    #  x -> Conv2D -> Relu -> FusedBatchNorm "bn" -> y   ==>   ... Relu -> Mul -> Add "bn" -> y
    g = GraphBuilder()
    r = g.op("Relu", conv(g, image_input(g)), name="relu")
    g2 = assert_pass_preserves(single_output(g, _bn(g, r, 4, op=op)), BatchNormToMulAdd(), **TOL)
    assert g2.op("bn") == "Add"
    (mul,) = g2.nodes_by_op("Mul")
    assert g2.inputs_of("bn")[0].node == mul and g2.inputs_of(mul)[0].node == "relu"
    assert not g2.nodes_by_op(op)


def test_bn_on_an_input() -> None:
    g = GraphBuilder()
    g2 = assert_pass_preserves(single_output(g, _bn(g, image_input(g), 3)), BatchNormToMulAdd(), **TOL)
    assert g2.op("bn") == "Add"


def test_scalar_parameters_broadcast() -> None:
    g = GraphBuilder()
    params = [g.const(np.float32(v)) for v in (2.0, 0.5, 0.1, 4.0)]
    g2 = assert_pass_preserves(single_output(g, _bn(g, image_input(g), 3, params=params)),
                               BatchNormToMulAdd(), **TOL)
    assert g2.op("bn") == "Add"


@pytest.mark.parametrize("change", ["training", "nchw", "non_const"])
def test_does_not_fire(change: str) -> None:
    g = GraphBuilder()
    x = image_input(g)
    kwargs: dict = {}
    if change == "training":
        kwargs["is_training"] = True
    elif change == "nchw":
        kwargs["data_format"] = "NCHW"
    else:
        gamma = g.input("gamma", (3,))
        kwargs["params"] = [gamma] + [g.const(rand((3,), 11 + i, positive=(i == 2))) for i in range(3)]
    y = _bn(g, x, 3, **kwargs)
    graph = single_output(g, y)
    g2 = graph.copy()
    assert BatchNormToMulAdd().run(g2) is False
    assert g2.op("bn") == "FusedBatchNormV3"


def test_idempotent() -> None:
    g = GraphBuilder()
    graph = single_output(g, _bn(g, image_input(g), 3))
    assert BatchNormToMulAdd().run(graph) is True
    assert BatchNormToMulAdd().run(graph) is False
