"""Element-wise ONNX ops: arithmetic, comparisons, logic and activations.

ONNX and TF broadcast alike (numpy rules), so binary ops map one to one. Integer ``Div`` and
``Mod`` follow ONNX's rules when both operands are constants (shape arithmetic); on tensors TF's
``FloorDiv``/``FloorMod`` are used, which agree for the non-negative values shapes hold.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tfjs_lite.ir.attrs import DType
from tfjs_lite.readers.onnx.context import LoweringContext, Shape, V
from tfjs_lite.readers.onnx.lowering import lowers

__all__ = ["broadcast_shape"]


def broadcast_shape(*shapes: Shape) -> Shape:
    """The numpy broadcast of static shapes (None dims stay unknown unless another side fixes them)."""
    known = [s for s in shapes if s is not None]
    if len(known) != len(shapes):
        return None
    rank = max(len(s) for s in known)
    out: list[int | None] = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in known if len(s) - rank + i >= 0]
        sizes = {d for d in dims if d is not None and d != 1}
        if len(sizes) == 1:
            out.append(sizes.pop())
        elif sizes:
            out.append(None)
        else:
            out.append(None if any(d is None for d in dims) else 1)
    return tuple(out)


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    q = np.abs(a) // np.where(b == 0, 1, np.abs(b))
    return np.where((a < 0) != (b < 0), -q, q)


# ONNX op -> (TF op, numpy function with ONNX semantics for constant operands)
_BINARY: dict[str, tuple[str, Any]] = {
    "Add": ("AddV2", np.add), "Sub": ("Sub", np.subtract), "Mul": ("Mul", np.multiply),
    "Pow": ("Pow", np.power), "Equal": ("Equal", np.equal), "Less": ("Less", np.less),
    "LessOrEqual": ("LessEqual", np.less_equal), "Greater": ("Greater", np.greater),
    "GreaterOrEqual": ("GreaterEqual", np.greater_equal), "And": ("LogicalAnd", np.logical_and),
    "Or": ("LogicalOr", np.logical_or), "Xor": ("NotEqual", np.logical_xor),
    "Max": ("Maximum", np.maximum), "Min": ("Minimum", np.minimum), "Sum": ("AddV2", np.add),
}
_BOOL_RESULT = {"Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor"}


def binary(ctx: LoweringContext, tf_op: str, a: V, b: V, numpy_fn: Any = None, *, dtype: str | None = None) -> V:
    """``tf_op(a, b)`` with numpy broadcasting; computed at once for constant operands."""
    if numpy_fn is not None and a.value is not None and b.value is not None:
        with np.errstate(all="ignore"):
            return ctx.const(numpy_fn(a.value, b.value))
    return ctx.emit(tf_op, [a, b], {"T": DType(a.dtype)}, shape=broadcast_shape(a.shape, b.shape), dtype=dtype)


@lowers(*_BINARY)
def _binary(ctx: LoweringContext) -> list[V]:
    op = ctx.node.op_type  # type: ignore[union-attr]
    tf_op, fn = _BINARY[op]
    values = [v for v in ctx.inputs() if v is not None]
    dtype = "DT_BOOL" if op in _BOOL_RESULT else None
    if op == "Pow" and values[1].dtype != values[0].dtype:
        values[1] = ctx.cast(values[1], values[0].dtype)
    result = values[0]
    for other in values[1:]:
        result = binary(ctx, tf_op, result, other, fn, dtype=dtype)
    return [result]


@lowers("Mean")
def _mean(ctx: LoweringContext) -> list[V]:
    values = [v for v in ctx.inputs() if v is not None]
    total = values[0]
    for other in values[1:]:
        total = binary(ctx, "AddV2", total, other, np.add)
    return [binary(ctx, "Mul", total, ctx.const(np.float32(1.0 / len(values))), np.multiply)]


@lowers("Div")
def _div(ctx: LoweringContext) -> list[V]:
    a, b = ctx.input(0), ctx.input(1)
    assert a is not None and b is not None
    if a.dtype == "DT_INT32":
        return [binary(ctx, "FloorDiv", a, b, _int_div)]
    return [binary(ctx, "RealDiv", a, b, np.divide)]


@lowers("Mod")
def _mod(ctx: LoweringContext) -> list[V]:
    a, b = ctx.input(0), ctx.input(1)
    assert a is not None and b is not None
    if ctx.attr("fmod", 0):  # sign of the dividend: a - trunc(a / b) * b
        if a.dtype == "DT_INT32":
            raise ctx.unsupported("integer Mod with fmod=1 has no TF.js op")
        quotient = binary(ctx, "RealDiv", a, b, np.divide)
        truncated = ctx.emit("Mul", [ctx.emit("Sign", [quotient], shape=quotient.shape),
                                     ctx.emit("Floor", [ctx.emit("Abs", [quotient], shape=quotient.shape)],
                                              shape=quotient.shape)], shape=quotient.shape)
        return [binary(ctx, "Sub", a, binary(ctx, "Mul", truncated, b, np.multiply), np.subtract)]
    return [binary(ctx, "FloorMod", a, b, np.mod)]


# ONNX unary op -> TF op (same semantics, no attributes)
_UNARY = {
    "Abs": "Abs", "Neg": "Neg", "Sqrt": "Sqrt", "Exp": "Exp", "Log": "Log", "Erf": "Erf", "Relu": "Relu",
    "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Softplus": "Softplus", "Floor": "Floor", "Ceil": "Ceil",
    "Round": "Round", "Reciprocal": "Reciprocal", "Sin": "Sin", "Cos": "Cos", "Tan": "Tan", "Asin": "Asin",
    "Acos": "Acos", "Atan": "Atan", "Sinh": "Sinh", "Cosh": "Cosh", "Asinh": "Asinh", "Acosh": "Acosh",
    "Atanh": "Atanh", "Sign": "Sign", "IsNaN": "IsNan", "Not": "LogicalNot", "Softsign": "Softsign",
}


def unary(ctx: LoweringContext, tf_op: str, x: V, attrs: dict[str, Any] | None = None, dtype: str | None = None) -> V:
    return ctx.emit(tf_op, [x], {"T": DType(x.dtype), **(attrs or {})}, shape=x.shape, dtype=dtype)


@lowers(*_UNARY)
def _unary(ctx: LoweringContext) -> list[V]:
    op = ctx.node.op_type  # type: ignore[union-attr]
    x = ctx.input(0)
    assert x is not None
    return [unary(ctx, _UNARY[op], x, dtype="DT_BOOL" if op == "IsNaN" else None)]


@lowers("IsInf")
def _is_inf(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    pos, neg = ctx.attr("detect_positive", 1), ctx.attr("detect_negative", 1)
    if pos and neg:
        return [unary(ctx, "IsInf", x, dtype="DT_BOOL")]
    return [binary(ctx, "Equal", x, ctx.const(np.float32(np.inf if pos else -np.inf)), dtype="DT_BOOL")]


def scale(ctx: LoweringContext, x: V, factor: float) -> V:
    return binary(ctx, "Mul", x, ctx.const(np.float32(factor)), np.multiply)


def offset(ctx: LoweringContext, x: V, amount: float) -> V:
    return binary(ctx, "AddV2", x, ctx.const(np.float32(amount)), np.add)


def clip(ctx: LoweringContext, x: V, low: float, high: float) -> V:
    return ctx.emit("ClipByValue", [x, ctx.const(np.float32(low)), ctx.const(np.float32(high))],
                    {"T": DType(x.dtype)}, shape=x.shape)


@lowers("LeakyRelu")
def _leaky_relu(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    return [unary(ctx, "LeakyRelu", x, {"alpha": float(ctx.attr("alpha", 0.01))})]


@lowers("PRelu")
def _prelu(ctx: LoweringContext) -> list[V]:
    x, slope = ctx.input(0), ctx.input(1)
    assert x is not None and slope is not None
    # x + (slope - 1) * min(x, 0) == max(x, 0) + slope * min(x, 0): plain broadcasting ops keep the
    # slope in ONNX's layout (TF.js Prelu wants the slope shaped like x's trailing dims).
    negative = binary(ctx, "Minimum", x, ctx.const(np.float32(0)), np.minimum)
    return [binary(ctx, "AddV2", unary(ctx, "Relu", x), binary(ctx, "Mul", negative, slope, np.multiply), np.add)]


@lowers("Elu")
def _elu(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    alpha = float(ctx.attr("alpha", 1.0))
    elu = unary(ctx, "Elu", x)
    if alpha == 1.0:
        return [elu]
    # alpha * (exp(x) - 1) for x < 0 = alpha * min(elu(x), 0)
    negative = binary(ctx, "Minimum", elu, ctx.const(np.float32(0)), np.minimum)
    return [binary(ctx, "AddV2", unary(ctx, "Relu", x), scale(ctx, negative, alpha), np.add)]


_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875


@lowers("Selu")
def _selu(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    alpha, gamma = float(ctx.attr("alpha", _SELU_ALPHA)), float(ctx.attr("gamma", _SELU_GAMMA))
    if np.float32(alpha) == np.float32(_SELU_ALPHA) and np.float32(gamma) == np.float32(_SELU_GAMMA):
        return [unary(ctx, "Selu", x)]
    negative = binary(ctx, "Minimum", unary(ctx, "Elu", x), ctx.const(np.float32(0)), np.minimum)
    return [scale(ctx, binary(ctx, "AddV2", unary(ctx, "Relu", x), scale(ctx, negative, alpha), np.add), gamma)]


@lowers("Celu")
def _celu(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    alpha = float(ctx.attr("alpha", 1.0))
    negative = binary(ctx, "Minimum", unary(ctx, "Elu", scale(ctx, x, 1.0 / alpha)), ctx.const(np.float32(0)),
                      np.minimum)
    return [binary(ctx, "AddV2", unary(ctx, "Relu", x), scale(ctx, negative, alpha), np.add)]


@lowers("HardSigmoid")
def _hard_sigmoid(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    return [clip(ctx, offset(ctx, scale(ctx, x, float(ctx.attr("alpha", 0.2))), float(ctx.attr("beta", 0.5))), 0, 1)]


@lowers("HardSwish")
def _hard_swish(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    gate = scale(ctx, unary(ctx, "Relu6", offset(ctx, x, 3.0)), 1.0 / 6.0)
    return [binary(ctx, "Mul", x, gate, np.multiply)]


@lowers("Gelu")
def _gelu(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    if ctx.attr("approximate", "none") == "tanh":
        cube = binary(ctx, "Mul", x, binary(ctx, "Mul", x, x), np.multiply)
        inner = scale(ctx, binary(ctx, "AddV2", x, scale(ctx, cube, 0.044715), np.add), math.sqrt(2 / math.pi))
        gate = offset(ctx, unary(ctx, "Tanh", inner), 1.0)
    else:
        gate = offset(ctx, unary(ctx, "Erf", scale(ctx, x, 1 / math.sqrt(2))), 1.0)
    return [binary(ctx, "Mul", scale(ctx, x, 0.5), gate, np.multiply)]


@lowers("Mish")
def _mish(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    return [binary(ctx, "Mul", x, unary(ctx, "Tanh", unary(ctx, "Softplus", x)), np.multiply)]


@lowers("ThresholdedRelu")
def _thresholded_relu(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    mask = binary(ctx, "Greater", x, ctx.const(np.float32(ctx.attr("alpha", 1.0))), dtype="DT_BOOL")
    return [binary(ctx, "Mul", x, ctx.cast(mask, "DT_FLOAT"), np.multiply)]


@lowers("Clip")
def _clip(ctx: LoweringContext) -> list[V]:
    x, low, high = ctx.input(0), ctx.input(1), ctx.input(2)
    assert x is not None
    if ctx.opset < 11:
        low, high = ctx.const(np.float32(ctx.attr("min", -3.4e38))), ctx.const(np.float32(ctx.attr("max", 3.4e38)))
    if low is not None:
        x = binary(ctx, "Maximum", x, low, np.maximum)
    if high is not None:
        x = binary(ctx, "Minimum", x, high, np.minimum)
    return [x]


@lowers("Where")
def _where(ctx: LoweringContext) -> list[V]:
    cond, a, b = ctx.input(0), ctx.input(1), ctx.input(2)
    assert cond is not None and a is not None and b is not None
    if cond.value is not None and a.value is not None and b.value is not None:
        return [ctx.const(np.where(cond.value, a.value, b.value))]
    return [ctx.emit("SelectV2", [cond, a, b], {"T": DType(a.dtype)},
                     shape=broadcast_shape(cond.shape, a.shape, b.shape), dtype=a.dtype)]


@lowers("Identity", "Dropout")
def _identity(ctx: LoweringContext) -> list[Any]:
    x = ctx.input(0)
    assert x is not None
    outputs = [x]
    if len(ctx.node.outputs) > 1 and ctx.node.outputs[1]:  # type: ignore[union-attr]  # Dropout's mask
        outputs.append(ctx.const(np.ones(x.static_shape() or (), dtype=bool)) if x.static_shape() is not None
                       else binary(ctx, "Equal", x, x, dtype="DT_BOOL"))
    return outputs


_CAST_NUMPY = {1: np.float32, 10: np.float32, 11: np.float32, 16: np.float32, 9: np.bool_,
               2: np.int64, 3: np.int64, 4: np.int64, 5: np.int64, 6: np.int64, 7: np.int64, 12: np.int64, 13: np.int64}


@lowers("Cast", "CastLike")
def _cast(ctx: LoweringContext) -> list[V]:
    from tfjs_lite.readers.onnx.tensors import tf_dtype_of

    x = ctx.input(0)
    assert x is not None
    if ctx.node.op_type == "CastLike":  # type: ignore[union-attr]
        like = ctx.input(1)
        assert like is not None
        return [ctx.cast(x, like.dtype)]
    to = int(ctx.attr("to", 1))
    dtype = tf_dtype_of(to, f"Cast node {ctx.base!r}")
    if x.value is not None and to in _CAST_NUMPY:
        value = x.value
        if value.dtype.kind == "f" and to not in (1, 10, 11, 16, 9):
            value = np.trunc(value)
        return [ctx.const(value.astype(_CAST_NUMPY[to]))]
    return [ctx.cast(x, dtype)]
