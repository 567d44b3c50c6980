"""Remove arithmetic that does nothing.

Before => after (``y`` bypassed: its consumers read ``x``):

* ``y = Mul(x, 1)``, ``Mul(1, x)``, ``Add|AddV2(x, 0)``, ``Add|AddV2(0, x)``, ``Sub(x, 0)``,
  ``RealDiv|Div(x, 1)``, ``BiasAdd(x, 0)`` => ``x``
* ``y = Reshape(Reshape(x, s1), s2)`` => ``Reshape(x, s2)``
* ``y = Reshape(x, s)`` with ``x``'s static shape fully known and equal to ``s`` => ``x``

(Transposes are ``merge_transposes``'s.)

Algebra: identities of the neutral elements; a reshape
only depends on its input's element order, which a reshape never changes.

Does NOT fire when the result could change shape or dtype: the Const is not all neutral
(exactly 1 / 0; ``-0.0`` counts as 0 for Add/Sub since ``x + -0.0 == x``), it has more than one
element and ``x``'s static shape is unknown or broadcasting would enlarge it, or dtypes differ.
Also not when ``y`` is a graph output (its name is the output's name).
"""

from __future__ import annotations

import numpy as np
from tfjs_lite.optimizer._util import const_value, is_output_node, static_shape
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import Graph, TensorRef
from tfjs_lite.lazy_tensor import is_lazy

__all__ = ["SimplifyArithmetic"]

# op -> (neutral value, slots where the neutral Const may sit)
NEUTRAL = {
    "Mul": (1, (0, 1)),
    "Add": (0, (0, 1)),
    "AddV2": (0, (0, 1)),
    "Sub": (0, (1,)),
    "RealDiv": (1, (1,)),
    "Div": (1, (1,)),
    "BiasAdd": (0, (1,)),
}


class SimplifyArithmetic(Pass):
    """Bypass neutral arithmetic and redundant reshapes."""

    name = "simplify_arithmetic"

    def run(self, graph: Graph) -> bool:
        """Rewrite in place; returns True iff anything changed."""
        changed = False
        for n in graph.topo_order():
            if n not in graph or is_output_node(graph, n):
                continue
            op = graph.op(n)
            if op in NEUTRAL:
                changed |= _neutral(graph, n)
            elif op == "Reshape":
                changed |= _reshape(graph, n)
        return changed


def _bypass(graph: Graph, n: str, x: TensorRef) -> bool:
    graph.replace_uses(TensorRef(n, 0), x)
    for dst in graph.control_consumers(n):
        graph.remove_control_input(dst, n)
        graph.add_control_input(dst, x.node)
    graph.remove(n)
    return True


def _neutral(graph: Graph, n: str) -> bool:
    op = graph.op(n)
    neutral, slots = NEUTRAL[op]
    inputs = graph.inputs_of(n)
    if len(inputs) != 2:
        return False
    for slot in slots:
        c = const_value(graph, inputs[slot])
        x = inputs[1 - slot]
        if c is None or is_lazy(c) or c.dtype.kind not in "fiu" or c.size == 0 or not np.all(c == neutral):
            continue
        x_dtype = graph.attrs(n).get("T")
        if x_dtype is not None and graph.attrs(inputs[slot].node).get("dtype") != x_dtype:
            continue
        if c.ndim == 0 or (op == "BiasAdd" and c.ndim == 1):
            return _bypass(graph, n, x)
        shape = static_shape(graph, x)
        if shape is None or len(shape) < c.ndim:
            continue
        tail = shape[len(shape) - c.ndim:]
        if all(cd == 1 or cd == xd for cd, xd in zip(c.shape, tail)):
            return _bypass(graph, n, x)
    return False


def _reshape(graph: Graph, n: str) -> bool:
    x, shape_ref = graph.inputs_of(n)
    if graph.op(x.node) == "Reshape" and x.port == 0:
        graph.set_input(n, 0, graph.inputs_of(x.node)[0])
        return True
    target = const_value(graph, shape_ref)
    shape = static_shape(graph, x)
    if target is None or shape is None or any(d is None for d in shape):
        return False
    if target.ndim == 1 and tuple(int(v) for v in target) == tuple(shape):
        return _bypass(graph, n, x)
    return False
