"""Lower ``Xlogy``, ``Xdivy``, ``Xlog1py`` and ``MulNoNan`` (absent from TF.js 4.22): one lowering per op.

Before => after: ``z = Xlogy(x, y)`` => ``z = SelectV2(Equal(x, 0), 0, Mul(x, Log(y)))``; likewise
``Xdivy`` with ``RealDiv(x, y)`` and ``Xlog1py`` with ``Mul(x, Log1p(y))``.  The SelectV2 keeps the
name ``z``; ``SelectV2`` broadcasts condition, product and the scalar 0 like the original op.

Algebra: TF defines these as exactly 0 wherever ``x == 0``, whatever ``y`` is (0, inf or nan), and
``x·log(y)`` (``x/y``, ``x·log1p(y)``) elsewhere; the select takes the 0 branch exactly there, so
the nan/inf the other branch computes for such ``y`` never reaches the output.  Used by
cross-entropy and KL-divergence terms (``tf.math.xlogy``) in exported losses and samplers.

``z = MulNoNan(x, y)`` => ``z = SelectV2(Equal(y, 0), 0, Mul(x, y))``: TF defines it as 0 wherever
``y == 0``, even where ``x`` is inf or nan (the guard is on ``y``).

Does NOT fire on any other op.
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._util import add_derived_const, add_derived_op, become_select
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph, TensorRef, numpy_dtype

__all__ = ["LOWERINGS", "LowerXlogy"]


def _log_times(log_op: str):
    def value(graph: Graph, node: str, x: TensorRef, y: TensorRef, t: DType) -> TensorRef:
        log = add_derived_op(graph, node, log_op.lower(), log_op, [y], {"T": t})
        return add_derived_op(graph, node, "product", "Mul", [x, log], {"T": t})
    return value


def _divide(graph: Graph, node: str, x: TensorRef, y: TensorRef, t: DType) -> TensorRef:
    return add_derived_op(graph, node, "quotient", "RealDiv", [x, y], {"T": t})


def _multiply(graph: Graph, node: str, x: TensorRef, y: TensorRef, t: DType) -> TensorRef:
    return add_derived_op(graph, node, "product", "Mul", [x, y], {"T": t})


# One lowering per op: (the input whose zeros force a 0 result, the value elsewhere).
LOWERINGS = {"Xlogy": (0, _log_times("Log")), "Xlog1py": (0, _log_times("Log1p")), "Xdivy": (0, _divide),
             "MulNoNan": (1, _multiply)}


class LowerXlogy(Pass):
    """Xlogy/Xdivy/Xlog1py => SelectV2(x == 0, 0, value); MulNoNan => SelectV2(y == 0, 0, x·y)."""

    name = "lower_xlogy"

    def run(self, graph: Graph) -> bool:
        """Lower every such op; returns True iff any was found."""
        nodes = graph.nodes_by_op(*LOWERINGS)
        for node in nodes:
            t = DType(graph.attrs(node).get("T", "DT_FLOAT"))
            x, y = graph.inputs_of(node)
            guard, value_of = LOWERINGS[graph.op(node)]
            zero = add_derived_const(graph, node, "zero", np.zeros((), numpy_dtype(t)))
            is_zero = add_derived_op(graph, node, "guard_is_zero", "Equal", [(x, y)[guard], zero], {"T": t})
            become_select(graph, node, is_zero, zero, value_of(graph, node, x, y, t), t)
        return bool(nodes)
