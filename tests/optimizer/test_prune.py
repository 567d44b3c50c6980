"""prune: keep ancestors of the signature outputs."""

from __future__ import annotations

import numpy as np
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.prune import Prune


def test_dead_branch_removed_inputs_kept() -> None:
    g = GraphBuilder()
    x, unused = g.input("x", (2,)), g.input("unused", (2,))
    g.op("Exp", g.op("Relu", unused))
    g.op("Neg", g.const(np.ones(2, np.float32)))
    g.output("y", g.op("Relu", x))
    assert_pass_preserves(g.build(), Prune(), expect_ops={"Placeholder": 2, "Relu": 1})


def test_control_ancestors_and_keep_nodes_kept() -> None:
    g = GraphBuilder()
    x = g.input("x", (2,))
    a = g.op("Assert", g.const(np.array(True)), x, name="assert")
    init = g.op("NoOp", name="table_init")
    g.output("y", g.op("Relu", x, control=[a]))
    graph = g.build()
    graph.keep_nodes = {"table_init"}
    g2 = assert_pass_preserves(graph, Prune(), expect_modified=False)
    assert "assert" in g2 and "table_init" in g2 and init.node == "table_init"
