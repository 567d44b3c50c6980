"""lower_softsign: Softsign(x) => x / (|x| + 1)."""

from __future__ import annotations

from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.lower_softsign import LowerSoftsign


def test_softsign() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Softsign", g.input("x", (3, 4)), name="s", T="DT_FLOAT"))
    g2 = assert_pass_preserves(g.build(), LowerSoftsign())
    assert g2.op("s") == "RealDiv"


def test_nothing_to_lower() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Erf", g.input("x", (3,))))
    assert_pass_preserves(g.build(), LowerSoftsign(), expect_modified=False)
