"""Lower ``Softsign`` (absent from TF.js) to ``RealDiv(x, AddV2(1, Abs(x)))``.

Before => after: ``y = Softsign(x)`` => ``y = RealDiv(x, AddV2(Abs(x), 1))``; the RealDiv keeps the
name ``y``; ``<y>/abs``, ``<y>/denominator`` and a scalar ``<y>/one`` Const are added.

Algebra: ``softsign(x) = x / (1 + |x|)``, evaluated in the same order as TF's kernel.

Does NOT fire when there is no ``Softsign``.
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph, TensorRef, numpy_dtype

__all__ = ["LowerSoftsign"]


class LowerSoftsign(Pass):
    """Softsign(x) => x / (|x| + 1)."""

    name = "lower_softsign"

    def run(self, graph: Graph) -> bool:
        """Lower every Softsign; returns True iff any was found."""
        nodes = graph.nodes_by_op("Softsign")
        for n in nodes:
            t = DType(graph.attrs(n).get("T", "DT_FLOAT"))
            (x,) = graph.inputs_of(n)
            absx = graph.add_op("Abs", [x], {"T": t}, name=graph.unique_name(f"{n}/abs"))
            one = graph.add_const(np.ones((), numpy_dtype(t)), name=graph.unique_name(f"{n}/one"))
            den = graph.add_op("AddV2", [TensorRef(absx, 0), one], {"T": t},
                               name=graph.unique_name(f"{n}/denominator"))
            graph.set_op(n, "RealDiv")
            graph.set_inputs(n, [x, TensorRef(den, 0)])
        return bool(nodes)
