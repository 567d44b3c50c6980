"""lower_erfc, lower_softsign, lower_batch_matmul_v3, lower_aliases."""

from __future__ import annotations

import numpy as np
import pytest

from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.lower_aliases import LowerAliases
from tfjs_lite.optimizer.passes.lower_batch_matmul_v3 import LowerBatchMatMulV3
from tfjs_lite.optimizer.passes.lower_erfc import LowerErfc
from tfjs_lite.optimizer.passes.lower_softsign import LowerSoftsign


def test_exact_gelu_erfc() -> None:
    #  0.5 * x * erfc(-x / sqrt(2)) as TF 2.19 writes exact GELU
    g = GraphBuilder()
    x = g.input("x", (4, 5))
    e = g.op("Erfc", g.op("Mul", x, g.const(np.float32(-1 / np.sqrt(2)))), name="erfc", T="DT_FLOAT")
    g.output("y", g.op("Mul", g.op("Mul", x, g.const(np.float32(0.5))), e))
    g2 = assert_pass_preserves(g.build(), LowerErfc(), atol=1e-6)
    assert g2.op("erfc") == "Sub" and not g2.nodes_by_op("Erfc")


def test_softsign() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Softsign", g.input("x", (3, 4)), name="s", T="DT_FLOAT"))
    g2 = assert_pass_preserves(g.build(), LowerSoftsign())
    assert g2.op("s") == "RealDiv"


def test_batch_matmul_v3() -> None:
    g = GraphBuilder()
    a, b = g.input("a", (2, 3, 4)), g.input("b", (2, 5, 4))
    g.output("y", g.op("BatchMatMulV3", a, b, Ta="DT_FLOAT", Tb="DT_FLOAT", Tout="DT_FLOAT",
                       adj_x=False, adj_y=True, name="bmm"))
    g2 = assert_pass_preserves(g.build(), LowerBatchMatMulV3())
    assert g2.op("bmm") == "BatchMatMulV2" and g2.attrs("bmm")["adj_y"] is True


def test_batch_matmul_v3_mixed_types_not_lowered() -> None:
    g = GraphBuilder()
    a, b = g.input("a", (2, 3), "DT_INT8"), g.input("b", (3, 2), "DT_INT8")
    g.output("y", g.op("BatchMatMulV3", a, b, Ta="DT_INT8", Tb="DT_INT8", Tout="DT_INT32"))
    assert LowerBatchMatMulV3().run(g.build()) is False


@pytest.mark.parametrize(("op", "new"), [("Inv", "Reciprocal"), ("Rint", "Round")])
def test_aliases(op: str, new: str) -> None:
    g = GraphBuilder()
    g.output("y", g.op(op, g.input("x", (7,)), name="n", T="DT_FLOAT"))
    g2 = assert_pass_preserves(g.build(), LowerAliases())
    assert g2.op("n") == new


def test_no_lowering_needed() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Erf", g.input("x", (3,))))
    graph = g.build()
    for p in (LowerErfc(), LowerSoftsign(), LowerBatchMatMulV3(), LowerAliases()):
        assert_pass_preserves(graph, p, expect_modified=False)
