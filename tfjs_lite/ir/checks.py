"""``Graph.check()``: the IR invariants, each failure naming the offending node."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tfjs_lite.errors import InvariantError

if TYPE_CHECKING:
    from tfjs_lite.ir.graph import Graph, TensorRef

__all__ = ["check_graph", "validate_input_graph"]


def validate_input_graph(graph: Graph) -> None:
    """The IR invariants, checked on a graph just read from a model (every edge reads an existing
    output port of an existing node, no cycle outside NextIteration back edges, signature inputs
    and outputs exist, called functions exist); a broken one is the input's fault, so the error is
    a ModelFormatError. Pipelines call it before optimizing; a graph that breaks an invariant
    *after* the optimizer is a bug (``Graph.check``, InvariantError), and is never written."""
    from tfjs_lite.errors import ModelFormatError

    try:
        check_graph(graph, library=graph.functions)
    except InvariantError as e:
        raise ModelFormatError(f"invalid graph: {e}") from None


def check_graph(graph: Graph, *, library: dict[str, Graph]) -> None:
    """Raise InvariantError on the first broken invariant (see ``Graph.check``)."""
    _check_edges(graph)
    _check_back_edges(graph)
    if not graph._is_dag():
        raise InvariantError("graph has a cycle outside NextIteration back edges")
    for name in graph.nodes():
        _check_node(graph, name, library)
    for kind, table in (("input", graph.inputs), ("output", graph.outputs)):
        for key, ref in table.items():
            _check_ref(graph, ref, f"signature {kind} {key!r}")
    for fname, body in graph.functions.items():
        try:
            body.check(library=library)
        except InvariantError as e:
            raise InvariantError(f"in function {fname!r}: {e}") from e


def _check_edges(graph: Graph) -> None:
    for u, v, key, data in graph._edges():
        if isinstance(key, str):
            if not data["control"] or key != "^" + u:
                raise InvariantError(f"node {v!r}: malformed control edge {key!r} from {u!r}")
        elif data["control"] or not isinstance(key, int):
            raise InvariantError(f"node {v!r}: malformed data edge key {key!r} from {u!r}")
        else:
            _check_ref(graph, _ref(u, data["src_port"]), f"input {key} of node {v!r}")


def _check_back_edges(graph: Graph) -> None:
    for name, edges in graph._back_items().items():
        for key, ref in edges.items():
            if ref.node not in graph:
                raise InvariantError(f"back edge {key!r} of node {name!r} reads missing {ref.node!r}")


def _check_node(graph: Graph, name: str, library: dict[str, Graph]) -> None:
    slots = graph._data_slots(name)
    if slots != list(range(len(slots))):
        raise InvariantError(f"node {name!r} ({graph.op(name)}): data slots {slots} are not 0..n-1")
    if graph.op(name) == "Const":
        value = graph.value(name)
        if value is None:
            raise InvariantError(f"Const node {name!r} has no value")
        if isinstance(value, np.ndarray) and value.flags.writeable:
            raise InvariantError(f"Const node {name!r} has a writeable value")
        if slots:
            raise InvariantError(f"Const node {name!r} has data inputs")
    for func in graph.iter_attr_funcs(name):
        if func.name not in library:
            raise InvariantError(f"node {name!r} ({graph.op(name)}) calls unknown function {func.name!r}")


def _check_ref(graph: Graph, ref: TensorRef, what: str) -> None:
    if ref.node not in graph:
        raise InvariantError(f"{what} reads missing node {ref.node!r}")
    types = graph.out_types(ref.node)
    if ref.port < 0 or (types is not None and ref.port >= len(types)):
        raise InvariantError(f"{what} reads port {ref.port} of {ref.node!r}, which has "
                             f"{'?' if types is None else len(types)} outputs")


def _ref(node: str, port: int) -> TensorRef:
    from tfjs_lite.ir.graph import TensorRef

    return TensorRef(node, port)
