"""merge_transposes: cancel, compose, fold constants, order-preserving transposes."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves

from tfjs_lite.optimizer.passes.merge_transposes import MergeTransposes
from tfjs_lite.optimizer.passes.sink_transposes import SinkTransposes


def _perm(g: GraphBuilder, p: list[int]):  # noqa: ANN202
    return g.const(np.array(p, np.int32))


def test_inverse_pair_cancels() -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 3, 4, 5))
    t = g.op("Transpose", g.op("Transpose", x, _perm(g, [0, 2, 3, 1])), _perm(g, [0, 3, 1, 2]))
    g.output("y", g.op("Relu", t))
    g2 = assert_pass_preserves(g.build(), MergeTransposes(), expect_ops={"Placeholder": 1, "Relu": 1})
    assert g2.inputs_of(g2.nodes_by_op("Relu")[0])[0].node == "x"


def test_non_inverse_pair_merges_into_one() -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 3, 4))
    p = [1, 2, 0]
    g.output("y", g.op("Relu", g.op("Transpose", g.op("Transpose", x, _perm(g, p)), _perm(g, p))))
    g2 = assert_pass_preserves(g.build(), MergeTransposes(),
                               expect_ops={"Placeholder": 1, "Relu": 1, "Transpose": 1, "Const": 1})
    t = g2.nodes_by_op("Transpose")[0]
    assert g2.inputs_of(t)[0].node == "x"


def test_inner_transpose_with_other_reader_is_kept() -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 3, 4))
    inner = g.op("Transpose", x, _perm(g, [2, 0, 1]))
    g.output("y", g.op("Relu", g.op("Transpose", inner, _perm(g, [1, 2, 0]))))
    g.output("z", g.op("Neg", inner))
    g2 = assert_pass_preserves(g.build(), MergeTransposes())
    assert len(g2.nodes_by_op("Transpose")) == 1


def test_cancelling_pair_at_output_becomes_identity_with_the_output_name() -> None:
    g = GraphBuilder()
    x = g.op("Relu", g.input("x", (1, 2, 3, 4)))
    t = g.op("Transpose", g.op("Transpose", x, _perm(g, [0, 3, 1, 2])), _perm(g, [0, 2, 3, 1]),
             name="out")
    g.output("y", t)
    g2 = assert_pass_preserves(g.build(), MergeTransposes(),
                               expect_ops={"Placeholder": 1, "Relu": 1, "Identity": 1})
    assert g2.outputs["y"].node == "out"


def test_identity_perm_and_constant_fold() -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 3))
    c = g.op("Transpose", g.const(np.arange(6, dtype=np.float32).reshape(3, 2)), _perm(g, [1, 0]))
    y = g.op("Transpose", g.op("AddV2", x, c), _perm(g, [0, 1]))
    g.output("y", g.op("Relu", y))
    assert_pass_preserves(g.build(), MergeTransposes(),
                          expect_ops={"Placeholder": 1, "AddV2": 1, "Const": 1, "Relu": 1})


def test_size_one_move_before_flatten_is_dropped() -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 3, 3, 4))
    pooled = g.op("Mean", x, g.const(np.array([1, 2], np.int32)), keep_dims=True)  # (2,1,1,4)
    t = g.op("Transpose", pooled, _perm(g, [0, 3, 1, 2]))                            # (2,4,1,1)
    g.output("y", g.op("Reshape", t, g.const(np.array([2, 4], np.int32))))
    g2 = assert_pass_preserves(g.build(), MergeTransposes())
    assert not g2.nodes_by_op("Transpose")


def test_size_one_move_with_known_shape_becomes_reshape_only_when_stuck() -> None:
    g = GraphBuilder()
    x = g.input("x", (1, 1, 5, 6))
    g.output("y", g.op("Relu", g.op("Transpose", x, _perm(g, [0, 2, 3, 1]))))
    graph = g.build()
    # merge_transposes leaves it (a later transpose could still cancel it) ...
    assert_pass_preserves(graph, MergeTransposes(), expect_modified=False)
    # ... sink_transposes converts it once nothing can move.
    g2 = assert_pass_preserves(graph, SinkTransposes())
    assert not g2.nodes_by_op("Transpose") and len(g2.nodes_by_op("Reshape")) == 1


@pytest.mark.parametrize("shape", [(2, 3, 3, 4), (2, None, 1, 4)])
def test_not_when_element_order_changes_or_is_unknown(shape: tuple) -> None:
    # (2,3,3,4) -> [0,3,1,2] reorders 3,3,4; with an unknown dim it may reorder too.
    g = GraphBuilder()
    x = g.input("x", shape)
    t = g.op("Transpose", x, _perm(g, [0, 3, 1, 2]))
    g.output("y", g.op("Reshape", t, g.const(np.array([2, -1], np.int32))))
    assert_pass_preserves(g.build(), MergeTransposes(), expect_modified=False)


def test_not_on_non_const_perm() -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 3))
    p = g.input("p", (2,), "DT_INT32")
    g.output("y", g.op("Transpose", g.op("Transpose", x, p), p))
    feeds = {"x": np.ones((2, 3), np.float32), "p": np.array([1, 0], np.int32)}
    assert_pass_preserves(g.build(), MergeTransposes(), feeds=feeds, expect_modified=False)
