"""strip_debug: Assert/PrintV2 removed, CheckNumerics/Print become Identity."""

from __future__ import annotations

import numpy as np
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.strip_debug import StripDebug


def test_strip() -> None:
    g = GraphBuilder()
    x = g.input("x", (2,))
    a = g.op("Assert", g.op("All", g.op("IsFinite", x), g.const(np.int32(0))), x, name="assert")
    c = g.op("CheckNumerics", x, message="bad", name="check", control=[a])
    g.output("y", g.op("Relu", c))
    g2 = assert_pass_preserves(g.build(), StripDebug())
    assert "assert" not in g2 and g2.op("check") == "Identity" and not g2.control_inputs_of("check")


def test_nothing_to_strip() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Relu", g.input("x", (2,))))
    assert_pass_preserves(g.build(), StripDebug(), expect_modified=False)
