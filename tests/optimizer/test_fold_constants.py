"""fold_constants: evaluate all-Const subgraphs with the kernels."""

from __future__ import annotations

import numpy as np
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.fold_constants import FoldConstants


def test_chain_folds_in_one_sweep_keeping_names() -> None:
    #  Neg(alpha) -> Mul(., 2) -> Add(x, .)   ==>   Const "scaled" -> Add
    g = GraphBuilder()
    x = g.input("x", (2, 3))
    neg = g.op("Neg", g.const(np.arange(3, dtype=np.float32)), name="neg")
    scaled = g.op("Mul", neg, g.const(np.float32(2)), name="scaled")
    g.output("y", g.op("AddV2", x, scaled))
    g2 = assert_pass_preserves(g.build(), FoldConstants())
    assert g2.op("scaled") == "Const" and g2.value("scaled").tolist() == [0, -2, -4]


def test_shape_of_static_input_folds() -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 3))
    shape = g.op("Shape", x, out_type="DT_INT32", name="shape")
    g.output("y", g.op("Reshape", x, g.op("Pack", g.op("Prod", shape, g.const(np.int32(0))),
                                           axis=0, N=1)))
    g2 = assert_pass_preserves(g.build(), FoldConstants())
    assert g2.op("shape") == "Const"


def test_multi_output() -> None:
    g = GraphBuilder()
    x = g.input("x", (3,))
    a, _b, c = g.op("Unpack", g.const(np.eye(3, dtype=np.float32)), num=3, axis=0, outputs=3)
    g.output("y", g.op("AddV2", g.op("AddV2", x, a), c))
    g2 = assert_pass_preserves(g.build(), FoldConstants())
    assert not g2.nodes_by_op("Unpack")


def test_not_for_unknown_shape_or_variable_input() -> None:
    g = GraphBuilder()
    x = g.input("x", (None, 3))
    g.output("y", g.op("Shape", x))
    g.output("z", g.op("Relu", x))
    assert_pass_preserves(g.build(), FoldConstants(), expect_modified=False)


def test_size_cap_never_bloats_weights() -> None:
    #  Fill([64, 64], 1.0) would turn 3 numbers into 4096 weights: not folded
    g = GraphBuilder()
    x = g.input("x", (64, 64))
    fill = g.op("Fill", g.const(np.array([64, 64], np.int32)), g.const(np.float32(1)))
    g.output("y", g.op("AddV2", x, fill))
    assert_pass_preserves(g.build(), FoldConstants(), expect_modified=False)


def test_random_ops_not_folded() -> None:
    g = GraphBuilder()
    x = g.input("x", (2,))
    r = g.op("RandomUniform", g.const(np.array([2], np.int32)), dtype="DT_FLOAT")
    g.output("y", g.op("AddV2", x, g.op("Mul", r, g.const(np.float32(0)))))
    graph = g.build()
    assert FoldConstants().run(graph) is False
