"""Merge, cancel and fold transposes.

Before => after:

* ``y = Transpose(Transpose(x, p1), p2)`` => ``Transpose(x, p1∘p2)`` (``[p1[j] for j in p2]``);
  when that is the identity => ``x`` (an ``Identity`` of ``x`` when ``y`` is a signature output,
  so the output keeps its name).  The inner transpose goes when nothing else reads it.
* ``y = Transpose(x, identity)`` => ``x`` (likewise).
* ``y = Transpose(Const c, p)`` => ``Const(c.transpose(p))`` named ``y``.
* ``y = Transpose(x, p)`` where ``p`` only moves dimensions proven to be 1 (the others keep their
  order, so the element order is unchanged) and every consumer is a ``Reshape`` of ``y`` => they
  read ``x``.  This is what removes ``Transpose([N,1,1,C] -> [N,C,1,1])`` before a Flatten.
  (``sink_transposes`` also turns such a transpose into a ``Reshape`` once it cannot move: not
  here, where it could still cancel with another transpose.)

Algebra: transposes compose as permutations; a reshape depends only on element order; moving
size-1 dimensions does not change element order.

Does NOT fire on: non-Const or invalid perms, file-backed (lazy) constants, nodes with control
edges, an order-preserving transpose with a consumer that is not a Reshape.
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._layout import (
    compose,
    has_control_edges,
    is_identity,
    known_ones,
    transpose_perm,
)
from tfjs_lite.optimizer._util import (
    const_value,
    is_output_node,
    remove_if_dead,
    replace_with_const,
    static_shape,
)
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph, TensorRef
from tfjs_lite.lazy_tensor import is_lazy

__all__ = ["MergeTransposes", "merge_transpose"]

# Larger constants are left to the runtime: folding would duplicate a big weight.
MAX_FOLD_ELEMENTS = 1 << 22


class MergeTransposes(Pass):
    """Compose consecutive transposes, drop identities, fold constant transposes."""

    name = "merge_transposes"

    def run(self, graph: Graph) -> bool:
        """Rewrite in place; returns True iff anything changed."""
        changed = False
        for n in graph.topo_order():
            if n in graph and graph.op(n) == "Transpose":
                changed |= merge_transpose(graph, n)
        return changed


def merge_transpose(graph: Graph, n: str, *, to_reshape: bool = False) -> bool:
    """Apply the first rule that fits Transpose node ``n``; True iff the graph changed.

    ``to_reshape``: also turn an order-preserving transpose of a fully known shape into a
    ``Reshape`` (for transposes that can no longer move).
    """
    perm = transpose_perm(graph, n)
    if perm is None or has_control_edges(graph, n):
        return False
    x, perm_ref = graph.inputs_of(n)
    if graph.op(x.node) == "Transpose" and not has_control_edges(graph, x.node):
        inner = transpose_perm(graph, x.node)
        if inner is not None and len(inner) == len(perm):
            source = graph.inputs_of(x.node)[0]
            combined = compose(inner, perm)
            if is_identity(combined):
                _forward(graph, n, source)
            else:
                graph.set_input(n, 0, source)
                _set_perm(graph, n, perm_ref, combined)
            _remove_chain(graph, x.node)
            return True
    if is_identity(perm):
        _forward(graph, n, x)
        return True
    value = const_value(graph, x)
    if value is not None and not is_lazy(value) and value.ndim == len(perm) \
            and value.size <= MAX_FOLD_ELEMENTS:
        replace_with_const(graph, n, np.ascontiguousarray(value.transpose(perm)))
        _remove_chain(graph, x.node)
        remove_if_dead(graph, perm_ref.node)
        return True
    return _order_preserving(graph, n, x, perm, to_reshape)


def _forward(graph: Graph, n: str, source: TensorRef) -> None:
    """Make ``n``'s readers read ``source``; an output node becomes ``Identity(source)``."""
    perm_node = graph.inputs_of(n)[1].node
    if is_output_node(graph, n):
        graph.set_inputs(n, [source])
        graph.set_op(n, "Identity")
        attrs = graph.attrs(n)
        attrs.pop("Tperm", None)
    else:
        graph.replace_uses(TensorRef(n, 0), source)
        graph.remove(n)
    remove_if_dead(graph, perm_node)


def _set_perm(graph: Graph, n: str, old_ref: TensorRef, perm: tuple[int, ...]) -> None:
    new_ref = graph.add_const(np.asarray(perm, np.int32), name=graph.unique_name(f"{n}/perm"))
    graph.set_input(n, 1, new_ref)
    remove_if_dead(graph, old_ref.node)


def _remove_chain(graph: Graph, node: str) -> None:
    """Remove a now-unread transpose (or Const) and its perm Const."""
    inputs = graph.inputs_of(node)
    if remove_if_dead(graph, node):
        for ref in inputs[1:]:
            remove_if_dead(graph, ref.node)


def _order_preserving(graph: Graph, n: str, x: TensorRef, perm: tuple[int, ...],
                      to_reshape: bool) -> bool:
    ones = known_ones(graph, x)
    if ones is None or len(ones) != len(perm):
        return False
    moved = [d for d in perm if not ones[d]]
    if moved != sorted(moved):
        return False
    consumers = graph.consumers(TensorRef(n, 0))
    if consumers and not is_output_node(graph, n) and all(
            graph.op(dst) == "Reshape" and slot == 0 for dst, slot in consumers):
        graph.replace_uses(TensorRef(n, 0), x)
        _remove_chain(graph, n)
        return True
    shape = static_shape(graph, x)
    if not to_reshape or shape is None or None in shape:
        return False
    perm_node = graph.inputs_of(n)[1].node
    target = graph.add_const(np.asarray([shape[d] for d in perm], np.int32),
                             name=graph.unique_name(f"{n}/shape"))
    graph.set_inputs(n, [x, target])
    graph.set_op(n, "Reshape")
    attrs = graph.attrs(n)
    attrs.pop("Tperm", None)
    attrs["Tshape"] = DType("DT_INT32")
    remove_if_dead(graph, perm_node)
    return True
