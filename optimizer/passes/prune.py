"""Dead-node pruning: keep only what the graph's interface needs.

Before => after: every node that is not an ancestor (through data *or* control edges, loop back
edges included) of a root is deleted.  The roots and the sweep are the IR's
(:func:`tfjs_lite.ir.liveness.live_nodes`, shared with the readers): signature outputs, signature
inputs (the model's interface must not change) and :attr:`Graph.keep_nodes`, each with their
ancestors.

Does not fire on a graph without signature outputs (a library fragment: nothing to anchor on).
Function bodies in ``graph.functions`` are pruned by ``function_identities``.
"""

from __future__ import annotations

from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph, remove_dead

__all__ = ["Prune"]


class Prune(Pass):
    """Delete nodes no signature output depends on."""

    name = "prune"

    def run(self, graph: Graph) -> bool:
        """Delete dead nodes; returns True iff any was deleted."""
        if not graph.outputs:
            return False
        return remove_dead(graph) > 0
