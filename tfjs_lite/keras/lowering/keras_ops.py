"""Lowerings of the ``keras.ops`` calls Keras 3 functional models record (``x + 3.0``, ``x * y``).

Their arguments are tensors and Python numbers in any position
(:data:`~tfjs_lite.keras.config.POSITIONAL_KEY` keeps the layout); numbers become float32
scalar constants.
"""

from __future__ import annotations

from typing import Callable

from tfjs_lite.keras.config import POSITIONAL_KEY
from tfjs_lite.keras.lowering.builder import BOOL, KTensor, broadcast_shapes
from tfjs_lite.keras.lowering.model import LayerCall

Out = list[KTensor]


def _arguments(call: LayerCall) -> list[KTensor]:
    layout = call.kwargs.get(POSITIONAL_KEY)
    if not isinstance(layout, list):
        return list(call.inputs)
    tensors = iter(call.inputs)
    args = []
    for item in layout:
        if item is None:
            args.append(next(tensors))
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            args.append(call.builder.scalar(float(item)))
        else:
            raise call.refuse(f"argument {item!r} is neither a tensor nor a number")
    return args


def _elementwise(op: str, arity: int) -> Callable[[LayerCall], Out]:
    """The lowering of a ``keras.ops`` function that is the TF op ``op`` on ``arity`` arguments."""

    def lower(call: LayerCall) -> Out:
        args = _arguments(call)
        if len(args) != arity:
            raise call.refuse(f"expects {arity} argument(s), got {len(args)}")
        return [call.builder.op(op, args, tuple(_broadcast_all(args)))]

    lower.__name__ = f"lower_{op}"
    return lower


def _broadcast_all(args: list[KTensor]) -> tuple:
    shape = args[0].shape
    for arg in args[1:]:
        shape = broadcast_shapes(shape, arg.shape)
    return shape


def _not_equal(call: LayerCall) -> Out:
    a, b = _arguments(call)
    b = call.builder.cast(b, a.dtype)
    return [call.builder.op("NotEqual", [a, b], broadcast_shapes(a.shape, b.shape),
                            {"incompatible_shape_error": True}, dtype=BOOL)]


def _any(call: LayerCall) -> Out:
    (x,) = _arguments(call)
    axis = call.config.get("axis")
    axes = list(range(x.rank)) if axis is None else [a % x.rank for a in (axis if isinstance(axis, list) else [axis])]
    return [call.builder.reduce("Any", x, axes, bool(call.config.get("keepdims", False)))]


BINARY = {"Add": "AddV2", "Subtract": "Sub", "Multiply": "Mul", "Divide": "RealDiv", "TrueDivide": "RealDiv",
          "Maximum": "Maximum", "Minimum": "Minimum", "Power": "Pow"}
UNARY = {"Negative": "Neg", "Sqrt": "Sqrt", "Square": "Square", "Exp": "Exp", "Abs": "Abs", "Tanh": "Tanh",
         "Sigmoid": "Sigmoid", "Relu": "Relu", "Relu6": "Relu6", "Log": "Log", "Reciprocal": "Reciprocal"}
# ``ops.<class>`` → lowering, merged into the registry.
OPS = {**{k: _elementwise(v, 2) for k, v in BINARY.items()}, **{k: _elementwise(v, 1) for k, v in UNARY.items()},
       "NotEqual": _not_equal, "Any": _any}
