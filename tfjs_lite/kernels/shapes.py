"""Static output shapes: what shape a node produces, from its inputs' static shapes and its attributes.

The sibling of :mod:`tfjs_lite.kernels.sizes` (which bounds what a kernel *would allocate here*,
given the actual input arrays): these rules work on shapes with unknown dimensions (``None``:
a dynamic batch, a shape only known at run time), so they can judge a model that will never run
here but that TF.js will run. :func:`output_shape` is used by the static shape check before a
graph model is written (:mod:`tfjs_lite.shape_check`).

A rule returns the shape of output 0, ``None`` when it cannot tell, and raises
:class:`ShapeContradiction` when the node cannot run for any value of the unknown dimensions (a
Reshape to a different element count, a VALID window larger than its input, a negative pad).
:func:`window_problem` judges window attributes (kernel sizes, strides, dilations, block sizes)
against :data:`tfjs_lite.limits.MAX_WINDOW_EXTENT` / ``MAX_WINDOW_ELEMENTS`` whatever the shapes.

Ops without a rule get their recorded shape (the reader's), if any.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Optional

import numpy as np

from tfjs_lite.kernels._util import registrar, to_str
from tfjs_lite.kernels.conv import _pad_1d
from tfjs_lite.limits import MAX_WINDOW_ELEMENTS, MAX_WINDOW_EXTENT

__all__ = ["Shape", "ShapeContradiction", "known_elements", "output_shape", "window_problem"]

Shape = tuple[Optional[int], ...]
Rule = Callable[[Sequence[Optional[Shape]], Sequence[Optional[np.ndarray]], dict[str, Any]], Optional[Shape]]


class ShapeContradiction(ValueError):
    """The node cannot run for any value of the unknown dimensions (the message says why)."""


_RULES: dict[str, Rule] = {}
_rule = registrar(_RULES)


def known_elements(shape: Shape) -> int:
    """A lower bound on the element count: unknown dimensions count as 1."""
    return math.prod(1 if d is None else d for d in shape)


def _ints(value: Optional[np.ndarray]) -> Optional[list[int]]:
    if value is None or value.dtype.kind not in "iu" or value.size > 64:
        return None
    return [int(v) for v in value.reshape(-1).tolist()]


# --- element-wise --------------------------------------------------------------------------------

_SAME_SHAPE = frozenset({
    "Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Sigmoid", "Tanh", "Softplus", "Softsign",
    "Exp", "Expm1", "Log", "Log1p", "Neg", "Abs", "Sign", "Square", "Sqrt", "Rsqrt", "Reciprocal",
    "Inv", "Erf", "Erfc", "Floor", "Ceil", "Round", "Rint", "Sin", "Cos", "Tan", "Asin", "Acos",
    "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Cast", "Identity", "IsNan", "IsInf",
    "IsFinite", "LogicalNot", "Softmax", "LogSoftmax", "BiasAdd", "StopGradient", "Snapshot",
    "LRN", "Cumsum", "Cumprod", "ReverseV2", "FusedBatchNorm", "FusedBatchNormV2",
    "FusedBatchNormV3", "ZerosLike", "OnesLike",
})

_BROADCASTING = frozenset({
    "Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "DivNoNan", "TruncateDiv", "FloorDiv",
    "FloorMod", "Mod", "TruncateMod", "Maximum", "Minimum", "Pow", "SquaredDifference", "Atan2",
    "Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual", "LogicalAnd", "LogicalOr",
    "SelectV2", "AddN", "Prelu", "ClipByValue",
})


@_rule(*_SAME_SHAPE)
def _same(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    return shapes[0] if shapes else None


def _broadcast_dims(a: Optional[int], b: Optional[int]) -> Optional[int]:
    if a == 1:
        return b
    if b == 1 or a == b:
        return a
    if a is None or b is None:
        return a if b is None else b  # the unknown side is 1 or the same size
    raise ShapeContradiction(f"dimensions {a} and {b} do not broadcast")


@_rule(*_BROADCASTING)
def _broadcast(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    if not shapes or any(s is None for s in shapes):
        return None
    rank = max(len(s) for s in shapes if s is not None)
    out: list[Optional[int]] = [1] * rank
    for shape in shapes:
        assert shape is not None
        padded = (1,) * (rank - len(shape)) + tuple(shape)
        out = [_broadcast_dims(a, b) for a, b in zip(out, padded)]
    return tuple(out)


# --- shapes from values --------------------------------------------------------------------------

def _dims_from(value: Optional[np.ndarray], what: str) -> Optional[Shape]:
    dims = _ints(value)
    if dims is None:
        return None
    if any(d < 0 for d in dims):
        raise ShapeContradiction(f"{what} {dims} has a negative size")
    return tuple(dims)


@_rule("Fill", "Empty")
def _fill(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    return _dims_from(values[0], "shape")


@_rule("BroadcastTo")
def _broadcast_to(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    target = _dims_from(values[1], "shape") if len(values) > 1 else None
    if target is None or shapes[0] is None:
        return target
    return _broadcast([shapes[0], target], values, attrs)


@_rule("Reshape")
def _reshape(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    target = _ints(values[1]) if len(values) > 1 else None
    if target is None:
        return None
    if any(d < -1 for d in target) or target.count(-1) > 1:
        raise ShapeContradiction(f"target shape {target} has sizes below -1 or more than one -1")
    source = shapes[0]
    total = None if source is None or None in source else math.prod(d for d in source if d is not None)
    rest = math.prod(d for d in target if d != -1)
    if -1 not in target:
        if total is not None and total != rest:
            raise ShapeContradiction(f"target shape {target} holds {rest} elements but the input "
                                     f"{list(source or ())} holds {total}")
        return tuple(target)
    if total is None:
        return tuple(None if d == -1 else d for d in target)
    if rest == 0 or total % rest:
        raise ShapeContradiction(f"the input {list(source or ())} ({total} elements) cannot be reshaped "
                                 f"to {target}")
    return tuple(total // rest if d == -1 else d for d in target)


def _per_axis(shapes: Sequence[Optional[Shape]], values: Sequence[Any], what: str,
              per_axis: int) -> tuple[Optional[Shape], Optional[list[int]]]:
    """The input's shape and the constant amounts (multiples, paddings) of a Tile/Pad-like op."""
    amounts = _ints(values[1]) if len(values) > 1 else None
    source = shapes[0]
    if amounts is None:
        return source, None
    if any(a < 0 for a in amounts):
        raise ShapeContradiction(f"{what} {amounts} has a negative entry")
    if source is not None and len(amounts) != per_axis * len(source):
        raise ShapeContradiction(f"{len(amounts)} {what} for an input of rank {len(source)}")
    return source, amounts


@_rule("Tile")
def _tile(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    source, multiples = _per_axis(shapes, values, "multiples", 1)
    if multiples is None or (source is None and 0 in multiples):
        return None
    if source is None:
        return tuple(None for _ in multiples)
    return tuple(None if d is None else d * m for d, m in zip(source, multiples))


@_rule("Pad", "PadV2", "MirrorPad")
def _pad(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    source, pads = _per_axis(shapes, values, "paddings", 2)
    if pads is None or source is None:
        return None
    return tuple(None if d is None else d + pads[2 * i] + pads[2 * i + 1] for i, d in enumerate(source))


@_rule("ResizeBilinear", "ResizeNearestNeighbor")
def _resize(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    size = _ints(values[1]) if len(values) > 1 else None
    source = shapes[0]
    if size is None or len(size) != 2:
        return None
    if min(size) < 1:
        raise ShapeContradiction(f"size {size} has an entry below 1")
    batch, channels = (source[0], source[3]) if source is not None and len(source) == 4 else (None, None)
    return (batch, size[0], size[1], channels)


@_rule("Conv2DBackpropInput")
def _conv_backprop_input(shapes: Sequence[Optional[Shape]], values: Sequence[Any],
                         attrs: dict[str, Any]) -> Optional[Shape]:
    return _dims_from(values[0], "input_sizes")


@_rule("OneHot")
def _one_hot(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    depth = _ints(values[1]) if len(values) > 1 else None
    source = shapes[0]
    if depth is None or len(depth) != 1 or source is None:
        return None
    if depth[0] < 0:
        raise ShapeContradiction(f"depth {depth[0]} is negative")
    axis = int(attrs.get("axis", -1))
    axis = len(source) if axis == -1 else axis
    return tuple(source[:axis]) + (depth[0],) + tuple(source[axis:])


# --- layout --------------------------------------------------------------------------------------

@_rule("Transpose")
def _transpose(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    perm = _ints(values[1]) if len(values) > 1 else None
    source = shapes[0]
    if perm is None or source is None:
        return None
    if sorted(p % len(source) if len(source) else p for p in perm) != list(range(len(source))):
        raise ShapeContradiction(f"perm {perm} is not a permutation of the input's {len(source)} axes")
    return tuple(source[p] for p in perm)


@_rule("ConcatV2")
def _concat(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    axis = _ints(values[-1]) if values else None
    parts = shapes[:-1]
    if axis is None or len(axis) != 1 or not parts or any(s is None for s in parts):
        return None
    rank = len(parts[0] or ())
    if rank == 0 or any(len(s or ()) != rank for s in parts):
        return None
    along = axis[0] % rank
    sizes = [s[along] for s in parts if s is not None]
    out = list(parts[0] or ())
    out[along] = None if None in sizes else sum(d for d in sizes if d is not None)
    return tuple(out)


@_rule("ExpandDims")
def _expand_dims(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    axis = _ints(values[1]) if len(values) > 1 else None
    source = shapes[0]
    if axis is None or len(axis) != 1 or source is None:
        return None
    at = axis[0] % (len(source) + 1)
    return tuple(source[:at]) + (1,) + tuple(source[at:])


@_rule("Squeeze")
def _squeeze(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    source = shapes[0]
    dims = _list(attrs, "squeeze_dims") or _list(attrs, "axis") or []
    if source is None or (not dims and None in source):
        return None
    rank = len(source)
    if any(not -rank <= d < rank for d in dims):
        raise ShapeContradiction(f"squeeze_dims {dims} name axes the input of rank {rank} does not have")
    drop = {d % rank for d in dims} if dims else {i for i, d in enumerate(source) if d == 1}
    return tuple(d for i, d in enumerate(source) if i not in drop)


@_rule("Pack")
def _pack(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    if not shapes or any(s is None for s in shapes):
        return None
    first = shapes[0]
    assert first is not None
    axis = int(attrs.get("axis", 0)) % (len(first) + 1)
    merged: list[Optional[int]] = list(first)
    for shape in shapes[1:]:
        if shape is None or len(shape) != len(merged):
            return None
        merged = [a if a == b or b is None else b if a is None else -1 for a, b in zip(merged, shape)]
    if -1 in merged:
        raise ShapeContradiction(f"the packed inputs have different shapes {[list(s or ()) for s in shapes]}")
    return (*merged[:axis], len(shapes), *merged[axis:])


_REDUCTIONS = ("Sum", "Mean", "Max", "Min", "Prod", "All", "Any", "EuclideanNorm", "ArgMax", "ArgMin")


@_rule(*_REDUCTIONS)
def _reduce(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    axes = _ints(values[1]) if len(values) > 1 else None
    source = shapes[0]
    if axes is None or source is None:
        return None
    rank = len(source)
    if rank == 0:
        return ()
    if any(not -rank <= a < rank for a in axes):
        raise ShapeContradiction(f"axes {axes} name axes the input of rank {rank} does not have")
    reduced = {a % rank for a in axes}
    if attrs.get("keep_dims") and attrs["_op"] not in ("ArgMax", "ArgMin"):
        return tuple(1 if i in reduced else d for i, d in enumerate(source))
    return tuple(d for i, d in enumerate(source) if i not in reduced)


@_rule("Slice")
def _slice(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    begin = _ints(values[1]) if len(values) > 2 else None
    size = _ints(values[2]) if len(values) > 2 else None
    source = shapes[0]
    if begin is None or size is None or source is None or len(begin) != len(source) or len(size) != len(source):
        return None
    out: list[Optional[int]] = []
    for b, n, d in zip(begin, size, source):
        if b < 0 or n < -1 or (d is not None and (b > d or (n != -1 and b + n > d))):
            raise ShapeContradiction(f"begin {begin} and size {size} do not fit in the input {list(source)}")
        out.append((None if d is None else d - b) if n == -1 else n)
    return tuple(out)


@_rule("GatherV2")
def _gather(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    params, indices = shapes[0], shapes[1] if len(shapes) > 1 else None
    axis = _ints(values[2]) if len(values) > 2 else None
    if params is None or indices is None or axis is None or len(axis) != 1 or not params:
        return None
    batch_dims = int(attrs.get("batch_dims", 0))
    if batch_dims:
        return None
    at = axis[0] % len(params)
    return (*params[:at], *indices, *params[at + 1:])


@_rule("Shape")
def _shape(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    return None if not shapes or shapes[0] is None else (len(shapes[0]),)


@_rule("Range")
def _range(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    bounds = [_ints(v) for v in values[:3]]
    if len(bounds) != 3 or any(b is None or len(b) != 1 for b in bounds):
        return None
    start, limit, delta = (b[0] for b in bounds if b is not None)
    if delta == 0:
        raise ShapeContradiction("delta is 0")
    return (max(-(-(limit - start) // delta), 0),)


# --- contractions and windows --------------------------------------------------------------------

@_rule("MatMul", "_FusedMatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def _matmul(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    a, b = (list(shapes) + [None, None])[:2]
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        return None
    rows = a[-1] if attrs.get("transpose_a", attrs.get("adj_x", False)) else a[-2]
    cols = b[-2] if attrs.get("transpose_b", attrs.get("adj_y", False)) else b[-1]
    batch = _broadcast([a[:-2], b[:-2]], values, attrs) or ()
    return tuple(batch) + (rows, cols)


def _list(attrs: dict[str, Any], key: str) -> Optional[list[int]]:
    value = attrs.get(key)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return [int(value)]


# Window attributes: name -> what it is, for the messages.
_WINDOW_ATTRS = {"ksize": "kernel size", "ksizes": "kernel size", "strides": "stride",
                 "dilations": "dilation", "rates": "dilation", "block_size": "block size"}
_WINDOW_OPS = frozenset({
    "Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "Conv3D",
    "Conv2DBackpropInput", "Conv3DBackpropInputV2", "MaxPool", "AvgPool", "MaxPoolWithArgmax",
    "MaxPool3D", "AvgPool3D", "ExtractImagePatches", "DepthToSpace", "SpaceToDepth", "Dilation2D",
})


def window_problem(op: str, attrs: dict[str, Any]) -> Optional[str]:
    """Why the window attributes of ``op`` are outside any sane range, or None."""
    if op not in _WINDOW_OPS:
        return None
    for key, what in _WINDOW_ATTRS.items():
        values = _list(attrs, key)
        if values is None:
            continue
        if any(v < 1 for v in values):
            return f"{what} {values} has an entry below 1"
        if any(v > MAX_WINDOW_EXTENT for v in values):
            return f"{what} {values} has an entry over {MAX_WINDOW_EXTENT}"
        if key in ("ksize", "ksizes") and math.prod(values) > MAX_WINDOW_ELEMENTS:
            return f"{what} {values} covers over {MAX_WINDOW_ELEMENTS} elements"
    return None


def _spatial_axes(rank: int, attrs: dict[str, Any]) -> list[int]:
    channels_first = to_str(attrs.get("data_format"), "NHWC").startswith("NC")
    return list(range(2, rank)) if channels_first else list(range(1, rank - 1))


def _windowed(source: Shape, kernel: Sequence[Optional[int]], attrs: dict[str, Any], channels: Optional[int]) -> Shape:
    """``source`` after a window of ``kernel`` (spatial sizes) slid by the node's strides/dilations/padding."""
    rank = len(source)
    axes = _spatial_axes(rank, attrs)
    strides = _list(attrs, "strides") or [1] * rank
    dilations = _list(attrs, "dilations") or [1] * rank
    padding = to_str(attrs.get("padding"), "VALID")
    explicit = _list(attrs, "explicit_paddings") or [0] * (2 * rank)
    out = list(source)
    for i, axis in enumerate(axes):
        k = kernel[i] if i < len(kernel) else None
        size = source[axis]
        step = strides[axis] if len(strides) == rank else 1
        dilation = dilations[axis] if len(dilations) == rank else 1
        if k is not None and (k - 1) * dilation + 1 > MAX_WINDOW_EXTENT:
            raise ShapeContradiction(f"the dilated kernel spans {(k - 1) * dilation + 1} positions "
                                     f"(over {MAX_WINDOW_EXTENT})")
        if size is None or k is None:
            out[axis] = None
            continue
        lo_hi = (explicit[2 * axis], explicit[2 * axis + 1]) if len(explicit) == 2 * rank else (0, 0)
        _, _, length = _pad_1d(size, k, step, dilation, padding, lo_hi)
        if length < 1 and size > 0:
            raise ShapeContradiction(f"a window spanning {(k - 1) * dilation + 1} positions does not fit "
                                     f"in a dimension of {size + sum(lo_hi)} ({padding} padding)")
        out[axis] = max(length, 0)
    channel_axis = 1 if to_str(attrs.get("data_format"), "NHWC").startswith("NC") else rank - 1
    if channels is not None or out[channel_axis] is not None:
        out[channel_axis] = channels if channels is not None else out[channel_axis]
    return tuple(out)


@_rule("Conv2D", "_FusedConv2D", "Conv3D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")
def _conv(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    source, weights = shapes[0], shapes[1] if len(shapes) > 1 else None
    if source is None or weights is None or len(source) != len(weights) or len(source) < 3:
        return None
    depthwise = "Depthwise" in str(attrs.get("_op", ""))
    rank = len(source)
    channel_axis = 1 if to_str(attrs.get("data_format"), "NHWC").startswith("NC") else rank - 1
    in_channels, multiplier = source[channel_axis], weights[-1]
    if depthwise:
        channels = None if in_channels is None or multiplier is None else in_channels * multiplier
    else:
        channels = multiplier
    return _windowed(source, weights[:-2], attrs, channels)


@_rule("MaxPool", "AvgPool", "MaxPoolWithArgmax", "MaxPool3D", "AvgPool3D")
def _pool(shapes: Sequence[Optional[Shape]], values: Sequence[Any], attrs: dict[str, Any]) -> Optional[Shape]:
    source = shapes[0]
    ksize = _list(attrs, "ksize")
    if source is None or ksize is None or len(ksize) != len(source):
        return None
    kernel = [ksize[axis] for axis in _spatial_axes(len(source), attrs)]
    return _windowed(source, kernel, {**attrs, "dilations": None}, None)


def output_shape(op: str, shapes: Sequence[Optional[Shape]], values: Sequence[Optional[np.ndarray]],
                 attrs: dict[str, Any]) -> Optional[Shape]:
    """The static shape of output 0 of ``op`` (unknown dimensions ``None``), or None when no rule
    tells it. ``values`` are the inputs' constant values where known (small ones are read).

    Raises:
        ShapeContradiction: the node cannot run whatever the unknown dimensions are.
    """
    rule = _RULES.get(op)
    if rule is None:
        return None
    return rule(list(shapes), list(values), {**attrs, "_op": op})
