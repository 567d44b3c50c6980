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


def test_huge_results_are_refused_before_the_kernel_runs(monkeypatch) -> None:
    #  Fill/BroadcastTo/Tile/PadV2/Range of 2**50 elements: the size is known from the inputs, so
    #  no kernel may run (it would try to allocate petabytes)
    from tfjs_lite import kernels

    g = GraphBuilder()
    x = g.input("x", (1,))
    huge = g.const(np.array([1 << 25, 1 << 25], np.int32))
    one = g.const(np.float32(1))
    g.output("fill", g.op("AddV2", x, g.op("Fill", huge, one)))
    g.output("broadcast", g.op("AddV2", x, g.op("BroadcastTo", one, huge)))
    g.output("tile", g.op("AddV2", x, g.op("Tile", g.const(np.ones((2, 2), np.float32)), huge)))
    g.output("pad", g.op("AddV2", x, g.op("PadV2", g.const(np.ones((2, 2), np.float32)),
                                          g.const(np.array([[1 << 25, 0], [1 << 25, 0]], np.int32)), one)))
    g.output("range", g.op("AddV2", x, g.op("Cast", g.op("Range", g.const(np.int32(0)), g.const(np.int32(2**31 - 1)),
                                                        g.const(np.int32(1))), DstT="DT_FLOAT")))
    graph = g.build()
    for op in ("Fill", "BroadcastTo", "Tile", "PadV2", "Range"):
        monkeypatch.setitem(kernels.KERNELS, op, lambda *a, _op=op: (_ for _ in ()).throw(AssertionError(_op)))
    assert FoldConstants().run(graph) is False


def test_random_ops_not_folded() -> None:
    g = GraphBuilder()
    x = g.input("x", (2,))
    r = g.op("RandomUniform", g.const(np.array([2], np.int32)), dtype="DT_FLOAT")
    g.output("y", g.op("AddV2", x, g.op("Mul", r, g.const(np.float32(0)))))
    graph = g.build()
    assert FoldConstants().run(graph) is False
