"""Rename ops TF.js lacks to equivalent ops it has.

Before => after (same node, inputs and attrs; only the op type changes):

=================  ================  ===================================================
before             after             why equal
=================  ================  ===================================================
``Inv``            ``Reciprocal``    deprecated alias: ``1/x``
``BiasAddV1``      ``BiasAdd``       V1 is BiasAdd without ``data_format`` (NHWC)
``Rint``           ``Round``         both round half to even (TF ``Round`` and tf.js ``round``)
``PreventGradient``  ``Identity``    an identity at inference (drops the ``message`` attr)
=================  ================  ===================================================

Does NOT fire on any other op.
"""

from __future__ import annotations

from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph

__all__ = ["ALIASES", "LowerAliases"]

ALIASES = {"Inv": "Reciprocal", "BiasAddV1": "BiasAdd", "Rint": "Round",
           "PreventGradient": "Identity"}


class LowerAliases(Pass):
    """Rename alias ops to the op TF.js knows."""

    name = "lower_aliases"

    def run(self, graph: Graph) -> bool:
        """Rename every alias op; returns True iff any was renamed."""
        nodes = graph.nodes_by_op(*ALIASES)
        for n in nodes:
            graph.set_op(n, ALIASES[graph.op(n)])
            graph.attrs(n).pop("message", None)
        return bool(nodes)
