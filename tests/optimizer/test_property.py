"""Random small DAGs stay numerically equivalent through the whole pipeline.

Example count is bounded (``max_examples=60``, no deadline) so the suite stays fast; the graphs
mix MatMul/Conv2D, BiasAdd + activations, element-wise ops and fan-out, which exercises
fold/CSE/fusion interactions and the single-consumer checks.
"""

from __future__ import annotations

import numpy as np
from harness import op_histogram, random_feeds
from hypothesis import HealthCheck, given, settings
from strategies import random_graphs, random_nchw_graphs
from tfjs_lite.optimizer import optimize
from tfjs_lite.optimizer.passes.sink_transposes import SinkTransposes, transpose_count

from tfjs_lite import executor
from tfjs_lite.ir import Graph

MAX_EXAMPLES = 60


@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs())
def test_pipeline_preserves_random_graphs(graph: Graph) -> None:
    feeds = random_feeds(graph, seed=1)
    before = executor.run(graph, feeds)
    g2 = graph.copy()
    optimize(g2, check=True)
    after = executor.run(g2, feeds)
    assert list(after) == list(before)
    for k in before:
        assert after[k].dtype == before[k].dtype and after[k].shape == before[k].shape
        np.testing.assert_allclose(after[k], before[k], rtol=1e-5, atol=1e-5, err_msg=k)
    assert optimize(g2).modified is False, op_histogram(g2)


@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_nchw_graphs())
def test_transpose_sinking_preserves_random_nchw_graphs(graph: Graph) -> None:
    before = transpose_count(graph)
    feeds = random_feeds(graph, seed=1)
    expected = executor.run(graph, feeds)
    sunk, optimized = graph.copy(), graph.copy()
    SinkTransposes().run(sunk)
    sunk.check()
    assert SinkTransposes().run(sunk) is False
    optimize(optimized, check=True)
    for g2 in (sunk, optimized):
        got = executor.run(g2, feeds)
        for k in expected:
            np.testing.assert_allclose(got[k], expected[k], rtol=1e-5, atol=1e-5, err_msg=k)
        assert transpose_count(g2) <= before
