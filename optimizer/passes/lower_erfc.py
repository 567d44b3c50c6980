"""Lower ``Erfc`` (absent from TF.js) to ``Sub(1, Erf(x))``.

Before => after: ``y = Erfc(x)`` => ``y = Sub(1, Erf(x))`` (the Sub keeps the name ``y``; a new
``<y>/erf`` node and a scalar ``<y>/one`` Const of ``x``'s dtype are added).  TF 2.19 writes exact
GELU as ``0.5·x·erfc(-x/√2)``, so this is what makes exact-GELU models convertible.

Algebra: ``erfc(x) = 1 − erf(x)``.  For large ``x`` the subtraction loses the tiny tail
(``erfc(10) ≈ 2e-45`` becomes 0): absolute error ≤ 1 ulp of 1, which is what GELU needs.

Does NOT fire when there is no ``Erfc`` (nothing else to lower here).
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph, numpy_dtype

__all__ = ["LowerErfc"]


class LowerErfc(Pass):
    """Erfc(x) => Sub(1, Erf(x))."""

    name = "lower_erfc"

    def run(self, graph: Graph) -> bool:
        """Lower every Erfc; returns True iff any was found."""
        nodes = graph.nodes_by_op("Erfc")
        for n in nodes:
            t = DType(graph.attrs(n).get("T", "DT_FLOAT"))
            (x,) = graph.inputs_of(n)
            erf = graph.add_op("Erf", [x], {"T": t}, name=graph.unique_name(f"{n}/erf"))
            one = graph.add_const(np.ones((), numpy_dtype(t)), name=graph.unique_name(f"{n}/one"))
            graph.set_op(n, "Sub")
            graph.set_inputs(n, [one, type(x)(erf, 0)])
        return bool(nodes)
