"""lower_space_to_depth: SpaceToDepth => Reshape/Transpose/Reshape."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.lower_space_to_depth import LowerSpaceToDepth


@pytest.mark.parametrize("block,shape", [(2, (2, 4, 6, 3)), (3, (1, 6, 3, 2))])
def test_blocks(block: int, shape: tuple) -> None:
    g = GraphBuilder()
    g.output("y", g.op("SpaceToDepth", g.input("x", shape), name="y", block_size=block,
                       data_format="NHWC", T="DT_FLOAT"))
    g2 = assert_pass_preserves(g.build(), LowerSpaceToDepth())
    assert not g2.nodes_by_op("SpaceToDepth")


def test_dynamic_batch() -> None:
    g = GraphBuilder()
    g.output("y", g.op("SpaceToDepth", g.input("x", (None, 4, 4, 2), "DT_INT32"), name="y", block_size=2,
                       data_format="NHWC", T="DT_INT32"))
    feeds = {"x": np.arange(3 * 4 * 4 * 2, dtype=np.int32).reshape(3, 4, 4, 2)}
    assert_pass_preserves(g.build(), LowerSpaceToDepth(), feeds=feeds)


def test_unknown_spatial_size_is_left_alone() -> None:
    g = GraphBuilder()
    g.output("y", g.op("SpaceToDepth", g.input("x", (1, None, 4, 2)), name="y", block_size=2,
                       data_format="NHWC", T="DT_FLOAT"))
    feeds = {"x": np.ones((1, 4, 4, 2), np.float32)}
    assert_pass_preserves(g.build(), LowerSpaceToDepth(), feeds=feeds, expect_modified=False)
