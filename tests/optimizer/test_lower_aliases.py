"""lower_aliases: Inv/Rint/BiasAddV1/PreventGradient renames."""

from __future__ import annotations

import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.lower_aliases import LowerAliases


@pytest.mark.parametrize(("op", "new"), [("Inv", "Reciprocal"), ("Rint", "Round")])
def test_aliases(op: str, new: str) -> None:
    g = GraphBuilder()
    g.output("y", g.op(op, g.input("x", (7,)), name="n", T="DT_FLOAT"))
    g2 = assert_pass_preserves(g.build(), LowerAliases())
    assert g2.op("n") == new


def test_nothing_to_lower() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Erf", g.input("x", (3,))))
    assert_pass_preserves(g.build(), LowerAliases(), expect_modified=False)
