"""cse: merge duplicate nodes and constants in one sweep."""

from __future__ import annotations

import numpy as np
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.cse import CommonSubexpressionElimination


def test_duplicate_chains_collapse_in_one_run() -> None:
    #  x -> Relu -> Mul(c1) ; x -> Relu -> Mul(c2), c1 == c2   ==>  one Relu, one Mul, one Const
    g = GraphBuilder()
    x = g.input("x", (2, 3))
    a = g.op("Mul", g.op("Relu", x), g.const(np.full(3, 2, np.float32)))
    b = g.op("Mul", g.op("Relu", x), g.const(np.full(3, 2, np.float32)))
    g.output("y", g.op("Sub", a, b))
    assert_pass_preserves(g.build(), CommonSubexpressionElimination(),
                          expect_ops={"Placeholder": 1, "Relu": 1, "Mul": 1, "Const": 1, "Sub": 1})


def test_different_attrs_or_dtypes_not_merged() -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 3))
    a = g.op("LeakyRelu", x, alpha=0.1)
    b = g.op("LeakyRelu", x, alpha=0.2)
    c1 = g.const(np.ones(3, np.float32))
    c2 = g.const(np.ones(3, np.float64), dtype=np.float64)
    g.output("y", g.op("Sub", g.op("Mul", a, c1), b))
    g.output("z", g.op("Cast", c2, SrcT="DT_DOUBLE", DstT="DT_FLOAT"))
    assert_pass_preserves(g.build(), CommonSubexpressionElimination(), expect_modified=False)


def test_graph_outputs_keep_their_names() -> None:
    g = GraphBuilder()
    x = g.input("x", (2,))
    g.output("a", g.op("Identity", x, name="Identity"))
    g.output("b", g.op("Identity", x, name="Identity_1"))
    assert_pass_preserves(g.build(), CommonSubexpressionElimination(), expect_modified=False)
