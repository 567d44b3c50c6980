"""The one registry of ONNX op lowerings: ``op_type -> function(ctx) -> list of output values``.

A lowering reads the current node through the :class:`~tfjs_lite.readers.onnx.context.LoweringContext`
(inputs, attributes, constant inputs) and returns one :class:`~tfjs_lite.readers.onnx.context.V` per
ONNX output (None for an output it does not produce). Layout-sensitive ops (convolution, pooling,
normalisation over channels, resize, depth/space rearrangement) transpose to channels-last around
the TF op; every other op keeps ONNX's axis order. The layout pass removes the transposes that
cancel.

The modules below register their functions on import; the registry is complete once this package
is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tfjs_lite.errors import InternalError

__all__ = ["LOWERINGS", "Lowering", "lowers"]

Lowering = Callable[[Any], list[Any]]

LOWERINGS: dict[str, Lowering] = {}


def lowers(*op_types: str) -> Callable[[Lowering], Lowering]:
    """Register the decorated function as the lowering of each ONNX ``op_type``."""

    def register(fn: Lowering) -> Lowering:
        for op in op_types:
            if op in LOWERINGS:
                raise InternalError(f"ONNX op {op!r} has two lowerings")
            LOWERINGS[op] = fn
        return fn

    return register


from tfjs_lite.readers.onnx.lowering import (  # noqa: E402,F401  (registration side effect)
    conv,
    elementwise,
    grid_sample,
    misc,
    norm,
    recurrent,
    reduce,
    resize,
    shape,
    tensor,
)
