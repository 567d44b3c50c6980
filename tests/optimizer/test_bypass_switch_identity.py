"""bypass_switch_identity: Identity(Switch:k) with no control edges => consumers read Switch:k."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from opt_graphs import tf1_dense_loop, tf1_loop_feeds
from tfjs_lite.optimizer.passes.bypass_switch_identity import BypassSwitchIdentity

from tfjs_lite.ir import TensorRef


@pytest.mark.parametrize("n", [0, 1, 3])
def test_loop_variable_identity_is_bypassed_pivot_kept(n: int) -> None:
    #  acc_id = Identity(acc_switch:1) -> MatMul   =>   MatMul reads acc_switch:1
    #  pivot  = Identity(i_switch:1) anchors ^pivot on the frame constants: kept
    g2 = assert_pass_preserves(tf1_dense_loop(), BypassSwitchIdentity(), feeds=tf1_loop_feeds(n))
    assert "acc_id" not in g2 and "pivot" in g2
    assert g2.inputs_of("mm")[0] == TensorRef("acc_switch", 1)


def test_back_edge_consumer_reads_the_switch() -> None:
    #  a loop variable carried unchanged: NextIteration(Identity(Switch:1)) => NextIteration(Switch:1)
    g = GraphBuilder()
    x, n = g.input("x", (2,)), g.input("n", (), "DT_INT32")
    frame = {"frame_name": "loop", "parallel_iterations": 10}
    i_enter = g.op("Enter", g.const(0), name="i_enter", is_constant=False, **frame)
    v_enter = g.op("Enter", x, name="v_enter", is_constant=False, **frame)
    n_enter = g.op("Enter", n, name="n_enter", is_constant=True, **frame)
    i_next, v_next = g.op("NextIteration", name="i_next"), g.op("NextIteration", name="v_next")
    i_merge = g.op("Merge", i_enter, i_next, outputs=2)[0]
    v_merge = g.op("Merge", v_enter, v_next, outputs=2)[0]
    cond = g.op("LoopCond", g.op("Less", i_merge, n_enter))
    i_f, i_t = g.op("Switch", i_merge, cond, outputs=2)
    v_f, v_t = g.op("Switch", v_merge, cond, outputs=2, name="v_switch")
    pivot = g.op("Identity", i_t, name="pivot")
    one = g.op("Const", name="one", control=[pivot], dtype="DT_INT32")
    g.graph.set_value("one", np.array(1, np.int32))
    g.graph.set_input("i_next", 0, g.op("AddV2", pivot, one))
    g.graph.set_input("v_next", 0, g.op("Identity", v_t, name="v_id"))
    g.op("Exit", i_f)
    g.output("y", g.op("Exit", v_f))
    feeds = {"x": np.array([1.0, -2.0], np.float32), "n": np.array(3, np.int32)}
    g2 = assert_pass_preserves(g.build(), BypassSwitchIdentity(), feeds=feeds)
    assert "v_id" not in g2 and g2.inputs_of("v_next") == [TensorRef("v_switch", 1)]


def test_cond_branch_identity_is_bypassed() -> None:
    #  TF1 cond: Merge(Neg(Identity(Switch:0)), Identity(Switch:1)) => identities gone
    g = GraphBuilder()
    x = g.input("x", (3,))
    pred = g.op("Greater", g.op("Sum", x, g.const([0]), keep_dims=False), g.const(0.0))
    f, t = g.op("Switch", x, pred, outputs=2, name="sw")
    g.output("y", g.op("Merge", g.op("Neg", g.op("Identity", f)), g.op("Identity", t), outputs=2)[0])
    for sign in (1.0, -1.0):
        feeds = {"x": np.array([1.0, 2.0, 3.0], np.float32) * np.float32(sign)}
        assert_pass_preserves(g.build(), BypassSwitchIdentity(), feeds=feeds,
                              expect_ops={"Const": 2, "Greater": 1, "Merge": 1, "Neg": 1,
                                          "Placeholder": 1, "Sum": 1, "Switch": 1})


def _cond_graph(*, control_in: bool = False, control_out: bool = False, output: bool = False,
                keep: bool = False, reader: str = "Switch"):
    g = GraphBuilder()
    x = g.input("x", (3,))
    pred = g.op("Greater", g.op("Sum", x, g.const([0]), keep_dims=False), g.const(0.0))
    f, t = g.op("Switch", x, pred, outputs=2, name="sw")
    src = t if reader == "Switch" else g.op("Relu", t)
    ident = g.op("Identity", src, name="ident", control=[g.const(1.0, name="c")] if control_in else [])
    two = g.op("Const", name="two", control=[ident] if control_out else [f], dtype="DT_FLOAT")
    g.graph.set_value("two", np.array(2.0, np.float32))
    g.output("y", g.op("Merge", f, g.op("Mul", ident, two), outputs=2)[0])
    if output:
        g.output("t", ident)
    if keep:
        g.graph.keep_nodes = {"ident"}
    return g.build()


@pytest.mark.parametrize("case", ["control_in", "control_out", "output", "keep", "not_switch"])
def test_must_not_fire(case: str) -> None:
    graph = _cond_graph(control_in=case == "control_in", control_out=case == "control_out",
                        output=case == "output", keep=case == "keep",
                        reader="Relu" if case == "not_switch" else "Switch")
    feeds = {"x": np.array([1.0, 2.0, 3.0], np.float32)}
    g2 = assert_pass_preserves(graph, BypassSwitchIdentity(), feeds=feeds, expect_modified=False)
    assert "ident" in g2


def test_same_graph_fires_without_the_blocker() -> None:
    feeds = {"x": np.array([1.0, 2.0, 3.0], np.float32)}
    g2 = assert_pass_preserves(_cond_graph(), BypassSwitchIdentity(), feeds=feeds)
    assert "ident" not in g2
