"""The default pipeline, the manager and the optimize() entry point."""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
import pytest
from builders import GraphBuilder
from harness import op_histogram, random_feeds
from opt_graphs import CONV, conv, image_input, rand
from tfjs_lite.optimizer import PASS_NAMES, optimize
from tfjs_lite.optimizer.manager import PassGroup, PassManager, format_op_diff
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite import executor
from tfjs_lite.errors import PassError, UsageError
from tfjs_lite.ir import Graph


def _cnn() -> Graph:
    #  x -> Identity -> Conv2D -> FusedBatchNormV3 -> Relu -> DepthwiseConv2dNative -> Relu6
    #    -> Mean -> MatMul -> AddV2(b) -> Softmax -> Identity (output)
    #  plus a PReLU block, an Erfc, CheckNumerics and a dead branch.
    g = GraphBuilder()
    x = g.op("Identity", image_input(g))
    c = conv(g, x)
    params = [g.const(rand((4,), 10 + i, positive=(i == 3))) for i in range(4)]
    bn = g.op("FusedBatchNormV3", c, *params, outputs=6, epsilon=1e-3, is_training=False, name="bn")[0]
    r = g.op("Relu", bn, name="relu")
    c2 = g.op("Conv2D", r, g.op("Identity", g.const(rand((1, 1, 4, 4), 3))), **CONV)
    neg_alpha = g.op("Neg", g.const(np.abs(rand((4,), 6))))
    pr = g.op("AddV2", g.op("Relu", c2), g.op("Mul", neg_alpha, g.op("Relu", g.op("Neg", c2))), name="prelu")
    dw = g.op("DepthwiseConv2dNative", pr, g.const(rand((3, 3, 4, 1), 4)), **CONV)
    r6 = g.op("CheckNumerics", g.op("Relu6", dw), message="x")
    m = g.op("Mean", r6, g.const(np.array([1, 2], np.int32)))
    e = g.op("Erfc", m, T="DT_FLOAT")
    mm = g.op("MatMul", e, g.const(rand((4, 3), 5)))
    a = g.op("AddV2", mm, g.const(rand((3,), 6)))
    g.op("Exp", a)  # dead
    g.output("y", g.op("Identity", g.op("Softmax", a), name="out"))
    return g.build()


def test_optimize_cnn_end_to_end() -> None:
    graph = _cnn()
    feeds = random_feeds(graph, seed=0)
    before = executor.run(graph, feeds)
    report = optimize(graph, check=True)
    after = executor.run(graph, feeds)
    np.testing.assert_allclose(after["y"], before["y"], rtol=1e-5, atol=1e-6)
    assert op_histogram(graph) == {"Const": 10, "Erf": 1, "FusedDepthwiseConv2dNative": 1, "Identity": 1,
                                   "Mean": 1, "Placeholder": 1, "Softmax": 1, "Sub": 1, "_FusedConv2D": 2,
                                   "_FusedMatMul": 1}
    consts = sorted((graph.value(n).shape, graph.op(c)) for n in graph.nodes_by_op("Const")
                    for c in graph.node_consumers(n))
    assert consts == sorted([
        ((3, 3, 3, 4), "_FusedConv2D"), ((4,), "_FusedConv2D"),  # conv with the batch norm folded in
        ((1, 1, 4, 4), "_FusedConv2D"), ((4,), "_FusedConv2D"), ((4,), "_FusedConv2D"),  # W, 0 bias, alpha
        ((3, 3, 4, 1), "FusedDepthwiseConv2dNative"),  # Relu6 fused without a bias
        ((2,), "Mean"), ((), "Sub"),  # the reduction axes; Erfc(x) lowered to 1 - Erf(x)
        ((4, 3), "_FusedMatMul"), ((3,), "_FusedMatMul"),
    ])  # every weight used once: the BN statistics, the dead branch's inputs and -alpha are gone
    assert graph.outputs["y"].node == "out"
    assert graph.attrs("prelu")["fused_ops"] == ["BiasAdd", "Prelu"]
    assert graph.attrs("relu")["fused_ops"] == ["BiasAdd", "Relu"]
    assert report.nodes_after == len(graph) < report.nodes_before
    assert "fuse_conv" in report.summary()
    # Idempotent as a whole.
    assert optimize(graph).modified is False


def test_skip_and_unknown_names() -> None:
    graph = _cnn()
    optimize(graph, skip=["fuse_conv", "fuse_prelu"])
    assert "_FusedConv2D" not in op_histogram(graph)
    with pytest.raises(UsageError, match="valid names: strip_debug"):
        optimize(_cnn(), skip=["fuse_convs"])
    assert set(PASS_NAMES) >= {"cse", "prune", "fold_constants", "fold_batch_norm"}


def test_strip_debug_ops_false_keeps_check_numerics() -> None:
    graph = _cnn()
    optimize(graph, strip_debug_ops=False)
    assert graph.nodes_by_op("CheckNumerics")


class _Boom(Pass):
    name = "boom"

    def run(self, graph: Graph) -> bool:
        raise ValueError("kaput")


class _Flip(Pass):
    """Always modifies: forces the fixpoint bound."""

    name = "flip"

    def run(self, graph: Graph) -> bool:
        graph.meta["n"] = graph.meta.get("n", 0) + 1
        return True


def test_pass_error_wraps_and_names_pass() -> None:
    with pytest.raises(PassError, match="pass 'boom' failed.*kaput") as info:
        PassManager([PassGroup("g", (_Boom(),))]).run(_cnn())
    assert isinstance(info.value.__cause__, ValueError)


def test_fixpoint_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    graph = _cnn()
    with caplog.at_level(logging.WARNING):
        report = PassManager([PassGroup("g", (_Flip(),), fixpoint=True, max_iterations=3)]).run(graph)
    assert graph.meta["n"] == 3 and len(report.records) == 3
    assert "did not reach a fixpoint" in caplog.text


def test_op_diff_logged_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="tfjs_lite.optimizer.manager"):
        optimize(_cnn())
    assert "fuse_conv: " in caplog.text and "_FusedConv2D +" in caplog.text
    assert format_op_diff(Counter({"Conv2D": 3}), Counter({"_FusedConv2D": 3})) == \
        "Conv2D -3 (3->0), _FusedConv2D +3 (0->3)"
