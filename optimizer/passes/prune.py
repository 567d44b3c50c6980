"""Dead-node pruning: keep only what the signature outputs need.

Before => after: every node that is not an ancestor (through data *or* control edges, loop back
edges included) of a signature output is deleted.

Always kept, even when no output reads them: signature inputs (the model's interface must not
change) and the nodes named in ``graph.meta["keep_nodes"]`` (e.g. hash-table initializers that a
reader moves to an initializer signature), together with their ancestors.

Does not fire on a graph without signature outputs (a library fragment: nothing to anchor on).
Function bodies in ``graph.functions`` are not touched.
"""

from __future__ import annotations

from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph

__all__ = ["Prune", "live_nodes"]

LOOP_BACK_OPS = frozenset({"NextIteration", "RefNextIteration"})


def live_nodes(graph: Graph) -> set[str]:
    """Ancestors of the signature outputs, signature inputs and ``meta["keep_nodes"]``."""
    roots = [r.node for r in graph.outputs.values()]
    roots += [r.node for r in graph.inputs.values()]
    roots += [n for n in graph.meta.get("keep_nodes", ()) if n in graph]
    return graph.ancestors(roots)


class Prune(Pass):
    """Delete nodes no signature output depends on."""

    name = "prune"

    def run(self, graph: Graph) -> bool:
        """Delete dead nodes; returns True iff any was deleted."""
        if not graph.outputs:
            return False
        live = live_nodes(graph)
        dead = [n for n in graph.nodes() if n not in live]
        if not dead:
            return False
        dead_set = set(dead)
        # Loop back edges are outside the DAG, so delete dead NextIterations first; then consumers
        # before producers (reverse topological order).
        for n in dead:
            if graph.op(n) in LOOP_BACK_OPS:
                graph.remove(n)
        for n in reversed(graph.topo_order()):
            if n in dead_set and n in graph:
                graph.remove(n)
        return True
