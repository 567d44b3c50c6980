"""lower_erfc: Erfc(x) => Sub(1, Erf(x))."""

from __future__ import annotations

import numpy as np
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.lower_erfc import LowerErfc


def test_exact_gelu_erfc() -> None:
    #  0.5 * x * erfc(-x / sqrt(2)) as TF 2.19 writes exact GELU
    g = GraphBuilder()
    x = g.input("x", (4, 5))
    e = g.op("Erfc", g.op("Mul", x, g.const(np.float32(-1 / np.sqrt(2)))), name="erfc", T="DT_FLOAT")
    g.output("y", g.op("Mul", g.op("Mul", x, g.const(np.float32(0.5))), e))
    g2 = assert_pass_preserves(g.build(), LowerErfc(), atol=1e-6)
    assert g2.op("erfc") == "Sub" and not g2.nodes_by_op("Erfc")


def test_nothing_to_lower() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Erf", g.input("x", (3,))))
    assert_pass_preserves(g.build(), LowerErfc(), expect_modified=False)
