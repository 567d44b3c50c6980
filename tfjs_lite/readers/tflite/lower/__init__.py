"""The one registry of TFLite operator lowerings: builtin operator name -> function.

A lowering reads its operator's inputs and options from the :class:`Lowering` context, adds TF
ops to the IR graph and binds every TFLite output tensor (``ctx.set_output``). TFLite is NHWC
like TF, so only weights change layout. Quantized tensors are float32 in the graph (their
dequantized values): QUANTIZE and DEQUANTIZE become identities (docs/tflite.md).
"""

from __future__ import annotations

from typing import Callable

from tfjs_lite.readers.tflite.context import Lowering
from tfjs_lite.readers.tflite.model import Operator

__all__ = ["LOWERINGS", "lowering"]

LowerFn = Callable[[Lowering, Operator], None]
LOWERINGS: dict[str, LowerFn] = {}


def lowering(*names: str) -> Callable[[LowerFn], LowerFn]:
    """Register ``fn`` as the lowering of the TFLite builtin operators ``names``."""

    def register(fn: LowerFn) -> LowerFn:
        for name in names:
            if name in LOWERINGS:
                raise RuntimeError(f"two lowerings for {name}")
            LOWERINGS[name] = fn
        return fn

    return register


# Importing the modules fills the registry.
from tfjs_lite.readers.tflite.lower import control, elementwise, lstm, nn, shape  # noqa: E402,F401
