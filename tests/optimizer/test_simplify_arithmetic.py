"""simplify_arithmetic: neutral arithmetic, transpose pairs, reshape chains."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.simplify_arithmetic import SimplifyArithmetic


@pytest.mark.parametrize(("op", "value", "swap"), [
    ("Mul", 1.0, False), ("Mul", 1.0, True), ("AddV2", 0.0, True), ("Add", -0.0, False),
    ("Sub", 0.0, False), ("RealDiv", 1.0, False), ("BiasAdd", 0.0, False)])
def test_neutral(op: str, value: float, swap: bool) -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 3))
    c = g.const(np.full(3 if op == "BiasAdd" else (), value, np.float32))
    g.output("y", g.op("Relu", g.op(op, *((c, x) if swap else (x, c)), T="DT_FLOAT")))
    assert_pass_preserves(g.build(), SimplifyArithmetic(), expect_ops={"Placeholder": 1, "Relu": 1, "Const": 1})


def test_vector_neutral_needs_known_shape() -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 3))
    g.output("y", g.op("Relu", g.op("Mul", x, g.const(np.ones((1, 3), np.float32)))))
    assert_pass_preserves(g.build(), SimplifyArithmetic())


def test_not_when_broadcast_enlarges() -> None:
    #  x (3,) * ones(2, 3) has shape (2, 3): not an identity
    g = GraphBuilder()
    x = g.input("x", (3,))
    g.output("y", g.op("Relu", g.op("Mul", x, g.const(np.ones((2, 3), np.float32)))))
    assert_pass_preserves(g.build(), SimplifyArithmetic(), expect_modified=False)


def test_not_for_non_neutral_or_sub_from_zero() -> None:
    g = GraphBuilder()
    x = g.input("x", (3,))
    a = g.op("Mul", x, g.const(np.array([1, 1, 2], np.float32)))
    b = g.op("Sub", g.const(np.float32(0)), x)
    g.output("y", g.op("AddV2", a, b))
    assert_pass_preserves(g.build(), SimplifyArithmetic(), expect_modified=False)


def test_not_when_result_is_graph_output() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Mul", g.input("x", (3,)), g.const(np.float32(1))))
    assert_pass_preserves(g.build(), SimplifyArithmetic(), expect_modified=False)


def test_reshape_chain() -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 3, 4))
    r = g.op("Reshape", g.op("Reshape", x, g.const(np.array([6, 4], np.int32))),
             g.const(np.array([4, 6], np.int32)))
    g.output("y", g.op("Relu", r))
    g2 = assert_pass_preserves(g.build(), SimplifyArithmetic())
    assert g2.inputs_of(g2.nodes_by_op("Reshape")[0])[0].node == "x"


def test_transposes_left_to_merge_transposes() -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 3, 4))
    t = g.op("Transpose", g.op("Transpose", x, g.const(np.array([1, 2, 0], np.int32))),
             g.const(np.array([2, 0, 1], np.int32)))
    g.output("y", g.op("Relu", t))
    assert_pass_preserves(g.build(), SimplifyArithmetic(), expect_modified=False)
