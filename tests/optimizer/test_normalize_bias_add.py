"""normalize_bias_add: Add(contraction, 1-D const) => BiasAdd."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from opt_graphs import conv, image_input, matmul, single_output
from tfjs_lite.optimizer.passes.normalize_bias_add import NormalizeBiasAdd


@pytest.mark.parametrize("op", ["Add", "AddV2"])
@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("shape", [(4,), (1, 1, 1, 4)])
def test_conv_add(op: str, swap: bool, shape: tuple[int, ...]) -> None:
    g = GraphBuilder()
    c = conv(g, image_input(g))
    b = g.const(np.arange(4, dtype=np.float32).reshape(shape))
    y = g.op(op, *((b, c) if swap else (c, b)), name="add", T="DT_FLOAT")
    g2 = assert_pass_preserves(single_output(g, y), NormalizeBiasAdd())
    assert g2.op("add") == "BiasAdd" and g2.attrs("add")["data_format"] == "NHWC"
    assert g2.inputs_of("add")[0].node == "conv"


def test_matmul_add() -> None:
    g = GraphBuilder()
    y = g.op("AddV2", matmul(g, g.input("a", (2, 5))), g.const(np.ones(3, np.float32)), name="add")
    assert_pass_preserves(single_output(g, y), NormalizeBiasAdd(),
                          expect_ops={"Placeholder": 1, "Const": 2, "MatMul": 1, "BiasAdd": 1})


def test_not_for_full_tensor_operand() -> None:
    g = GraphBuilder()
    y = g.op("AddV2", conv(g, image_input(g)), g.const(np.ones((5, 5, 4), np.float32)))
    assert_pass_preserves(single_output(g, y), NormalizeBiasAdd(), expect_modified=False)


def test_not_for_non_const_operand() -> None:
    g = GraphBuilder()
    y = g.op("AddV2", conv(g, image_input(g)), g.input("b", (4,)))
    assert_pass_preserves(single_output(g, y), NormalizeBiasAdd(), expect_modified=False)


def test_not_when_contraction_consumed_twice() -> None:
    g = GraphBuilder()
    c = conv(g, image_input(g))
    g.output("c", c)
    y = g.op("AddV2", c, g.const(np.ones(4, np.float32)))
    assert_pass_preserves(single_output(g, y), NormalizeBiasAdd(), expect_modified=False)
