"""lower_truncate_mod: Mod/TruncateMod (C remainder) => FloorMod corrected where the signs differ."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.lower_truncate_mod import LowerTruncateMod

X = [-7, 7, -7, 7, -6, 6, 0, -1, 5, -5]
Y = [3, -3, -3, 3, 3, -3, 4, 7, 5, 2]


@pytest.mark.parametrize("op", ["Mod", "TruncateMod"])
@pytest.mark.parametrize("dtype,np_dtype", [("DT_INT32", np.int32), ("DT_FLOAT", np.float32)])
def test_mixed_signs(op: str, dtype: str, np_dtype) -> None:
    g = GraphBuilder()
    x, y = g.input("x", (10,), dtype), g.input("y", (10,), dtype)
    g.output("z", g.op(op, x, y, name="z", T=dtype))
    feeds = {"x": np.array(X, np_dtype), "y": np.array(Y, np_dtype)}
    g2 = assert_pass_preserves(g.build(), LowerTruncateMod(), feeds=feeds)
    assert g2.op("z") == "SelectV2" and g2.nodes_by_op("FloorMod")


def test_broadcast_divisor() -> None:
    g = GraphBuilder()
    x = g.input("x", (2, 5), "DT_INT32")
    g.output("z", g.op("Mod", x, g.const(np.int32(-4)), name="z", T="DT_INT32"))
    feeds = {"x": np.array([X[:5], X[5:]], np.int32)}
    assert_pass_preserves(g.build(), LowerTruncateMod(), feeds=feeds)


def test_floor_mod_is_left_alone() -> None:
    g = GraphBuilder()
    g.output("z", g.op("FloorMod", g.input("x", (3,)), g.input("y", (3,)), T="DT_FLOAT"))
    assert_pass_preserves(g.build(), LowerTruncateMod(), expect_modified=False)
