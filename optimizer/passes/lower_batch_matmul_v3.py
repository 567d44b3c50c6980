"""Lower ``BatchMatMulV3`` (absent from TF.js) to ``BatchMatMulV2``.

Before => after: ``BatchMatMulV3(x, y; Ta, Tb, Tout, adj_x, adj_y)`` =>
``BatchMatMulV2(x, y; T=Ta, adj_x, adj_y)``, same name.

Algebra: V3 only adds distinct input/output dtypes; with ``Ta == Tb == Tout`` it is V2.

Does NOT fire when the three dtypes differ (e.g. int8 x int8 -> int32): TF.js has no mixed
matmul, and such nodes are reported as unsupported instead.
"""

from __future__ import annotations

from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph

__all__ = ["LowerBatchMatMulV3"]


class LowerBatchMatMulV3(Pass):
    """BatchMatMulV3 with one dtype => BatchMatMulV2."""

    name = "lower_batch_matmul_v3"

    def run(self, graph: Graph) -> bool:
        """Rewrite eligible nodes; returns True iff any was rewritten."""
        changed = False
        for n in graph.nodes_by_op("BatchMatMulV3"):
            attrs = graph.attrs(n)
            ta = attrs.get("Ta", "DT_FLOAT")
            if attrs.get("Tb", ta) != ta or attrs.get("Tout", ta) != ta:
                continue
            new = {"T": DType(ta), "adj_x": bool(attrs.get("adj_x", False)),
                   "adj_y": bool(attrs.get("adj_y", False))}
            attrs.clear()
            attrs.update(new)
            graph.set_op(n, "BatchMatMulV2")
            changed = True
        return changed
