"""lower_tensor_scatter: TensorScatterAdd/Sub => AddV2/Sub(t, ScatterNd(...))."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.lower_tensor_scatter import LowerTensorScatter


@pytest.mark.parametrize("op", ["TensorScatterAdd", "TensorScatterSub"])
@pytest.mark.parametrize("indices,updates", [([[0, 1], [2, 2], [0, 1]], (3,)), ([[3], [1], [3]], (3, 3))])
def test_repeated_indices_accumulate(op: str, indices: list, updates: tuple) -> None:
    g = GraphBuilder()
    t, u = g.input("t", (4, 3)), g.input("u", updates)
    idx = g.const(np.array(indices, np.int32))
    g.output("z", g.op(op, t, idx, u, name="z", T="DT_FLOAT", Tindices="DT_INT32"))
    g2 = assert_pass_preserves(g.build(), LowerTensorScatter())
    assert g2.nodes_by_op("ScatterNd") and not g2.nodes_by_op(op)


def test_update_is_left_alone() -> None:
    g = GraphBuilder()
    t = g.input("t", (4, 3))
    g.output("z", g.op("TensorScatterUpdate", t, g.const(np.array([[1]], np.int32)),
                       g.const(np.ones((1, 3), np.float32)), T="DT_FLOAT", Tindices="DT_INT32"))
    assert_pass_preserves(g.build(), LowerTensorScatter(), expect_modified=False)
