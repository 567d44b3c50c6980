"""fold_enter_const: Identity(Enter(Const, is_constant=true)) => frame-local Const."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves, op_histogram
from opt_graphs import tf1_dense_loop, tf1_loop_feeds
from tfjs_lite.optimizer import optimize
from tfjs_lite.optimizer.passes.fold_enter_const import FoldEnterConst
from tfjs_lite.optimizer.passes.prune import Prune

from tfjs_lite import executor


@pytest.mark.parametrize("n", [0, 1, 3])
def test_anchored_weights_become_frame_constants(n: int) -> None:
    #  w_read = Identity(Enter(w), ^pivot)  =>  w_read = Const(w, ^pivot); Enter and w then die
    g2 = assert_pass_preserves(tf1_dense_loop(), FoldEnterConst(), feeds=tf1_loop_feeds(n))
    for name, src in (("w_read", "w"), ("b_read", "b")):
        assert g2.op(name) == "Const" and g2.control_inputs_of(name) == ["pivot"]
        np.testing.assert_array_equal(g2.value(name), g2.value(src))
        assert g2.attrs(name)["dtype"] == g2.attrs(src)["dtype"]
    assert Prune().run(g2)
    assert not {"w", "b", "w_enter", "b_enter"} & set(g2.nodes())
    np.testing.assert_allclose(executor.run(g2, tf1_loop_feeds(n))["y"],
                               executor.run(tf1_dense_loop(), tf1_loop_feeds(n))["y"])


@pytest.mark.parametrize("n", [0, 1, 3])
def test_unanchored_weights_hang_off_the_enter(n: int) -> None:
    #  w_read = Identity(Enter(w))  =>  w_read = Const(w, ^w_enter)   (Grappler's form)
    graph = tf1_dense_loop(anchored=False)
    g2 = assert_pass_preserves(graph, FoldEnterConst(), feeds=tf1_loop_feeds(n))
    assert g2.op("w_read") == "Const" and g2.control_inputs_of("w_read") == ["w_enter"]
    assert g2.op("b_read") == "Const" and g2.control_inputs_of("b_read") == ["b_enter"]


def _enter_graph(*, is_constant: bool = True, source: str = "const", keep: bool = False):
    #  a one-variable loop  v = v + Identity(Enter(src))  run n times
    g = GraphBuilder()
    x, n = g.input("x", (2,)), g.input("n", (), "DT_INT32")
    frame = {"frame_name": "loop", "parallel_iterations": 10}
    i_enter = g.op("Enter", g.const(0), name="i_enter", is_constant=False, **frame)
    v_enter = g.op("Enter", x, name="v_enter", is_constant=False, **frame)
    n_enter = g.op("Enter", n, name="n_enter", is_constant=True, **frame)
    src = g.const(np.array([0.5, -1.0], np.float32), name="k") if source == "const" else x
    k_enter = g.op("Enter", src, name="k_enter", is_constant=is_constant, **frame)
    i_next, v_next = g.op("NextIteration", name="i_next"), g.op("NextIteration", name="v_next")
    i_merge = g.op("Merge", i_enter, i_next, outputs=2)[0]
    v_merge = g.op("Merge", v_enter, v_next, outputs=2)[0]
    cond = g.op("LoopCond", g.op("Less", i_merge, n_enter))
    i_f, i_t = g.op("Switch", i_merge, cond, outputs=2)
    v_f, v_t = g.op("Switch", v_merge, cond, outputs=2)
    pivot = g.op("Identity", i_t, name="pivot")
    one = g.op("Const", name="one", control=[pivot], dtype="DT_INT32")
    g.graph.set_value("one", np.array(1, np.int32))
    g.graph.set_input("i_next", 0, g.op("AddV2", pivot, one))
    k_read = g.op("Identity", k_enter, name="k_read", control=[pivot])
    g.graph.set_input("v_next", 0, g.op("AddV2", g.op("Identity", v_t), k_read))
    g.op("Exit", i_f)
    g.output("y", g.op("Exit", v_f))
    if keep:
        g.graph.keep_nodes = {"k_read"}
    return g.build()


def test_small_loop_folds() -> None:
    feeds = {"x": np.array([1.0, 2.0], np.float32), "n": np.array(3, np.int32)}
    g2 = assert_pass_preserves(_enter_graph(), FoldEnterConst(), feeds=feeds)
    assert g2.op("k_read") == "Const"


def test_not_constant_enter_is_left_alone() -> None:
    #  Identity(Enter(Const, is_constant=false)) runs in iteration 0 only: a Const would not.
    #  (Here the loop runs once so the graph is valid; n=1.)
    feeds = {"x": np.array([1.0, 2.0], np.float32), "n": np.array(1, np.int32)}
    g2 = assert_pass_preserves(_enter_graph(is_constant=False), FoldEnterConst(), feeds=feeds,
                               expect_modified=False)
    assert g2.op("k_read") == "Identity"


@pytest.mark.parametrize("case", ["placeholder", "keep"])
def test_must_not_fire(case: str) -> None:
    graph = _enter_graph(source="placeholder" if case == "placeholder" else "const",
                         keep=case == "keep")
    feeds = {"x": np.array([1.0, 2.0], np.float32), "n": np.array(2, np.int32)}
    g2 = assert_pass_preserves(graph, FoldEnterConst(), feeds=feeds, expect_modified=False)
    assert g2.op("k_read") == "Identity"


def test_identity_n_and_ref_enter_are_left_alone() -> None:
    g = _enter_graph()
    g.set_op("k_enter", "RefEnter")
    assert FoldEnterConst().run(g) is False
    g = _enter_graph()
    g.set_op("k_read", "IdentityN")
    assert FoldEnterConst().run(g) is False


@pytest.mark.parametrize("n", [0, 1, 4])
@pytest.mark.parametrize(("carry_identity", "anchored"), [(True, True), (False, True), (True, False)])
def test_pipeline_fuses_matmul_bias_relu_in_the_frame(n: int, carry_identity: bool,
                                                      anchored: bool) -> None:
    #  The whole point: MatMul + AddV2(bias) + Relu inside the loop become one _FusedMatMul and
    #  the Identity after acc_switch:1 is gone; anchored weights also drop their Enter and Const.
    graph = tf1_dense_loop(carry_identity=carry_identity, anchored=anchored)
    want = executor.run(graph, tf1_loop_feeds(n))["y"]
    g2 = graph.copy()
    optimize(g2, check=True)
    ops = op_histogram(g2)
    assert ops.get("_FusedMatMul") == 1 and "MatMul" not in ops and "Relu" not in ops
    (fused,) = g2.nodes_by_op("_FusedMatMul")
    fused_ops = [o.decode() if isinstance(o, bytes) else o for o in g2.attrs(fused)["fused_ops"]]
    assert fused_ops == ["BiasAdd", "Relu"]
    gone = {"acc_id", "w_enter", "b_enter", "w", "b"} if anchored else {"acc_id"}
    assert not gone & set(g2.nodes())
    assert g2.inputs_of(fused)[0].node == "acc_switch"
    assert ops["Enter"] == (4 if anchored else 6)  # i, acc, n, x (+ w, b)
    np.testing.assert_allclose(executor.run(g2, tf1_loop_feeds(n))["y"], want, rtol=1e-6, atol=1e-6)
