"""declare_nhwc_io: 4-D inputs/outputs become NHWC and the boundary transposes cancel."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import random_feeds
from layout_graphs import TO_NHWC, NchwBuilder, resnet_like

from tfjs_lite import executor
from tfjs_lite.ir import Graph
from tfjs_lite.optimizer import optimize
from tfjs_lite.optimizer.passes.declare_nhwc_io import DeclareNhwcIo
from tfjs_lite.optimizer.passes.sink_transposes import SinkTransposes, transpose_count


def _declared(graph: Graph, **flags: bool) -> Graph:
    g2 = graph.copy()
    assert DeclareNhwcIo(**flags).run(g2) is True
    g2.check()
    assert DeclareNhwcIo(**flags).run(g2) is False  # once per graph
    return g2


def _assert_nhwc_equivalent(nchw: Graph, nhwc: Graph, *, inputs_nhwc: bool = True,
                            outputs_nhwc: bool = True) -> None:
    feeds = random_feeds(nchw, seed=2)
    expected = executor.run(nchw, feeds)
    got = executor.run(nhwc, {k: v.transpose(TO_NHWC) if v.ndim == 4 and inputs_nhwc else v
                              for k, v in feeds.items()})
    assert list(got) == list(expected)
    for key, value in expected.items():
        if value.ndim == 4 and outputs_nhwc:
            value = value.transpose(TO_NHWC)
        np.testing.assert_allclose(got[key], value, rtol=1e-5, atol=1e-5, err_msg=key)


@pytest.mark.parametrize(("inputs", "outputs", "left"), [(True, True, 0), (True, False, 1), (False, True, 1)])
def test_resnet_like_boundary_transposes_disappear(inputs: bool, outputs: bool, left: int) -> None:
    graph = resnet_like()
    g2 = _declared(graph, inputs=inputs, outputs=outputs)
    SinkTransposes().run(g2)
    g2.check()
    assert transpose_count(g2) == left
    _assert_nhwc_equivalent(graph, g2, inputs_nhwc=inputs, outputs_nhwc=outputs)
    assert g2.attrs("x")["shape"] == ((1, 8, 8, 3) if inputs else (1, 3, 8, 8))
    assert set(g2.outputs) == {"logits", "features"}
    assert g2.outputs["features"].node == graph.outputs["features"].node  # the name is kept


def test_whole_pipeline_leaves_no_transpose() -> None:
    graph = resnet_like()
    g2 = _declared(graph)
    optimize(g2, check=True)
    assert transpose_count(g2) == 0
    _assert_nhwc_equivalent(graph, g2)


def test_output_that_is_not_a_transpose_keeps_its_name() -> None:
    # features = Relu(Q(conv)): the output node is a Relu; it is set aside, the name stays.
    b = NchwBuilder()
    x = b.g.input("x", (1, 2, 5, 5))
    b.g.output("features", b.g.op("Relu", b.conv(x, 2, 3), name="features"))
    graph = b.g.build()
    g2 = _declared(graph)
    optimize(g2, check=True)
    assert transpose_count(g2) == 0
    assert g2.outputs["features"].node == "features"
    _assert_nhwc_equivalent(graph, g2)


def test_leaves_non_4d_and_unproven_ranks_alone() -> None:
    g = GraphBuilder()
    v = g.input("v", (2, 3))
    u = g.input("u", (None, None, None))
    g.output("y", g.op("Relu", v))
    g.output("z", g.op("Neg", g.op("Reshape", u, g.const(np.array([1, -1, 1, 1], np.int32)))))
    g2 = g.build().copy()
    assert DeclareNhwcIo().run(g2) is False
    assert transpose_count(g2) == 0
