"""Predicted output sizes: how many elements a kernel would produce, computed before it runs.

A few bytes of graph can ask a kernel for gigabytes (``Fill`` with dims ``[2**30]``, ``Tile`` by
large multiples, ``Range(0, 2**31)``, an outer product by broadcasting). Constant folding and the
reference executor call :func:`predicted_elements` first and refuse what exceeds their budget
(:mod:`tfjs_lite.limits`), so nothing is allocated for a node they will not run.

The estimate is an upper bound on the largest output of the node (in elements), by shape
arithmetic on the inputs (values only for the small shape-like inputs: dims, multiples, paddings).
Ops not listed below produce at most what their inputs broadcast to, or their inputs' total
(elementwise ops, reductions, slices, concatenation, reshapes, pooling). An op whose output can
exceed both must have an entry here. Ops whose output shape follows exactly from their inputs'
shapes and small values (``Fill``, ``Tile``, ``Pad``, resizes, ...) use the static shape rules of
:mod:`tfjs_lite.kernels.shapes`, the ones the check before writing uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from tfjs_lite.kernels._util import registrar
from tfjs_lite.kernels.shapes import output_shape

__all__ = ["predicted_elements"]

_UNBOUNDED = 1 << 62  # "don't know, assume huge"

Estimator = Callable[[Sequence[Any], dict[str, Any]], int]
_ESTIMATORS: dict[str, Estimator] = {}
_estimates = registrar(_ESTIMATORS)


def _size(a: Any) -> int:
    return int(math.prod(int(d) for d in np.shape(a)))


def _ints(a: Any, limit: int = 64) -> list[int]:
    """A small integer input (a shape, multiples, paddings) as Python ints."""
    if _size(a) > limit:
        raise ValueError("shape-like input too large")
    return [int(v) for v in np.asarray(a).reshape(-1).tolist()]


def _product(values: Iterable[int]) -> int:
    out = 1
    for v in values:
        out *= max(int(v), 0)
    return out


def _generic(args: Sequence[Any]) -> int:
    total = sum(_size(a) for a in args)
    try:
        broadcast = _product(np.broadcast_shapes(*(np.shape(a) for a in args))) if args else 1
    except ValueError:
        broadcast = 0
    return max(total, broadcast, 1)


# op -> which input holds the output shape (ops the shape rules do not cover)
_SHAPE_INPUT = {"SparseToDense": 1, "ScatterNd": 2}


@_estimates(*_SHAPE_INPUT)
def _from_shape_input(args: Sequence[Any], attrs: dict[str, Any]) -> int:
    return _product(_ints(args[_SHAPE_INPUT[attrs["_op"]]]))


@_estimates("Fill", "Empty", "BroadcastTo", "Tile", "Pad", "PadV2", "MirrorPad", "OneHot", "ResizeBilinear",
            "ResizeNearestNeighbor", "Conv2DBackpropInput")
def _from_shape_rule(args: Sequence[Any], attrs: dict[str, Any]) -> int:
    """The exact output size, from the static shape rule (:mod:`tfjs_lite.kernels.shapes`) on the
    arguments' shapes and their small integer values (dims, multiples, paddings, sizes)."""
    values = [np.asarray(a) if _size(a) <= 64 and np.asarray(a).dtype.kind in "iu" else None for a in args]
    shape = output_shape(attrs["_op"], [tuple(int(d) for d in np.shape(a)) for a in args], values, attrs)
    if shape is None or None in shape:
        raise ValueError("output shape not known")  # predicted_elements: assume huge
    return _product(d for d in shape if d is not None)


@_estimates("Range")
def _range(args: Sequence[Any], attrs: dict[str, Any]) -> int:
    start, limit, delta = (float(np.asarray(a).reshape(-1)[0]) for a in args[:3])
    if delta == 0 or not all(map(math.isfinite, (start, limit, delta))):
        return 1  # the kernel refuses it
    return max(math.ceil((limit - start) / delta), 0)


@_estimates("TensorListReserve", "EmptyTensorList")
def _tensor_list(args: Sequence[Any], attrs: dict[str, Any]) -> int:
    try:
        shape = _product(_ints(args[0]))
    except ValueError:
        return _UNBOUNDED
    count = _ints(args[1])[0] if len(args) > 1 else 1
    return max(shape, 1) * max(count, 1)


@_estimates("MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "_FusedMatMul")
def _matmul(args: Sequence[Any], attrs: dict[str, Any]) -> int:
    a, b = np.shape(args[0]), np.shape(args[1])
    if len(a) < 2 or len(b) < 2:
        return _generic(args)
    ta = attrs.get("transpose_a", attrs.get("adj_x", False))
    tb = attrs.get("transpose_b", attrs.get("adj_y", False))
    rows = a[-1] if ta else a[-2]
    cols = b[-2] if tb else b[-1]
    try:
        batch = _product(np.broadcast_shapes(a[:-2], b[:-2]))
    except ValueError:
        batch = max(_product(a[:-2]), _product(b[:-2]))
    return max(batch * rows * cols, _generic(args[2:]) if len(args) > 2 else 0)


@_estimates("Gather", "GatherV2", "ResourceGather")
def _gather(args: Sequence[Any], attrs: dict[str, Any]) -> int:
    params, indices = np.shape(args[0]), _size(args[1])
    axis = _ints(args[2])[0] if len(args) > 2 else 0
    if not params:
        return indices
    along = params[axis % len(params)]
    return (_product(params) // max(along, 1)) * indices


@_estimates("GatherNd")
def _gather_nd(args: Sequence[Any], attrs: dict[str, Any]) -> int:
    params, indices = np.shape(args[0]), np.shape(args[1])
    depth = indices[-1] if indices else 0
    return _product(indices[:-1]) * _product(params[depth:])


@_estimates("Conv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "_FusedConv2D")
def _conv(args: Sequence[Any], attrs: dict[str, Any]) -> int:
    """Batch x (padded, strided) spatial positions x output channels, with the largest padding
    (explicit, or a kernel's extent for SAME). The product of the operand sizes
    would refuse a 64x64 YOLO head (x elements times filter elements is ~3e8)."""
    x, w = np.shape(args[0]), np.shape(args[1])
    if len(x) != 4 or len(w) != 4:
        raise ValueError("not a 2-D convolution")
    layout = str(attrs.get("data_format", "NHWC"))
    batch, height, width, channels = (x[0], x[2], x[3], x[1]) if layout.startswith("NC") else x
    pads = [int(p) for p in attrs.get("explicit_paddings", []) or []]
    grow_h, grow_w = (w[0], w[1]) if not pads else (sum(pads[2:4]), sum(pads[4:6]))
    depthwise = "Depthwise" in str(attrs.get("_op", ""))
    out_channels = channels * w[3] if depthwise else w[3]
    strides = [int(v) for v in attrs.get("strides", [1, 1, 1, 1]) or [1, 1, 1, 1]]
    step_h, step_w = (strides[2], strides[3]) if layout.startswith("NC") else (strides[1], strides[2])
    return _product([batch, -(-(height + grow_h) // max(step_h, 1)), -(-(width + grow_w) // max(step_w, 1)),
                     out_channels])


@_estimates("Einsum")
def _product_bound(args: Sequence[Any], attrs: dict[str, Any]) -> int:
    # Every output element combines one element (or slice) of each operand: the product bounds it.
    return max(_product(_size(a) for a in args[:2]), 1)


def predicted_elements(op: str, args: Sequence[Any], attrs: dict[str, Any]) -> int:
    """An upper bound on the element count of the largest output of ``op`` on ``args``."""
    estimator = _ESTIMATORS.get(op)
    if estimator is None:
        return _generic(args)
    try:
        return int(estimator(args, {**attrs, "_op": op}))
    except (ValueError, TypeError, IndexError, OverflowError):
        return _UNBOUNDED
