"""Common-subexpression elimination in one topological sweep.

Before => after: two nodes with the same op, the same (already canonical) data inputs, the same
control inputs and equal attrs => one node; consumers of the later one read the first.  Two
``Const`` nodes are equal when dtype, shape and bytes are equal (keyed by a SHA-1 of the bytes,
then compared exactly).  Because inputs are canonicalised earlier in the same sweep, whole
duplicated chains collapse in one run.

Algebra: pure ops are functions of their inputs and attrs.

Does NOT fire on:

* side-effecting, random or function-calling ops, graph inputs, TF1 frame ops;
* a duplicate that is a signature output: the output's node name is kept (the first node may be
  dropped instead only if it is not an output either, so nothing is merged then);
* the first-seen node is always the survivor, so results are deterministic.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tfjs_lite.optimizer._util import (
    FRAME_OPS,
    INPUT_OPS,
    attrs_key,
    has_side_effects,
    is_output_node,
    move_control_consumers,
    output_refs,
)
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph, TensorRef

__all__ = ["CommonSubexpressionElimination"]

SKIP_OPS = frozenset({"NoOp"}) | FRAME_OPS | INPUT_OPS


class CommonSubexpressionElimination(Pass):
    """Merge duplicate pure nodes and duplicate constants."""

    name = "cse"

    def run(self, graph: Graph) -> bool:
        """One sweep; returns True iff any node was merged."""
        seen: dict[Any, str] = {}
        changed = False
        for n in graph.topo_order():
            if graph.op(n) in SKIP_OPS or has_side_effects(graph, n):
                continue
            key = _key(graph, n)
            first = seen.get(key)
            if first is None:
                seen[key] = n
                continue
            if graph.op(n) == "Const" and not _same_const(graph, first, n):
                continue  # hash collision: keep both (never seen in practice)
            if is_output_node(graph, n):
                continue
            for ref in output_refs(graph, n):
                graph.replace_uses(ref, TensorRef(first, ref.port))
            move_control_consumers(graph, n, first)
            graph.remove(n)
            changed = True
        return changed


def _key(graph: Graph, n: str) -> Any:
    op = graph.op(n)
    controls = tuple(graph.control_inputs_of(n))
    if op == "Const":
        value = graph.value(n)
        assert value is not None
        digest = (hashlib.sha1(value.tobytes()).hexdigest() if value.dtype != object
                  else repr(value.tolist()))
        return ("Const", str(value.dtype), value.shape, digest, controls)
    inputs = tuple(graph.inputs_of(n))
    return (op, inputs, controls, attrs_key(graph.attrs(n)))


def _same_const(graph: Graph, a: str, b: str) -> bool:
    va, vb = graph.value(a), graph.value(b)
    assert va is not None and vb is not None
    if va.dtype != vb.dtype or va.shape != vb.shape:
        return False
    if va.dtype == object:
        return bool(va.tolist() == vb.tolist())
    return va.tobytes() == vb.tobytes()
