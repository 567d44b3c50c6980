"""lower_fake_quant: FakeQuantWithMinMax{Args,Vars,VarsPerChannel} => clamp/scale/floor arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.lower_fake_quant import LowerFakeQuant

from tfjs_lite.ir import Graph

# the bounds Consts stay until prune: 2 + 5 new ones
ARITHMETIC = {"Placeholder": 1, "Const": 7, "Minimum": 1, "Maximum": 1, "Sub": 1, "Mul": 2, "AddV2": 2,
              "Floor": 1}


def _feeds(shape=(3, 5)) -> dict:
    return {"x": (np.random.default_rng(5).standard_normal(shape) * 4).astype(np.float32)}


def _vars(low, high, op="FakeQuantWithMinMaxVars", const=True, **attrs) -> Graph:
    g = GraphBuilder()
    x = g.input("x", (3, 5))
    lo = g.const(np.float32(low)) if const else g.input("lo", np.shape(low))
    g.output("y", g.op(op, x, lo, g.const(np.float32(high)), name="fq", **attrs))
    return g.build()


@pytest.mark.parametrize("low,high,bits,narrow", [(-3.1, 2.7, 8, False), (0.4, 5.0, 4, True), (-7.0, -0.5, 6, False)])
def test_vars(low, high, bits, narrow) -> None:
    graph = _vars(low, high, num_bits=bits, narrow_range=narrow)
    g2 = assert_pass_preserves(graph, LowerFakeQuant(), feeds=_feeds(), atol=1e-6, expect_ops=ARITHMETIC)
    assert g2.op("fq") == "AddV2"


def test_args() -> None:
    g = GraphBuilder()
    g.output("y", g.op("FakeQuantWithMinMaxArgs", g.input("x", (3, 5)), name="fq", min=-1.3, max=6.5,
                       num_bits=8, narrow_range=False))
    assert_pass_preserves(g.build(), LowerFakeQuant(), feeds=_feeds(), atol=1e-6)


def test_per_channel() -> None:
    graph = _vars([-3, -1, 0.5, -2, -0.1], [3, 0.2, 4, 1, 0.3], op="FakeQuantWithMinMaxVarsPerChannel",
                  num_bits=8, narrow_range=False)
    assert_pass_preserves(graph, LowerFakeQuant(), feeds=_feeds(), atol=1e-6)


def test_bounds_fed_at_run_time_are_left_alone() -> None:
    graph = _vars(-1.0, 1.0, const=False, num_bits=8, narrow_range=False)
    feeds = {**_feeds(), "lo": np.float32(-1.0)}
    assert_pass_preserves(graph, LowerFakeQuant(), feeds=feeds, expect_modified=False)
