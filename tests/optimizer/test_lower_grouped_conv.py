"""lower_grouped_conv: grouped Conv2D => DepthwiseConv2dNative or Split/Conv2D/ConcatV2."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from opt_graphs import rand
from tfjs_lite.optimizer.passes.lower_grouped_conv import LowerGroupedConv

from tfjs_lite import optimizer
from tfjs_lite.ir import Graph


def _grouped(channels: int, filter_in: int, out: int, *, const_filter: bool = True,
             data_format: str = "NHWC", strides: int = 1, dilations: int = 1,
             padding: str = "SAME", x_shape: tuple | None = None) -> Graph:
    g = GraphBuilder()
    shape = x_shape or ((1, 7, 6, channels) if data_format == "NHWC" else (1, channels, 7, 6))
    x = g.input("x", shape)
    w = (g.const(rand((3, 3, filter_in, out), 4), name="w") if const_filter
         else g.input("w", (3, 3, filter_in, out)))
    spatial = (lambda v: [1, v, v, 1]) if data_format == "NHWC" else (lambda v: [1, 1, v, v])
    y = g.op("Conv2D", x, w, name="conv", strides=spatial(strides), dilations=spatial(dilations),
             padding=padding, data_format=data_format, T="DT_FLOAT")
    g.output("y", g.op("Relu", y, name="relu"))
    return g.build()


@pytest.mark.parametrize("mult", [1, 2])
def test_one_channel_per_group_becomes_depthwise(mult: int) -> None:
    g2 = assert_pass_preserves(_grouped(6, 1, 6 * mult), LowerGroupedConv(), atol=1e-5)
    assert g2.op("conv") == "DepthwiseConv2dNative"
    assert g2.value(g2.inputs_of("conv")[1].node).shape == (3, 3, 6, mult)


@pytest.mark.parametrize("groups,filter_in,out", [(2, 2, 6), (3, 2, 3), (2, 3, 4)])
def test_split_convolve_concat(groups: int, filter_in: int, out: int) -> None:
    g2 = assert_pass_preserves(_grouped(groups * filter_in, filter_in, out), LowerGroupedConv(),
                               atol=1e-5)
    assert g2.op("conv") == "ConcatV2" and len(g2.nodes_by_op("Conv2D")) == groups
    assert all(g2.value(g2.inputs_of(c)[1].node).shape == (3, 3, filter_in, out // groups)
               for c in g2.nodes_by_op("Conv2D"))


def test_strides_dilations_and_valid_padding_are_kept() -> None:
    assert_pass_preserves(_grouped(4, 2, 4, strides=2, padding="VALID"), LowerGroupedConv(), atol=1e-5)
    assert_pass_preserves(_grouped(4, 1, 8, dilations=2), LowerGroupedConv(), atol=1e-5)


def test_nchw_splits_the_channel_axis() -> None:
    assert_pass_preserves(_grouped(4, 2, 6, data_format="NCHW"), LowerGroupedConv(), atol=1e-5)
    assert_pass_preserves(_grouped(4, 1, 4, data_format="NCHW"), LowerGroupedConv(), atol=1e-5)


@pytest.mark.parametrize("filter_in,out", [(1, 8), (2, 6)])
def test_filter_that_is_not_a_constant(filter_in: int, out: int) -> None:
    g2 = assert_pass_preserves(_grouped(4, filter_in, out, const_filter=False), LowerGroupedConv(),
                               atol=1e-5)
    assert not any(g2.op(c) == "Conv2D" and g2.inputs_of(c)[1].node == "w" for c in g2.nodes())


def test_plain_conv_is_left_alone() -> None:
    assert_pass_preserves(_grouped(4, 4, 6), LowerGroupedConv(), expect_modified=False)


def test_unknown_channel_count_is_left_alone() -> None:
    g = _grouped(4, 2, 6, x_shape=(1, 7, 6, None))
    feeds = {"x": np.random.default_rng(0).standard_normal((1, 7, 6, 4)).astype(np.float32)}
    assert_pass_preserves(g, LowerGroupedConv(), feeds=feeds, expect_modified=False)


def test_pipeline_fuses_the_lowered_depthwise_with_its_bias() -> None:
    g = GraphBuilder()
    x = g.input("x", (1, 5, 5, 4))
    y = g.op("Conv2D", x, g.const(rand((3, 3, 1, 4), 2)), name="conv", strides=[1, 1, 1, 1],
             padding="SAME", data_format="NHWC", T="DT_FLOAT")
    y = g.op("BiasAdd", y, g.const(rand((4,), 3)), name="bias", data_format="NHWC", T="DT_FLOAT")
    g.output("y", g.op("Relu", y, name="relu"))
    graph = g.build()
    optimized = graph.copy()
    optimizer.optimize(optimized)
    assert [optimized.op(n) for n in optimized.nodes() if "Conv" in optimized.op(n)] == [
        "FusedDepthwiseConv2dNative"]
    from tfjs_lite import executor
    feeds = {"x": np.random.default_rng(1).standard_normal((1, 5, 5, 4)).astype(np.float32)}
    np.testing.assert_allclose(executor.run(optimized, feeds)["y"], executor.run(graph, feeds)["y"],
                               atol=1e-5)
