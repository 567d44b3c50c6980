"""Reference numpy kernels for TF ops, keyed by op type.

A kernel is ``fn(inputs, attrs, ctx) -> outputs``: ``inputs`` are the node's data inputs in slot
order, ``attrs`` its attr dict (plain Python values, see :mod:`tfjs_lite.ir.attrs`; missing attrs
take TF's defaults inside each kernel) and ``ctx`` a :class:`NodeContext` giving the node's name,
its ``Const`` value and a way to call function bodies (for ``If``/``While``/``PartitionedCall``).
Kernels never mutate their inputs and return one array per output port.

Semantics follow TF (float32 in, float32 out; TF's integer-division and rounding rules).  Where
precision is cheap, transcendental functions and contractions are evaluated in float64 and rounded
once, so the kernels are at least as accurate as TF's own; tests compare at rtol <= 1e-5.

The registry is the one place op semantics live: the executor and constant folding both use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfjs_lite.errors import InternalError, UnsupportedOpError

__all__ = ["KERNELS", "Kernel", "KernelError", "MissingKernelError", "NodeContext", "kernel"]


def _no_functions(name: str, args: Sequence[np.ndarray]) -> list[np.ndarray]:
    raise InternalError(f"function {name!r} called outside an executor")


@dataclass(frozen=True)
class NodeContext:
    """What a kernel may know about its node beyond inputs and attrs.

    Attributes:
        name: Node name (for error messages).
        op: Op type.
        value: The ``Const`` value, else None.
        call: ``call(function_name, args) -> outputs`` runs a function body of the library.
    """

    name: str = "<anonymous>"
    op: str = ""
    value: np.ndarray | None = None
    call: Callable[[str, Sequence[np.ndarray]], list[np.ndarray]] = field(default=_no_functions)


Kernel = Callable[[list[np.ndarray], dict[str, Any], NodeContext], list[np.ndarray]]

KERNELS: dict[str, Kernel] = {}


class MissingKernelError(UnsupportedOpError):
    """The executor has no numpy kernel for an op, so the graph cannot be run locally."""


class KernelError(InternalError):
    """A kernel raised: either a bug in tfjs-lite or inputs TF itself would reject."""


def kernel(*ops: str) -> Callable[[Kernel], Kernel]:
    """Register the decorated function as the kernel of every op in ``ops``.

    Raises:
        InternalError: If an op is registered twice (a silent override would hide a bug).
    """

    def register(fn: Kernel) -> Kernel:
        for op in ops:
            if op in KERNELS:
                raise InternalError(f"kernel for {op!r} registered twice")
            KERNELS[op] = fn
        return fn

    return register


# Imported for their registration side effect; kept last because they import `kernel` from here.
from tfjs_lite.kernels import array_ops, control, conv, conv3d, fused, image, lists, math_ops, nn, reduce, segment  # noqa: E402,F401
