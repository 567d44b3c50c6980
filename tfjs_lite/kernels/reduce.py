"""Reductions, arg-reductions and scans."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tfjs_lite.kernels import NodeContext, kernel
from tfjs_lite.kernels._util import attr_dtype, axes, flag

Array = np.ndarray


def _acc(x: Array) -> Array:
    return x.astype(np.float64) if x.dtype in (np.float16, np.float32) else x


def _mean(x: Array, axis: tuple[int, ...], keep: bool) -> Array:
    if x.dtype.kind in "iu":  # integer mean = integer sum / count, truncating like C++
        total = np.sum(x, axis=axis, keepdims=keep, dtype=np.int64)
        count = int(np.prod([x.shape[a] for a in axis])) if axis else 1
        return np.trunc(total / count).astype(x.dtype) if count else total.astype(x.dtype)
    return np.mean(_acc(x), axis=axis, keepdims=keep)


_REDUCERS: dict[str, Callable[[Array, tuple[int, ...], bool], Array]] = {
    "Sum": lambda x, a, k: np.sum(_acc(x), axis=a, keepdims=k),
    "Prod": lambda x, a, k: np.prod(_acc(x), axis=a, keepdims=k),
    "Max": lambda x, a, k: np.max(x, axis=a, keepdims=k),
    "Min": lambda x, a, k: np.min(x, axis=a, keepdims=k),
    "Mean": _mean,
    "All": lambda x, a, k: np.all(x, axis=a, keepdims=k),
    "Any": lambda x, a, k: np.any(x, axis=a, keepdims=k),
    "EuclideanNorm": lambda x, a, k: np.sqrt(np.sum(np.square(_acc(x)), axis=a, keepdims=k)),
}


@kernel(*_REDUCERS)
def _reduce(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, axis = inputs
    out = _REDUCERS[ctx.op](x, axes(axis, x.ndim), flag(attrs, "keep_dims"))
    return [np.asarray(out).astype(x.dtype)]


@kernel("ArgMax", "ArgMin")
def _arg_reduce(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, axis = inputs
    fn = np.argmax if ctx.op == "ArgMax" else np.argmin
    # numpy returns the first extreme index on ties, as TF does.
    out = fn(x, axis=int(axis) % x.ndim)
    return [np.asarray(out).astype(attr_dtype(attrs, "output_type", "DT_INT64"))]


@kernel("Cumsum", "Cumprod")
def _cumulative(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, axis_t = inputs
    axis = int(axis_t) % x.ndim
    fn, identity = (np.cumsum, 0) if ctx.op == "Cumsum" else (np.cumprod, 1)
    reverse, exclusive = flag(attrs, "reverse"), flag(attrs, "exclusive")
    data = np.flip(x, axis) if reverse else x
    out = fn(_acc(data), axis=axis)
    if exclusive:
        # Shift by one along the axis and put the identity first.
        pad = [(0, 0)] * x.ndim
        pad[axis] = (1, 0)
        out = np.pad(out, pad, constant_values=identity)
        out = np.take(out, np.arange(x.shape[axis]), axis=axis)
    out = np.flip(out, axis) if reverse else out
    return [out.astype(x.dtype)]
