"""Strip debug ops (only when ``strip_debug_ops``, the official converter's default).

Before => after:

* ``Assert``, ``PrintV2`` (no data outputs): deleted, with every ``^Assert`` control dependency.
* ``CheckNumerics(x)``, ``EnsureShape(x)`` => ``Identity(x)`` (same node name;
  ``remove_identity`` then bypasses it).
* ``Print(x, data...)`` => ``Identity(x)`` (``Print`` passes its first input through).

:data:`SINK_OPS` and :data:`PASS_THROUGH_OPS` are the one table of debug ops; function bodies get
the same treatment from ``function_identities``.

Algebra: at inference time these ops either return their first input unchanged or only have
side effects (a check or a log line), so dropping them preserves every output value.  For
``EnsureShape`` that holds for every input the model accepts: it only raises on a wrong shape.

Does not fire when the graph has none of these ops; ``optimize(strip_debug_ops=False)`` skips
the pass entirely.
"""

from __future__ import annotations

from tfjs_lite.optimizer._util import move_control_consumers
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph

__all__ = ["StripDebug"]

# Debug ops with no data output: deleted.
SINK_OPS = ("Assert", "PrintV2")
# Debug ops that return their first input: become Identity.
PASS_THROUGH_OPS = ("CheckNumerics", "EnsureShape", "Print")


class StripDebug(Pass):
    """Remove Assert/PrintV2, turn CheckNumerics/EnsureShape/Print into Identity."""

    name = "strip_debug"

    def run(self, graph: Graph) -> bool:
        """Strip debug ops; returns True iff any was found."""
        changed = False
        for n in graph.nodes_by_op(*SINK_OPS):
            if graph.node_consumers(n) and any(
                    r.node == n for c in graph.node_consumers(n) for r in graph.inputs_of(c)):
                continue  # a data consumer of a sink op: not the op we know, leave it
            move_control_consumers(graph, n, None)
            if not any(r.node == n for r in graph.outputs.values()):
                graph.remove(n)
                changed = True
        for n in graph.nodes_by_op(*PASS_THROUGH_OPS):
            inputs = graph.inputs_of(n)
            if not inputs:
                continue
            attrs = graph.attrs(n)
            t = attrs.get("T")
            graph.set_inputs(n, inputs[:1])
            graph.set_op(n, "Identity")
            attrs.clear()
            if t is not None:
                attrs["T"] = t
            changed = True
        return changed
