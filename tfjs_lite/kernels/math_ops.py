"""Element-wise kernels: arithmetic, comparisons, logic, activations, casts."""

from __future__ import annotations

import math as _pymath
from collections.abc import Callable
from typing import Any

import numpy as np

from tfjs_lite.kernels import NodeContext, kernel
from tfjs_lite.kernels._util import attr_dtype, precise

Array = np.ndarray
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _unary(fn: Callable[[Array], Array], *, exact: bool = False) -> Callable[..., list[Array]]:
    # exact=True: fn is exact in the input dtype (no float64 detour needed).
    def run(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
        x = inputs[0]
        if exact:
            return [np.asarray(fn(x)).astype(x.dtype, copy=False)]
        return [precise(fn, x)]

    return run


def _is_int(x: Array) -> bool:
    return x.dtype.kind in "iu"


def _erf(x: Array) -> Array:
    return np.vectorize(_pymath.erf, otypes=[np.float64])(x) if x.size else x


def _erfc(x: Array) -> Array:
    return np.vectorize(_pymath.erfc, otypes=[np.float64])(x) if x.size else x


def _elu(x: Array) -> Array:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def _selu(x: Array) -> Array:
    return _SELU_SCALE * np.where(x > 0, x, _SELU_ALPHA * np.expm1(np.minimum(x, 0)))


def _sigmoid(x: Array) -> Array:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # overflow-free form of 1 / (1 + exp(-x))


_UNARY: dict[str, Callable[..., list[Array]]] = {
    "Neg": _unary(np.negative, exact=True),
    "Abs": _unary(np.abs, exact=True),
    "Sign": _unary(np.sign, exact=True),
    "Square": _unary(np.square, exact=True),
    "Floor": _unary(np.floor, exact=True),
    "Ceil": _unary(np.ceil, exact=True),
    "Round": _unary(np.round, exact=True),  # numpy rounds half to even, like TF
    "Rint": _unary(np.rint, exact=True),
    "Relu": _unary(lambda x: np.maximum(x, 0), exact=True),
    "Relu6": _unary(lambda x: np.clip(x, 0, 6), exact=True),
    "Sqrt": _unary(np.sqrt),
    "Rsqrt": _unary(lambda x: 1.0 / np.sqrt(x)),
    "Reciprocal": _unary(lambda x: 1.0 / x),
    "Inv": _unary(lambda x: 1.0 / x),
    "Exp": _unary(np.exp),
    "Expm1": _unary(np.expm1),
    "Log": _unary(np.log),
    "Log1p": _unary(np.log1p),
    "Elu": _unary(_elu),
    "Selu": _unary(_selu),
    "Sigmoid": _unary(_sigmoid),
    "Tanh": _unary(np.tanh),
    "Softplus": _unary(lambda x: np.logaddexp(0.0, x)),
    "Softsign": _unary(lambda x: x / (1.0 + np.abs(x))),
    "Erf": _unary(_erf),
    "Erfc": _unary(_erfc),
    "Sin": _unary(np.sin),
    "Cos": _unary(np.cos),
    "Tan": _unary(np.tan),
    "Asin": _unary(np.arcsin),
    "Acos": _unary(np.arccos),
    "Atan": _unary(np.arctan),
    "Sinh": _unary(np.sinh),
    "Cosh": _unary(np.cosh),
    "Asinh": _unary(np.arcsinh),
    "Acosh": _unary(np.arccosh),
    "Atanh": _unary(np.arctanh),
}
for _op, _fn in _UNARY.items():
    kernel(_op)(_fn)


@kernel("IsNan", "IsInf", "IsFinite")
def _predicate(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    fn = {"IsNan": np.isnan, "IsInf": np.isinf, "IsFinite": np.isfinite}[ctx.op]
    return [fn(inputs[0])]


@kernel("LeakyRelu")
def _leaky_relu(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x = inputs[0]
    alpha = np.asarray(attrs.get("alpha", 0.2), dtype=x.dtype)
    return [np.where(x > 0, x, x * alpha)]


# ---------------------------------------------------------------- binary arithmetic
def _trunc_div(x: Array, y: Array) -> Array:
    # C++ integer division truncates toward zero; numpy's // floors.
    q = np.floor_divide(x, y)
    fix = (np.remainder(x, y) != 0) & ((x < 0) != (y < 0))
    return q + fix.astype(q.dtype)


def _div(x: Array, y: Array) -> Array:
    return _trunc_div(x, y) if _is_int(x) else x / y


def _floor_div(x: Array, y: Array) -> Array:
    return np.floor_divide(x, y) if _is_int(x) else np.floor(x / y)


def _div_no_nan(x: Array, y: Array) -> Array:
    safe = np.where(y == 0, np.ones_like(y), y)
    return np.where(y == 0, np.zeros_like(x), _div(x, safe))


def _pow(x: Array, y: Array) -> Array:
    return np.power(x, y)


_BINARY: dict[str, Callable[[Array, Array], Array]] = {
    "Add": np.add,
    "AddV2": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "RealDiv": _div,
    "Div": _div,
    "TruncateDiv": _trunc_div,
    "DivNoNan": _div_no_nan,
    "FloorDiv": _floor_div,
    "FloorMod": np.mod,
    "Mod": np.fmod,  # TF Mod follows C: the result has the sign of the dividend
    "TruncateMod": np.fmod,
    "Maximum": np.maximum,
    "Minimum": np.minimum,
    "Pow": _pow,
    "SquaredDifference": lambda x, y: np.square(x - y),
    "Atan2": np.arctan2,
    # x·log(y), x/y, x·log1p(y), defined as 0 wherever x == 0 (even for y = 0, inf or nan)
    "Xlogy": lambda x, y: np.where(x == 0, 0, x * np.log(y)),
    "Xdivy": lambda x, y: np.where(x == 0, 0, x / y),
    "Xlog1py": lambda x, y: np.where(x == 0, 0, x * np.log1p(y)),
    "MulNoNan": lambda x, y: np.where(y == 0, 0, x * y),  # 0 wherever y == 0, even for x = inf/nan
    "Equal": np.equal,
    "NotEqual": np.not_equal,
    "Greater": np.greater,
    "GreaterEqual": np.greater_equal,
    "Less": np.less,
    "LessEqual": np.less_equal,
    "LogicalAnd": np.logical_and,
    "LogicalOr": np.logical_or,
    "BitwiseAnd": np.bitwise_and,
    "BitwiseOr": np.bitwise_or,
    "BitwiseXor": np.bitwise_xor,
}


@kernel(*_BINARY)
def _binary(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, y = inputs
    with np.errstate(all="ignore"):  # inf/nan results are TF semantics, not errors
        out = np.asarray(_BINARY[ctx.op](x, y))
    if out.dtype != np.bool_ and out.dtype != x.dtype:
        out = out.astype(x.dtype)  # keep TF's "output dtype = input dtype" under numpy promotion
    return [out]


@kernel("LogicalNot")
def _logical_not(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.logical_not(inputs[0])]


@kernel("AddN")
def _add_n(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    out = inputs[0]
    for x in inputs[1:]:
        out = out + x
    return [np.asarray(out)]


@kernel("ClipByValue")
def _clip(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, lo, hi = inputs
    return [np.minimum(np.maximum(x, lo), hi).astype(x.dtype)]


@kernel("Select", "SelectV2")
def _select(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    cond, x, y = inputs
    if ctx.op == "Select" and cond.ndim == 1 and x.ndim > 1:
        # v1 Select: a vector condition picks whole rows along axis 0.
        cond = cond.reshape((-1,) + (1,) * (x.ndim - 1))
    return [np.where(cond, x, y)]


@kernel("Cast")
def _cast(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, dst = inputs[0], attr_dtype(attrs, "DstT")
    if dst.kind in "iu" and x.dtype.kind == "f":
        # TF truncates toward zero (astype does too); silence numpy's NaN/inf cast warnings.
        with np.errstate(all="ignore"):
            return [np.trunc(x).astype(dst)]
    return [x.astype(dst)]
