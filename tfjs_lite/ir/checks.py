"""``Graph.check()``: the IR invariants (docs/ir.md §2), each failure naming the offending node.

This module does not import :mod:`tfjs_lite.ir.graph` (which imports it): it sees a graph through
:class:`CheckedGraph`, the read-only part of ``Graph`` the checks need.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

import numpy as np

from tfjs_lite.errors import InvariantError
from tfjs_lite.ir.attrs import FuncRef
from tfjs_lite.ir.tensor import TensorRef, TensorType

__all__ = ["CheckedGraph", "check_graph", "validate_input_graph"]


def validate_input_graph(graph: CheckedGraph) -> None:
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


class CheckedGraph(Protocol):
    """What :func:`check_graph` reads of a ``Graph``."""

    inputs: dict[str, TensorRef]
    outputs: dict[str, TensorRef]

    @property
    def functions(self) -> Mapping[str, CheckedGraph]: ...
    def nodes(self) -> list[str]: ...
    def op(self, name: str) -> str: ...
    def value(self, name: str) -> np.ndarray | None: ...
    def out_types(self, name: str) -> tuple[TensorType, ...] | None: ...
    def iter_attr_funcs(self, name: str) -> Iterator[FuncRef]: ...
    def check(self, *, library: Any = None) -> None: ...
    def __contains__(self, name: object) -> bool: ...
    def _edges(self) -> Iterator[tuple[str, str, int | str, dict[str, Any]]]: ...
    def _is_dag(self) -> bool: ...
    def _data_slots(self, name: str) -> list[int]: ...
    def _back_items(self) -> dict[str, dict[int | str, TensorRef]]: ...


def check_graph(graph: CheckedGraph, *, library: Mapping[str, Any]) -> None:
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


def _check_edges(graph: CheckedGraph) -> None:
    for u, v, key, data in graph._edges():
        if isinstance(key, str):
            if not data["control"] or key != "^" + u:
                raise InvariantError(f"node {v!r}: malformed control edge {key!r} from {u!r}")
        elif data["control"] or not isinstance(key, int):
            raise InvariantError(f"node {v!r}: malformed data edge key {key!r} from {u!r}")
        else:
            _check_ref(graph, TensorRef(u, data["src_port"]), f"input {key} of node {v!r}")


def _check_back_edges(graph: CheckedGraph) -> None:
    for name, edges in graph._back_items().items():
        for key, ref in edges.items():
            if ref.node not in graph:
                raise InvariantError(f"back edge {key!r} of node {name!r} reads missing {ref.node!r}")


def _check_node(graph: CheckedGraph, name: str, library: Mapping[str, Any]) -> None:
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


def _check_ref(graph: CheckedGraph, ref: TensorRef, what: str) -> None:
    if ref.node not in graph:
        raise InvariantError(f"{what} reads missing node {ref.node!r}")
    types = graph.out_types(ref.node)
    if ref.port < 0 or (types is not None and ref.port >= len(types)):
        raise InvariantError(f"{what} reads port {ref.port} of {ref.node!r}, which has "
                             f"{'?' if types is None else len(types)} outputs")
