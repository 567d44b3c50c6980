"""Lowerings of the ``keras.ops`` calls Keras 3 functional models record (``x + 3.0``, ``x * y``).

Their arguments are tensors and Python numbers in any position
(:data:`~tfjs_lite.keras.config.POSITIONAL_KEY` keeps the layout); numbers become float32
scalar constants.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import numpy as np

from tfjs_lite.keras.config import (
    KERAS_OP_BINARY,
    KERAS_OP_COMPARISONS,
    KERAS_OP_LIKE,
    KERAS_OP_LOGICAL,
    KERAS_OP_REDUCTIONS,
    KERAS_OP_UNARY,
    POSITIONAL_KEY,
    TF_OP_FUNCTIONS,
)
from tfjs_lite.keras.lowering.builder import BOOL, FLOAT, INT32, KTensor, broadcast_shapes
from tfjs_lite.keras.lowering.model import LayerCall

Out = list[KTensor]


def _arguments(call: LayerCall, like: Optional[KTensor] = None) -> list[KTensor]:
    layout = call.kwargs.get(POSITIONAL_KEY)
    if not isinstance(layout, list):
        return list(call.inputs)
    tensors = iter(call.inputs)
    # A number takes the dtype of ``like``, by default the call's first tensor (``tokens + 1`` stays
    # int32, as in TF).
    if like is None:
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


def _comparison(op: str) -> Callable[[LayerCall], Out]:
    """``ops.greater``, ``ops.not_equal``, ...: the TF comparison, bool out; a number operand takes the
    dtype of the tensor it is compared with."""

    def lower(call: LayerCall) -> Out:
        args = _arguments(call)
        if len(args) != 2:
            raise call.refuse(f"expects 2 arguments, got {len(args)}")
        a, b = args
        b = call.builder.cast(b, a.dtype)
        attrs = {"incompatible_shape_error": True} if op in ("Equal", "NotEqual") else {}
        return [call.builder.op(op, [a, b], broadcast_shapes(a.shape, b.shape), attrs, dtype=BOOL)]

    lower.__name__ = f"lower_{op}"
    return lower


def _axes(call: LayerCall, x: KTensor) -> list[int]:
    """The config's ``axis`` (None: every axis; an int or a list) as non-negative axes of ``x``."""
    axis = call.config.get("axis")
    axes = list(range(x.rank)) if axis is None else (axis if isinstance(axis, list) else [axis])
    if not all(isinstance(a, int) and not isinstance(a, bool) and -x.rank <= a < x.rank for a in axes):
        raise call.refuse(f"option axis={axis!r} is not an axis of a rank-{x.rank} tensor")
    return [a % x.rank for a in axes]


def _only(call: LayerCall, count: int) -> list[KTensor]:
    args = _arguments(call)
    if len(args) != count:
        raise call.refuse(f"expects {count} tensor argument(s), got {len(args)}")
    return args


def _reduction(op: str) -> Callable[[LayerCall], Out]:
    """``ops.mean``/``sum``/``max``/... over ``axis`` (None: all), ``keepdims``."""

    def lower(call: LayerCall) -> Out:
        (x,) = _only(call, 1)
        if call.config.get("initial") is not None:
            raise call.refuse(f"option initial={call.config['initial']!r} is not supported")
        axes = _axes(call, x)
        if op in ("Any", "All"):
            x = call.builder.cast(x, BOOL)
        elif op == "Mean" and x.dtype != FLOAT:  # keras.ops.mean of integers is a float mean
            x = call.builder.cast(x, FLOAT)
        return [call.builder.reduce(op, x, axes, bool(call.config.get("keepdims", False)))]

    lower.__name__ = f"lower_{op}"
    return lower


def _reshape(call: LayerCall) -> Out:
    """``ops.reshape(x, newshape)``: the whole shape, batch included; one -1 is inferred."""
    (x,) = _only(call, 1)
    new = call.config.get("newshape", call.config.get("new_shape"))
    if isinstance(new, int) and not isinstance(new, bool):
        new = [new]
    if (not isinstance(new, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= -1 for d in new)
            or new.count(-1) > 1):
        raise call.refuse(f"option newshape={new!r} is not a shape (integers, at most one -1)")
    rest = int(np.prod([d for d in new if d != -1]))
    dims = [d for d in x.shape[1:] if d is not None]
    inner = int(np.prod(dims)) if len(dims) == x.rank - 1 else None
    fits, shape = True, tuple(None if d == -1 else d for d in new)
    if inner is not None and x.shape[0] is not None:  # every size known: the element counts must agree
        size = x.shape[0] * inner
        fits = (rest > 0 and size % rest == 0) if -1 in new else rest == size
        shape = tuple(size // rest if d == -1 else d for d in new) if fits and -1 in new else shape
    elif inner is not None and -1 not in new:  # batch unknown: the new count must be whole batches
        fits = inner > 0 and rest % inner == 0
    if not fits:
        raise call.refuse(f"option newshape={new!r} does not fit an input of shape {x.shape}")
    out = call.builder.op("Reshape", [x, call.builder.ints(list(new))], shape, {"Tshape": INT32})
    return [out]


def _transpose(call: LayerCall) -> Out:
    (x,) = _only(call, 1)
    axes = call.config.get("axes")
    perm = list(reversed(range(x.rank))) if axes is None else axes
    if (not isinstance(perm, list) or not all(isinstance(a, int) and not isinstance(a, bool) for a in perm)
            or sorted(a % x.rank for a in perm) != list(range(x.rank))):
        raise call.refuse(f"option axes={axes!r} is not a permutation of {x.rank} axes")
    return [call.builder.transpose(x, [a % x.rank for a in perm])]


def _expand_dims(call: LayerCall) -> Out:
    (x,) = _only(call, 1)
    axis = call.config.get("axis")
    if isinstance(axis, bool) or not isinstance(axis, int) or not -x.rank - 1 <= axis <= x.rank:
        raise call.refuse(f"option axis={axis!r} is not one axis of the rank-{x.rank + 1} result")
    return [call.builder.expand_dims(x, axis)]


def _squeeze(call: LayerCall) -> Out:
    (x,) = _only(call, 1)
    if call.config.get("axis") is None:
        if any(d is None for d in x.shape[1:]):  # which axes are 1 is known only at run time
            raise call.refuse(f"option axis=None on an input of shape {x.shape} (give the axis)")
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    else:
        axes = _axes(call, x)
        if any(x.shape[a] not in (1, None) for a in axes):
            raise call.refuse(f"squeezes axes {axes} of shape {x.shape}, which are not all 1")
    return [call.builder.squeeze(x, axes)]


def _concatenate(call: LayerCall) -> Out:
    xs = _arguments(call)
    axis = call.config.get("axis", 0)
    if not xs or isinstance(axis, bool) or not isinstance(axis, int) or not -xs[0].rank <= axis < xs[0].rank:
        raise call.refuse(f"option axis={axis!r} does not fit the {len(xs)} tensor arguments")
    shapes = [x.shape for x in xs]
    other_axes = [i for i in range(xs[0].rank) if i != axis % xs[0].rank]
    if any(x.rank != xs[0].rank for x in xs) or any(
            len({s[i] for s in shapes if s[i] is not None}) > 1 for i in other_axes):
        raise call.refuse(f"concatenates tensors of shapes {shapes} along axis {axis}")
    return [call.builder.concat(xs, axis)]


def _matmul(call: LayerCall) -> Out:
    a, b = _only(call, 2)
    if a.rank < 2 or b.rank < 2:  # numpy's vector cases (rank 1) change the result's rank
        raise call.refuse(f"multiplies shapes {a.shape} and {b.shape}; only matrices (rank >= 2) are supported")
    return [call.builder.batch_matmul(a, b)]


def _softmax(call: LayerCall) -> Out:
    """``ops.softmax(x, axis)``: TF's Softmax works on the last axis; another axis is moved there."""
    (x,) = _only(call, 1)
    if call.config.get("axis", -1) is None:
        raise call.refuse("option axis=None (a softmax over every element, batch included) is not supported")
    axes = _axes(call, x) if "axis" in call.config else [x.rank - 1]
    if len(axes) != 1:
        raise call.refuse(f"option axis={call.config.get('axis')!r} names more than one axis")
    (axis,) = axes
    perm = list(range(x.rank))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    b = call.builder
    return [b.transpose(b.unary("Softmax", b.transpose(x, perm)), perm)]


def _clip(call: LayerCall) -> Out:
    (x,) = _only(call, 1)
    given = [call.config.get("x_min"), call.config.get("x_max")]
    bounds = [float(v) for v in given if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(bounds) != 2 or not all(np.isfinite(bounds)):
        raise call.refuse(f"bounds {given!r} are not two finite numbers")
    b = call.builder
    low, high = (b.scalar(v, like=x) for v in bounds)
    return [b.op("ClipByValue", [x, low, high], x.shape, {"T": x.dtype}, dtype=x.dtype)]


def _where(call: LayerCall) -> Out:
    """``ops.where(condition, x, y)``: SelectV2; a number branch takes the other branch's dtype."""
    layout = call.kwargs.get(POSITIONAL_KEY)
    if not isinstance(layout, list):
        layout = [None] * len(call.inputs)
    if len(layout) != 3:
        raise call.refuse(f"expects 3 arguments (condition, x, y), got {len(layout)}")
    if layout[0] is not None:
        raise call.refuse(f"argument {layout[0]!r} is not a tensor")
    # the tensor after the condition is a branch: a number in the other branch takes its dtype
    condition, x, y = _arguments(call, like=call.inputs[1] if len(call.inputs) > 1 else None)
    b = call.builder
    y = b.cast(y, x.dtype)
    shape = broadcast_shapes(broadcast_shapes(condition.shape, x.shape), y.shape)
    return [b.op("SelectV2", [b.cast(condition, BOOL), x, y], shape, {"T": x.dtype}, dtype=x.dtype)]


def _convert_to_tensor(call: LayerCall) -> Out:
    """``ops.convert_to_tensor(x)`` on a tensor (Keras 3's Attention passes its query mask on this
    way): the tensor itself, or cast to ``dtype``; sparse and ragged tensors are not TF.js's."""
    (x,) = _only(call, 1)
    if call.config.get("sparse") or call.config.get("ragged"):
        raise call.refuse("sparse or ragged tensors are not supported")
    dtype = call.config.get("dtype")
    return [x] if dtype is None else _cast(call)


def _logical(op: str) -> Callable[[LayerCall], Out]:
    """``ops.logical_and/or/not``: the TF op on bool operands (others are cast, as Keras does)."""

    def lower(call: LayerCall) -> Out:
        args = [call.builder.cast(a, BOOL) for a in _arguments(call)]
        if len(args) != (1 if op == "LogicalNot" else 2):
            raise call.refuse(f"expects {1 if op == 'LogicalNot' else 2} argument(s), got {len(args)}")
        return [call.builder.op(op, args, tuple(_broadcast_all(args)), dtype=BOOL)]

    lower.__name__ = f"lower_{op}"
    return lower


def _like(op: str) -> Callable[[LayerCall], Out]:
    """``ops.zeros_like/ones_like``: the TF op, the input's shape, its dtype or the ``dtype`` option."""

    def lower(call: LayerCall) -> Out:
        (x,) = _only(call, 1)
        dtype = call.config.get("dtype")
        if dtype is not None:
            if dtype not in _CAST_DTYPES:
                raise call.refuse(f"option dtype={dtype!r} is not one of {', '.join(_CAST_DTYPES)}")
            x = call.builder.cast(x, _CAST_DTYPES[dtype])
        return [call.builder.op(op, [x], x.shape, {"T": x.dtype}, dtype=x.dtype)]

    lower.__name__ = f"lower_{op}"
    return lower


_CAST_DTYPES = {"float32": FLOAT, "int32": INT32, "bool": BOOL}


def _cast(call: LayerCall) -> Out:
    (x,) = _only(call, 1)
    dtype = call.config.get("dtype")
    if dtype not in _CAST_DTYPES:
        raise call.refuse(f"option dtype={dtype!r} is not one of {', '.join(_CAST_DTYPES)} (TensorFlow.js's types)")
    return [call.builder.cast(x, _CAST_DTYPES[dtype])]


# ``ops.<class>`` → lowering, merged into the registry.
OPS = {**{k: _elementwise(v, 2) for k, v in KERAS_OP_BINARY.items()},
       **{k: _elementwise(v, 1) for k, v in KERAS_OP_UNARY.items()},
       **{k: _comparison(k) for k in KERAS_OP_COMPARISONS},
       **{k: _reduction(v) for k, v in KERAS_OP_REDUCTIONS.items()},
       **{k: _logical(v) for k, v in KERAS_OP_LOGICAL.items()}, **{k: _like(v) for k, v in KERAS_OP_LIKE.items()},
       "Reshape": _reshape, "Transpose": _transpose, "ExpandDims": _expand_dims, "Squeeze": _squeeze,
       "Concatenate": _concatenate, "Matmul": _matmul, "Softmax": _softmax, "Clip": _clip, "Where": _where,
       "Cast": _cast, "ConvertToTensor": _convert_to_tensor}


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
