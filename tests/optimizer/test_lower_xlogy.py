"""lower_xlogy: Xlogy/Xdivy/Xlog1py => SelectV2(x == 0, 0, value)."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.lower_xlogy import LowerXlogy


@pytest.mark.parametrize("op", ["Xlogy", "Xdivy", "Xlog1py"])
def test_zero_x_wins_over_any_y(op: str) -> None:
    g = GraphBuilder()
    x, y = g.input("x", (2, 7)), g.input("y", (7,))
    g.output("z", g.op(op, x, y, name="z", T="DT_FLOAT"))
    feeds = {"x": np.array([[0, 0, 0, 1.5, -2, 3, 0.5], [0, 2, 0, 1, 1, 0, 4]], np.float32),
             "y": np.array([0, np.inf, np.nan, 0, 4, np.nan, 0.25], np.float32)}
    g2 = assert_pass_preserves(g.build(), LowerXlogy(), feeds=feeds)
    assert g2.op("z") == "SelectV2" and not g2.nodes_by_op(op)


def test_mul_no_nan_guards_on_y() -> None:
    g = GraphBuilder()
    x, y = g.input("x", (5,)), g.input("y", (5,))
    g.output("z", g.op("MulNoNan", x, y, name="z", T="DT_FLOAT"))
    feeds = {"x": np.array([np.inf, np.nan, 2, 0, -3], np.float32),
             "y": np.array([0, 0, 0.5, np.inf, 2], np.float32)}
    g2 = assert_pass_preserves(g.build(), LowerXlogy(), feeds=feeds)
    assert g2.op("z") == "SelectV2"


def test_nothing_to_lower() -> None:
    g = GraphBuilder()
    g.output("z", g.op("Log", g.input("x", (3,)), T="DT_FLOAT"))
    assert_pass_preserves(g.build(), LowerXlogy(), expect_modified=False)
