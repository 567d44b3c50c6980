"""Common-subexpression elimination in one topological sweep.

Before => after: two nodes with the same op, the same (already canonical) data inputs, the same
control inputs and equal attrs => one node; consumers of the later one read the first.  Two
``Const`` nodes are equal when dtype, shape and bytes are equal (bucketed by a sample of the
bytes, then compared exactly; file-backed constants are left alone).  Because inputs are
canonicalised earlier in the same sweep, whole duplicated chains collapse in one run.

Algebra: pure ops are functions of their inputs and attrs.

Does NOT fire on:

* side-effecting, random or function-calling ops, graph inputs, TF1 frame ops;
* a duplicate that is a signature output: the output's node name is kept (the first node may be
  dropped instead only if it is not an output either, so nothing is merged then);
* the first-seen node is always the survivor, so results are deterministic.
"""

from __future__ import annotations

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
from tfjs_lite.lazy_tensor import is_lazy

__all__ = ["CommonSubexpressionElimination"]

SKIP_OPS = frozenset({"NoOp"}) | FRAME_OPS | INPUT_OPS


class CommonSubexpressionElimination(Pass):
    """Merge duplicate pure nodes and duplicate constants."""

    name = "cse"

    def run(self, graph: Graph) -> bool:
        """One sweep; returns True iff any node was merged."""
        seen: dict[Any, str] = {}
        # Constants: bucketed by (dtype, shape, controls), then by a cheap sample of their bytes,
        # and only then compared byte for byte -- hashing every weight of a big model each sweep
        # cost more than the rest of the optimizer.  File-backed (lazy) constants are never read.
        consts: dict[Any, dict[bytes, list[str]]] = {}
        changed = False
        for n in graph.topo_order():
            if graph.op(n) in SKIP_OPS or has_side_effects(graph, n):
                continue
            if graph.op(n) == "Const":
                first = _find_const(graph, n, consts)
                if first is None:
                    continue
            else:
                key = _key(graph, n)
                first = seen.get(key)
                if first is None:
                    seen[key] = n
                    continue
            if is_output_node(graph, n):
                continue
            for ref in output_refs(graph, n):
                graph.replace_uses(ref, TensorRef(first, ref.port))
            move_control_consumers(graph, n, first)
            graph.remove(n)
            changed = True
        return changed


def _find_const(graph: Graph, n: str, consts: dict[Any, dict[bytes, list[str]]]) -> str | None:
    """An earlier equal Const for ``n``, else None (and ``n`` is remembered as a candidate)."""
    value = graph.value(n)
    assert value is not None
    if is_lazy(value):
        return None
    bucket = consts.setdefault((str(value.dtype), value.shape, tuple(graph.control_inputs_of(n))), {})
    sample = _sample(value)
    candidates = bucket.setdefault(sample, [])
    for first in candidates:
        if _same_const(graph, first, n):
            return first
    candidates.append(n)
    return None


def _sample(value: Any) -> bytes:
    """Up to 64 evenly spaced elements: equal constants have equal samples."""
    flat = value.reshape(-1)
    if value.dtype == object:
        return repr(flat[:: max(1, flat.size // 64)].tolist()).encode()
    return flat[:: max(1, flat.size // 64)].tobytes()


def _key(graph: Graph, n: str) -> Any:
    op = graph.op(n)
    controls = tuple(graph.control_inputs_of(n))
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
