"""Which nodes a graph needs, and the one dead-node sweep (used by the readers and the prune pass).

A node is *live* when it is an ancestor (through data, control or loop back edges) of a root.
The roots are the graph's interface, which a prune must never change:

* the signature outputs;
* the signature inputs (a model keeps every input its signature declares, used or not, so a
  caller feeding all of them still works), and in a function body its ``_Arg`` parameters;
* in a function body, the nodes named in ``signature.control_outputs`` (TF runs them for their
  side effects even though nothing reads them);
* :attr:`Graph.keep_nodes` (e.g. table initializers a reader keeps for a later step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tfjs_lite.ir.graph import Graph

__all__ = ["live_nodes", "remove_dead"]

_LOOP_BACK_OPS = frozenset({"NextIteration", "RefNextIteration"})


def live_nodes(graph: Graph) -> set[str]:
    """The roots listed in the module docstring and all their ancestors."""
    roots = [r.node for r in graph.outputs.values()]
    roots += [r.node for r in graph.inputs.values()]
    if graph.signature is not None:
        roots += graph.nodes_by_op("_Arg")
        roots += [n for n in graph.signature.control_outputs.values() if n in graph]
    roots += [n for n in sorted(graph.keep_nodes) if n in graph]
    return graph.ancestors(roots)


def remove_dead(graph: Graph) -> int:
    """Delete every node that is not live; returns how many were deleted.

    Dead ``NextIteration`` nodes go first (their inputs are loop back edges, outside the DAG), then
    the rest consumers before producers, so no deletion ever finds a remaining reader.
    """
    live = live_nodes(graph)
    dead = [n for n in graph.nodes() if n not in live]
    if not dead:
        return 0
    for n in dead:
        if graph.op(n) in _LOOP_BACK_OPS:
            graph.remove(n)
    dead_set = set(dead)
    for n in reversed(graph.topo_order()):
        if n in dead_set and n in graph:
            graph.remove(n)
    return len(dead)
