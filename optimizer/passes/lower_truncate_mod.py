"""Lower TF's truncating remainders, which TF.js 4.22 gets wrong or lacks: one lowering per op.

TF's ``Mod`` and ``TruncateMod`` follow C (``fmod``): the remainder has the sign of the dividend,
``-7 mod 3 = -1``. TF.js lacks ``TruncateMod`` and runs ``Mod`` as a *floor* modulo (the sign of
the divisor, ``-7 mod 3 = 2``): a graph with ``Mod`` converts cleanly and then computes wrong
numbers whenever the operands' signs differ.

Before => after: ``z = Mod(x, y)`` (or ``TruncateMod``) =>
``r = FloorMod(x, y)``; ``z = SelectV2(r != 0 and (x < 0) != (y < 0), r - y, r)`` (the SelectV2
keeps the name ``z``).

Algebra: the floor and truncated remainders agree when the signs of ``x`` and ``y`` agree or the
remainder is 0; otherwise they differ by exactly ``y`` (floor = truncated + y). Exact for
integers; for floats ``r - y`` is rounded once.

Does NOT fire on ``FloorMod`` (TF.js computes it like TF).
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._util import add_derived_const, add_derived_op, become_select
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph, numpy_dtype

__all__ = ["LowerTruncateMod"]

_BOOL = DType("DT_BOOL")
# One lowering per op; both are the same truncated remainder.
LOWERED_OPS = ("Mod", "TruncateMod")


class LowerTruncateMod(Pass):
    """Mod/TruncateMod => FloorMod corrected by the divisor where the signs differ."""

    name = "lower_truncate_mod"

    def run(self, graph: Graph) -> bool:
        """Lower every such op; returns True iff any was found."""
        nodes = graph.nodes_by_op(*LOWERED_OPS)
        for node in nodes:
            t = DType(graph.attrs(node).get("T", "DT_FLOAT"))
            x, y = graph.inputs_of(node)
            typed, boolean = {"T": t}, {"T": _BOOL}
            zero = add_derived_const(graph, node, "zero", np.zeros((), numpy_dtype(t)))
            floor_rem = add_derived_op(graph, node, "floor_mod", "FloorMod", [x, y], typed)
            x_negative = add_derived_op(graph, node, "x_negative", "Less", [x, zero], typed)
            y_negative = add_derived_op(graph, node, "y_negative", "Less", [y, zero], typed)
            signs_differ = add_derived_op(graph, node, "signs_differ", "NotEqual", [x_negative, y_negative], boolean)
            inexact = add_derived_op(graph, node, "remainder_nonzero", "NotEqual", [floor_rem, zero], typed)
            fix = add_derived_op(graph, node, "needs_fix", "LogicalAnd", [inexact, signs_differ], {})
            become_select(graph, node, fix, add_derived_op(graph, node, "fixed", "Sub", [floor_rem, y], typed),
                          floor_rem, t)
        return bool(nodes)
