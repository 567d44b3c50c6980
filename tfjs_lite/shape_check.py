"""The static shape check every graph model passes before it is written.

A graph can be well formed and allocation-free here yet ask TF.js for the impossible when it runs:
a ``Tile`` by 2**31, a ``Reshape`` to ``[2**20, 2**20]`` or to a different element count, a
``MaxPool`` with a 2**40 kernel, pads of 2**40. :func:`check_static_shapes` walks the graph (and
every function body) in topological order, propagates static shapes with the rules of
:mod:`tfjs_lite.kernels.shapes` from what is certain (``Placeholder`` shapes, constants) and falls
back on the shapes the reader recorded, and refuses with one line naming the node and its op:

* window attributes out of range (``kernels.shapes.window_problem``): ModelFormatError;
* a contradiction (``ShapeContradiction``: a Reshape to another element count, a VALID window
  larger than its input, a negative pad or multiple), judged only on shapes derived from
  certain facts (recorded shapes may be stale after the optimizer): ModelFormatError;
* a tensor of more than :data:`tfjs_lite.limits.MAX_STATIC_TENSOR_ELEMENTS` elements, unknown
  dimensions (a dynamic batch) counted as 1: UnsupportedModelError.

Unknown dimensions never trip the check. Every graph pipeline calls it on the optimized graph
(``pipelines/saved_model_to_graph.convert_graph``).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.ir.graph import Graph, TensorRef
from tfjs_lite.kernels.shapes import Shape, ShapeContradiction, known_elements, output_shape, window_problem
from tfjs_lite.lazy_tensor import is_lazy
from tfjs_lite.limits import MAX_STATIC_TENSOR_ELEMENTS

__all__ = ["check_static_shapes"]

# Constant inputs read as values (shapes, multiples, paddings, axes) are at most this large.
_SMALL_VALUE = 64


def check_static_shapes(graph: Graph) -> None:
    """Refuse a graph whose static shapes or window attributes TF.js cannot run (see the module doc).

    Raises:
        ModelFormatError: window attributes out of range, or shapes that contradict their op.
        UnsupportedModelError: a tensor statically larger than ``MAX_STATIC_TENSOR_ELEMENTS``.
    """
    _check_body(graph, "")
    for name in sorted(graph.functions):
        _check_body(graph.functions[name], f"function {name!r}: ")


def _recorded(graph: Graph, ref: TensorRef) -> Optional[Shape]:
    types = graph.out_types(ref.node)
    if types is None or ref.port >= len(types) or types[ref.port].shape is None:
        return None
    shape = types[ref.port].shape
    assert shape is not None
    return tuple(None if d is None or d < 0 else int(d) for d in shape)


def _small_value(graph: Graph, ref: TensorRef) -> Optional[np.ndarray]:
    if graph.op(ref.node) != "Const" or ref.port != 0:
        return None
    value = graph.value(ref.node)
    if value is None or is_lazy(value) or value.size > _SMALL_VALUE:
        return None
    return np.asarray(value)


def _fmt(shape: Shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _check_body(graph: Graph, where: str) -> None:
    # ref -> (shape, proven, smallest): proven shapes follow from constants and declared inputs by
    # the rules alone (the others include a shape a reader recorded); ``smallest`` is the shape
    # with every unknown dimension of the inputs set to 1 (a Tile of a dynamic batch by 2**20 is
    # at least 2**20 rows), the lower bound the budget is checked on.
    known: dict[TensorRef, _Known] = {}
    for name in graph.topo_order():
        op, attrs = graph.op(name), graph.attrs(name)
        what = f"{where}node {name!r} ({op})"
        problem = window_problem(op, attrs)
        if problem:
            raise ModelFormatError(f"{what}: {problem}")
        known[TensorRef(name, 0)] = _node_shape(graph, name, op, attrs, known, what)
        for port in range(max(1, len(graph.out_types(name) or ()))):
            ref = TensorRef(name, port)
            if port:
                recorded = _recorded(graph, ref)
                known[ref] = _Known(recorded, False, _ones(recorded))
            shape, _, smallest = known[ref]
            least = max(known_elements(shape) if shape is not None else 0,
                        known_elements(smallest) if smallest is not None else 0)
            if least > MAX_STATIC_TENSOR_ELEMENTS:
                shown = shape if shape is not None and known_elements(shape) == least else smallest
                assert shown is not None
                raise UnsupportedModelError(
                    f"{what}: output {port} has the static shape {_fmt(shown)}, at least {least} elements "
                    f"(over the {MAX_STATIC_TENSOR_ELEMENTS} a TF.js tensor may hold; unknown dimensions "
                    "counted as 1)")


class _Known(NamedTuple):
    shape: Optional[Shape]
    proven: bool
    smallest: Optional[Shape]


def _ones(shape: Optional[Shape]) -> Optional[Shape]:
    return None if shape is None else tuple(1 if d is None else d for d in shape)


def _node_shape(graph: Graph, name: str, op: str, attrs: dict, known: dict[TensorRef, _Known], what: str) -> _Known:
    if op == "Const":
        value = graph.value(name)
        stored: Optional[Shape] = None if value is None else tuple(int(d) for d in value.shape)
        return _Known(stored, stored is not None, stored)
    if op == "Placeholder" and attrs.get("shape") is not None:
        declared: Shape = tuple(None if d is None or d < 0 else int(d) for d in attrs["shape"])
        return _Known(declared, True, _ones(declared))
    refs = graph.inputs_of(name)
    inputs = [known.get(ref) or _Known(_recorded(graph, ref), False, _ones(_recorded(graph, ref))) for ref in refs]
    values = [_small_value(graph, r) for r in refs]
    proven = all(k.proven for k in inputs)
    try:
        shape = output_shape(op, [k.shape for k in inputs], values, attrs)
    except ShapeContradiction as e:
        if proven:
            raise ModelFormatError(f"{what}: {e}") from None
        shape = None
    smallest = None
    if all(k.smallest is not None for k in inputs):
        try:
            smallest = output_shape(op, [k.smallest for k in inputs], values, attrs)
        except ShapeContradiction:
            smallest = None  # e.g. a Reshape of [?, 6] to [2, 6] contradicts batch 1 only
    if shape is None:
        recorded = _recorded(graph, TensorRef(name, 0))
        return _Known(recorded, False, smallest or _ones(recorded))
    return _Known(shape, proven, smallest or _ones(shape))
