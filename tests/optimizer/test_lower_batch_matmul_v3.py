"""lower_batch_matmul_v3: BatchMatMulV3 => BatchMatMulV2."""

from __future__ import annotations

from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.lower_batch_matmul_v3 import LowerBatchMatMulV3


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


def test_nothing_to_lower() -> None:
    g = GraphBuilder()
    g.output("y", g.op("Erf", g.input("x", (3,))))
    assert_pass_preserves(g.build(), LowerBatchMatMulV3(), expect_modified=False)
