"""Which TF ops TF.js 4.22 can execute, and a check that reports every unsupported one at once.

The list (``tfjs_lite/data/tfjs_ops.json``) is the ``tfOpName`` of every entry of tfjs 4.22's
``op_list/*.json``: 248 names. Like the official ``validate()``, ``Assert``/``CheckNumerics``/``Print``
also pass when debug ops are stripped, and nodes of the main graph and of every library function
are checked (``_Arg`` nodes are function parameters, not ops).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from tfjs_lite.errors import UnsupportedOpError
from tfjs_lite.ir.graph import Graph

__all__ = ["find_unsupported", "supported_ops", "validate"]

_MAX_NODES_LISTED = 3


@functools.lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    text = resources.files("tfjs_lite").joinpath("data").joinpath("tfjs_ops.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def supported_ops(*, strip_debug_ops: bool = True) -> frozenset[str]:
    """The op names a TF.js 4.22 graph model may contain."""
    names = {name for names in _data()["categories"].values() for name in names}
    if strip_debug_ops:
        names.update(_data()["debug_ops"])
    return frozenset(names)


def find_unsupported(graph: Graph, *, strip_debug_ops: bool = True) -> dict[str, list[str]]:
    """``{op: [node, ...]}`` for every unsupported op (function-body nodes as ``fn/node``), sorted."""
    allowed = supported_ops(strip_debug_ops=strip_debug_ops) | {"_Arg"}
    found: dict[str, list[str]] = {}
    for node in graph.nodes():
        if graph.op(node) not in allowed:
            found.setdefault(graph.op(node), []).append(node)
    for fname in sorted(graph.functions):
        body = graph.functions[fname]
        for node in body.nodes():
            if body.op(node) not in allowed:
                found.setdefault(body.op(node), []).append(f"{fname}/{node}")
    for init in [graph.initializer]:
        if isinstance(init, Graph):
            for node in init.nodes():
                if init.op(node) not in allowed:
                    found.setdefault(init.op(node), []).append(node)
    return {op: sorted(nodes) for op, nodes in sorted(found.items())}


def validate(graph: Graph, *, strip_debug_ops: bool = True) -> None:
    """Raise one :class:`UnsupportedOpError` naming every unsupported op and the nodes using it.

    Raises:
        UnsupportedOpError: If any node's op is not in the TF.js 4.22 op list.
    """
    found = find_unsupported(graph, strip_debug_ops=strip_debug_ops)
    if not found:
        return
    parts = []
    for op, nodes in found.items():
        shown = ", ".join(nodes[:_MAX_NODES_LISTED])
        more = f" and {len(nodes) - _MAX_NODES_LISTED} more" if len(nodes) > _MAX_NODES_LISTED else ""
        parts.append(f"{op} (used by {shown}{more})")
    raise UnsupportedOpError(
        f"Unsupported Ops in the model: {'; '.join(parts)}. TF.js 4.22 cannot run these ops; "
        "pass --skip_op_check to convert anyway")
