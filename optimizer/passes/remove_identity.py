"""Bypass identity-like ops and drop useless control dependencies.

Before => after:

* ``y = Identity(x)`` (also ``Snapshot``, ``StopGradient``, ``PreventGradient``) => consumers of
  ``y`` read ``x``; likewise each port of ``IdentityN``.
* ``NoOp`` => deleted; nodes that depended on it depend on its (useful) control inputs instead.
* ``^c`` control dependencies where nothing in ``c``'s ancestry has side effects => dropped
  (they only order pure computations; TF.js would turn them into extra inputs).

Algebra: ``Identity(x) == x``; at inference time ``StopGradient``/``PreventGradient`` are
identities too.

Does NOT fire on:

* a node whose output is a signature output: its name is the output's name in ``model.json``
  (``Identity``, ``Identity_1`` in Keras exports), so it is kept; chains before it still collapse;
* graphs with TF1 control flow (Switch/Merge/Enter/...): identities with control edges or fed by
  a frame op are kept (``cond/switch_t`` pivots anchor branch constants), and no control
  dependency is dropped;
* control dependencies on side-effecting ops (table initializers, asserts, variable assigns):
  bypassing an identity moves its useful control inputs onto its consumers.
"""

from __future__ import annotations

from tfjs_lite.optimizer._util import (
    FRAME_OPS,
    IDENTITY_OPS,
    effect_taint,
    has_frames,
    is_output_node,
)
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph

__all__ = ["RemoveIdentity"]


class RemoveIdentity(Pass):
    """Bypass Identity/IdentityN/Snapshot/StopGradient, remove NoOp and useless control deps."""

    name = "remove_identity"

    def run(self, graph: Graph) -> bool:
        """Rewrite in place; returns True iff anything changed."""
        frames = has_frames(graph)
        taint = effect_taint(graph)
        changed = False
        for n in graph.topo_order():
            op = graph.op(n)
            if op in IDENTITY_OPS or op == "IdentityN":
                changed |= self._bypass(graph, n, frames, taint)
            elif op == "NoOp" and not frames and not _pinned(graph, n):
                self._move_controls(graph, n, graph.control_inputs_of(n), taint)
                if not graph.node_consumers(n):
                    graph.remove(n)
                    changed = True
        if not frames:
            changed |= _drop_useless_controls(graph, taint)
        return changed

    @staticmethod
    def _bypass(graph: Graph, n: str, frames: bool, taint: dict[str, bool]) -> bool:
        inputs = graph.inputs_of(n)
        if not inputs or is_output_node(graph, n):
            return False
        controls = graph.control_inputs_of(n)
        if frames and (controls or graph.control_consumers(n)
                       or any(graph.op(r.node) in FRAME_OPS for r in inputs)):
            return False
        if graph.op(n) != "IdentityN":
            inputs = inputs[:1]
        for port, src in enumerate(inputs):
            for dst, slot in graph.consumers(type(src)(n, port)):
                graph.set_input(dst, slot, src)
                for c in controls:
                    if taint.get(c, True) and c != dst:
                        graph.add_control_input(dst, c)
        # ^n meant "after n's inputs and control inputs"; keep only the parts that matter.
        useful = [c for c in controls if taint.get(c, True)]
        useful += [r.node for r in inputs if taint.get(r.node, True)]
        RemoveIdentity._move_controls(graph, n, useful, taint)
        graph.remove(n)
        return True

    @staticmethod
    def _move_controls(graph: Graph, n: str, sources: list[str], taint: dict[str, bool]) -> None:
        for dst in graph.control_consumers(n):
            graph.remove_control_input(dst, n)
            for c in sources:
                if taint.get(c, True) and c != dst:
                    graph.add_control_input(dst, c)


def _pinned(graph: Graph, n: str) -> bool:
    return is_output_node(graph, n) or n in graph.keep_nodes


def _drop_useless_controls(graph: Graph, taint: dict[str, bool]) -> bool:
    changed = False
    for n in graph.nodes():
        for c in graph.control_inputs_of(n):
            if not taint.get(c, True):
                graph.remove_control_input(n, c)
                changed = True
    return changed
