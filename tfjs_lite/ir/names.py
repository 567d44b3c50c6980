"""Tensor-name parsing, done once at the IR boundary, and unique-name generation.

TF spells a tensor reference in four ways:

* ``"a"``            – port 0 of node ``a``;
* ``"a:1"``          – port 1 of node ``a``;
* ``"^a"``           – a control dependency on node ``a``;
* ``"fn:out_arg:0"`` – inside a FunctionDef body: element 0 of output arg ``out_arg`` of node
  ``fn``.  The reader resolves ``out_arg`` to a flat port; we only split it here.

Passes never parse names with regexes: readers call :func:`parse_input` and the IR stores
:class:`~tfjs_lite.ir.graph.TensorRef` values from then on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["ParsedInput", "UniqueNamer", "format_input", "parse_input"]


class ParsedInput(NamedTuple):
    """One parsed NodeDef input string.

    Attributes:
        node: Producer node name.
        port: Output index (``0`` for control inputs; within ``out_arg`` when that is set).
        control: True for ``"^node"``.
        out_arg: Output-arg name for the FunctionDef form ``"node:out_arg:k"``, else None.
    """

    node: str
    port: int
    control: bool
    out_arg: str | None


def parse_input(text: str) -> ParsedInput:
    """Parse a NodeDef input string.

    Args:
        text: ``"a"``, ``"a:1"``, ``"^a"`` or ``"fn:out_arg:0"``.

    Returns:
        The parsed reference.

    Raises:
        ValueError: If the string is empty or a port is not a non-negative integer.
    """
    if not text:
        raise ValueError("empty tensor name")
    if text.startswith("^"):
        return ParsedInput(text[1:], 0, True, None)
    parts = text.split(":")
    if len(parts) == 1:
        return ParsedInput(parts[0], 0, False, None)
    if len(parts) == 2:
        return ParsedInput(parts[0], _port(parts[1], text), False, None)
    if len(parts) == 3:
        return ParsedInput(parts[0], _port(parts[2], text), False, parts[1])
    raise ValueError(f"malformed tensor name {text!r}")


def _port(token: str, text: str) -> int:
    if not token.isdigit():
        raise ValueError(f"malformed port in tensor name {text!r}")
    return int(token)


def format_input(node: str, port: int = 0, *, control: bool = False) -> str:
    """Inverse of :func:`parse_input` for the GraphDef forms (``a``, ``a:1``, ``^a``)."""
    if control:
        return "^" + node
    return node if port == 0 else f"{node}:{port}"


class UniqueNamer:
    """Hands out node names that do not collide with existing ones.

    ``fresh("conv/BiasAdd")`` returns the name itself when unused, else ``conv/BiasAdd_1``,
    ``conv/BiasAdd_2``, ... in order, so generated names are deterministic.
    """

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self._taken: set[str] = set(taken)

    def reserve(self, name: str) -> None:
        """Mark ``name`` as used."""
        self._taken.add(name)

    def fresh(self, base: str) -> str:
        """Return an unused name derived from ``base`` and reserve it."""
        name = base
        counter = 0
        while name in self._taken:
            counter += 1
            name = f"{base}_{counter}"
        self._taken.add(name)
        return name
