"""Lowerings of the ``keras.ops`` calls Keras 3 functional models record (``x + 3.0``, ``x * y``).

Their arguments are tensors and Python numbers in any position
(:data:`~tfjs_lite.keras.config.POSITIONAL_KEY` keeps the layout); numbers become float32
scalar constants.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from tfjs_lite.keras.config import KERAS_OP_BINARY, KERAS_OP_UNARY, POSITIONAL_KEY, TF_OP_FUNCTIONS
from tfjs_lite.keras.lowering.builder import BOOL, INT32, KTensor, broadcast_shapes
from tfjs_lite.keras.lowering.model import LayerCall

Out = list[KTensor]


def _arguments(call: LayerCall) -> list[KTensor]:
    layout = call.kwargs.get(POSITIONAL_KEY)
    if not isinstance(layout, list):
        return list(call.inputs)
    tensors = iter(call.inputs)
    # A number takes the dtype of the call's tensors (``tokens + 1`` stays int32, as in TF).
    like = call.inputs[0] if call.inputs else None
    args = []
    for item in layout:
        if item is None:
            args.append(next(tensors))
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            if like is not None and like.dtype == INT32 and not float(item).is_integer():
                raise call.refuse(f"argument {item!r} is not an integer, but the tensor argument is int32")
            args.append(call.builder.scalar(float(item), like=like))
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


# ``ops.<class>`` → lowering, merged into the registry.
OPS = {**{k: _elementwise(v, 2) for k, v in KERAS_OP_BINARY.items()},
       **{k: _elementwise(v, 1) for k, v in KERAS_OP_UNARY.items()}, "NotEqual": _not_equal, "Any": _any}


def tf_op_lambda(call: LayerCall) -> Out:
    """A tf.keras 2 ``TFOpLambda`` (a TF function called on Keras tensors), lowered as the
    ``keras.ops`` call it equals: its node tensor first, then the ``y`` keyword argument."""
    function = call.config.get("function")
    op = TF_OP_FUNCTIONS.get(function) if isinstance(function, str) else None
    if op is None:
        raise call.refuse(f"calls the TensorFlow function tf.{function}, which the graph-model lowering does not translate")
    if len(call.inputs) != 1:
        raise call.refuse(f"tf.{function} is called on {len(call.inputs)} positional tensors (expected 1)")
    inputs, layout = list(call.inputs), [None]
    for key, value in call.kwargs.items():
        if key == "name":
            continue
        if key != "y":
            raise call.refuse(f"argument {key!r} of tf.{function} is not supported")
        if isinstance(value, KTensor):
            inputs.append(value)
            value = None
        layout.append(value)  # numbers become constants; anything else is refused there
    return OPS[op](dataclasses.replace(call, inputs=inputs, kwargs={POSITIONAL_KEY: layout}))
