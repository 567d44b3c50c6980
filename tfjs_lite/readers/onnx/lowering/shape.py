"""Shape-producing and shape-changing ONNX ops: Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze,
Expand, Tile, ConstantOfShape, Range, Constant.

When the shapes involved are static the results are numpy constants, which is what folds the
exporters' ``Shape -> Gather -> Concat -> Reshape`` chains away.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tfjs_lite.ir.attrs import DType
from tfjs_lite.readers.onnx.context import FOLD_LIMIT, LoweringContext, V
from tfjs_lite.readers.onnx.lowering import lowers
from tfjs_lite.readers.onnx.lowering.elementwise import binary, broadcast_shape

__all__ = ["reshape"]


def reshape(ctx: LoweringContext, x: V, shape: Any, out_shape: Any = None) -> V:
    """``Reshape(x, shape)``; ``shape`` is a list (no 0s) or a V."""
    if isinstance(shape, V):
        if shape.value is None:
            return ctx.emit("Reshape", [x, ctx.cast(shape, "DT_INT32")], {"T": DType(x.dtype),
                                                                         "Tshape": DType("DT_INT32")}, shape=out_shape)
        shape = [int(d) for d in shape.value.reshape(-1)]
    if x.value is not None:
        return ctx.const(x.value.reshape(shape))
    if x.static_shape() is not None and list(x.static_shape()) == list(shape):  # type: ignore[arg-type]
        return x  # a reshape to its own shape (keeps the layout pass free to move transposes)
    if out_shape is None:
        out_shape = tuple(None if d == -1 else d for d in shape)
        known = x.static_shape()
        if known is not None and -1 in shape:
            rest = math.prod(d for d in shape if d != -1)
            out_shape = tuple(math.prod(known) // max(rest, 1) if d == -1 else d for d in shape)
    return ctx.emit("Reshape", [x, ctx.int_const(shape)], {"T": DType(x.dtype), "Tshape": DType("DT_INT32")},
                    shape=out_shape)


def _dims_tensor(ctx: LoweringContext, x: V) -> V:
    """``Shape(x)`` as a constant when static, else a graph op (int32)."""
    known = x.static_shape()
    if known is not None:
        return ctx.const(np.array(known, dtype=np.int64))
    dims = ctx.emit("Shape", [x], {"T": DType(x.dtype), "out_type": DType("DT_INT32")},
                    shape=(x.rank,) if x.rank is not None else None, dtype="DT_INT32")
    dims.known = None if x.shape is None else list(x.shape)
    return dims


@lowers("Shape")
def _shape(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    dims = _dims_tensor(ctx, x)
    start, end = ctx.attr("start", 0), ctx.attr("end")
    if start == 0 and end is None:
        return [dims]
    rank = ctx.rank_of(x)
    start = min(max(start + rank if start < 0 else start, 0), rank)
    end = rank if end is None else min(max(end + rank if end < 0 else end, 0), rank)
    if dims.value is not None:
        return [ctx.const(dims.value[start:end])]
    if dims.known is not None and None not in dims.known[start:end]:
        return [ctx.const(np.array(dims.known[start:end], dtype=np.int64))]
    part = ctx.emit("Slice", [dims, ctx.int_const([start]), ctx.int_const([max(end - start, 0)])],
                    {"T": DType("DT_INT32"), "Index": DType("DT_INT32")}, shape=(max(end - start, 0),))
    part.known = None if dims.known is None else dims.known[start:end]
    return [part]


@lowers("Size")
def _size(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    known = x.static_shape()
    if known is not None:
        return [ctx.const(np.int64(math.prod(known)))]
    return [ctx.emit("Size", [x], {"T": DType(x.dtype), "out_type": DType("DT_INT32")}, shape=(), dtype="DT_INT32")]


@lowers("Reshape")
def _reshape(ctx: LoweringContext) -> list[V]:
    x, shape = ctx.input(0), ctx.input(1)
    assert x is not None and shape is not None
    if shape.value is None:
        target = shape.known
        if target is not None and x.shape is not None and list(x.shape) == target and target.count(None) <= 1 \
                and 0 not in target:
            return [x]  # Reshape(x, Shape(y)) with y shaped like x: one unknown dim is forced equal
        out = shape.described_shape()
        if out is not None and x.shape is not None and shape.known is not None and 0 in shape.known:
            out = tuple(x.shape[i] if d == 0 and i < len(x.shape) else o  # ONNX's 0 copies the input dim
                        for i, (d, o) in enumerate(zip(shape.known, out)))
        return [reshape(ctx, x, shape, out)]
    target = [int(d) for d in shape.value.reshape(-1)]
    if not ctx.attr("allowzero", 0) and 0 in target:
        dims = [x.shape[i] if x.shape is not None and i < len(x.shape) else None for i in range(len(target))]
        if any(d == 0 and dims[i] is None for i, d in enumerate(target)):
            pieces = [ctx.emit("StridedSlice", [_dims_tensor(ctx, x), ctx.int_const([i]), ctx.int_const([i + 1]),
                                                ctx.int_const([1])], _strided(), shape=(1,), dtype="DT_INT32")
                      if d == 0 else ctx.int_const([d]) for i, d in enumerate(target)]
            packed = ctx.emit("ConcatV2", [*pieces, ctx.int_const(0)], {"N": len(pieces), "T": DType("DT_INT32"),
                                                                         "Tidx": DType("DT_INT32")},
                              shape=(len(target),), dtype="DT_INT32")
            out = tuple(x.shape[i] if d == 0 else (None if d == -1 else d) for i, d in enumerate(target))  # type: ignore[index]
            return [reshape(ctx, x, packed, out)]
        target = [dims[i] if d == 0 else d for i, d in enumerate(target)]
    return [reshape(ctx, x, target)]


def _strided() -> dict[str, Any]:
    return {"T": DType("DT_INT32"), "Index": DType("DT_INT32"), "begin_mask": 0, "end_mask": 0,
            "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0}


@lowers("Flatten")
def _flatten(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    axis = ctx.axis(int(ctx.attr("axis", 1)), rank + 1)
    head, tail = x.shape[:axis], x.shape[axis:]  # type: ignore[index]
    lead = None if None in head else math.prod(head)
    trail = None if None in tail else math.prod(tail)
    if lead is None and trail is None:
        raise ctx.unsupported("Flatten needs static dims on at least one side of the axis")
    return [reshape(ctx, x, [-1 if lead is None else lead, -1 if trail is None else trail], (lead, trail))]


def _axes(ctx: LoweringContext, index: int) -> list[int] | None:
    if ctx.opset >= 13:
        value = ctx.const_input(index, "axes")
        return None if value is None else [int(a) for a in value.reshape(-1)]
    attr = ctx.attr("axes")
    return None if attr is None else [int(a) for a in attr]


@lowers("Squeeze")
def _squeeze(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    axes = _axes(ctx, 1)
    if axes is None:
        if x.static_shape() is None:
            raise ctx.unsupported("Squeeze without axes needs a static input shape")
        axes = [i for i, d in enumerate(x.shape) if d == 1]  # type: ignore[arg-type]
    axes = sorted(ctx.axis(a, rank) for a in axes)
    shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)  # type: ignore[arg-type]
    if x.value is not None:
        return [ctx.const(np.squeeze(x.value, axis=tuple(axes)))]
    squeezed = ctx.emit("Squeeze", [x], {"T": DType(x.dtype), "squeeze_dims": axes}, shape=shape)
    squeezed.known = x.known
    return [squeezed]


@lowers("Unsqueeze")
def _unsqueeze(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    axes = _axes(ctx, 1) or []
    axes = sorted(ctx.axis(a, rank + len(axes)) for a in axes)
    if x.value is not None:
        return [ctx.const(np.expand_dims(x.value, tuple(axes)))]
    known = x.known
    for a in axes:
        dims = list(x.shape or ())  # rank_of() proved the shape's rank
        shape = (*dims[:a], 1, *dims[a:])
        x = ctx.emit("ExpandDims", [x, ctx.int_const(a)], {"T": DType(x.dtype), "Tdim": DType("DT_INT32")},
                     shape=shape)
    x.known = known
    return [x]


@lowers("Expand")
def _expand(ctx: LoweringContext) -> list[V]:
    x, shape = ctx.input(0), ctx.input(1)
    assert x is not None and shape is not None
    if shape.value is not None:
        target = tuple(int(d) for d in shape.value.reshape(-1))
        out = broadcast_shape(x.shape, target)
        if x.value is not None and out is not None and math.prod(out) <= FOLD_LIMIT:  # type: ignore[arg-type]
            return [ctx.const(np.broadcast_to(x.value, out).copy())]  # type: ignore[arg-type]
        if out is not None and None not in out:
            return [ctx.emit("BroadcastTo", [x, ctx.int_const(out)], {"T": DType(x.dtype), "Tidx": DType("DT_INT32")},
                             shape=out)]
    # Bidirectional broadcast against a runtime shape: multiply by ones of that shape.
    ones = ctx.emit("Fill", [ctx.cast(shape, "DT_INT32"), ctx.cast(ctx.const(np.float32(1)), x.dtype)],
                    {"T": DType(x.dtype), "index_type": DType("DT_INT32")}, shape=shape.described_shape())
    op = "LogicalAnd" if x.dtype == "DT_BOOL" else "Mul"
    return [binary(ctx, op, x, ones)]


@lowers("Tile")
def _tile(ctx: LoweringContext) -> list[V]:
    x, repeats = ctx.input(0), ctx.input(1)
    assert x is not None and repeats is not None
    reps = None if repeats.value is None else [int(r) for r in repeats.value.reshape(-1)]
    shape = None
    if x.shape is not None:  # runtime repeats: the rank is still the input's
        shape = tuple(None if d is None or reps is None else d * reps[i] for i, d in enumerate(x.shape))
    return [ctx.emit("Tile", [x, ctx.cast(repeats, "DT_INT32")], {"T": DType(x.dtype), "Tmultiples": DType("DT_INT32")},
                     shape=shape)]


@lowers("ConstantOfShape")
def _constant_of_shape(ctx: LoweringContext) -> list[V]:
    shape = ctx.input(0)
    assert shape is not None
    fill = ctx.attr("value")
    fill = np.zeros(1, dtype=np.float32) if fill is None else np.asarray(fill).reshape(-1)[:1]
    if shape.value is not None:
        dims = [int(d) for d in shape.value.reshape(-1)]
        if any(d < 0 for d in dims):
            raise ctx.unsupported(f"negative dimension in {dims}")
        if math.prod(dims) <= FOLD_LIMIT:
            return [ctx.const(np.full(dims, fill[0], dtype=fill.dtype))]
    return [ctx.emit("Fill", [ctx.cast(shape, "DT_INT32"), ctx.const(fill.reshape(()))],
                     {"T": DType(ctx.const(fill).dtype), "index_type": DType("DT_INT32")},
                     shape=shape.described_shape(), dtype=ctx.const(fill).dtype)]


@lowers("Range")
def _range(ctx: LoweringContext) -> list[V]:
    start, limit, delta = ctx.input(0), ctx.input(1), ctx.input(2)
    assert start is not None and limit is not None and delta is not None
    if start.value is not None and limit.value is not None and delta.value is not None:
        s, lim, d = (a.reshape(-1)[0].item() for a in (start.value, limit.value, delta.value))
        if d != 0 and max(math.ceil((lim - s) / d), 0) <= FOLD_LIMIT:
            return [ctx.const(np.arange(s, lim, d).astype(start.value.dtype))]
    return [ctx.emit("Range", [start, limit, delta], {"Tidx": DType(start.dtype)}, shape=(None,))]


@lowers("Constant")
def _constant(ctx: LoweringContext) -> list[V]:
    node = ctx.node
    assert node is not None
    if "value" in node.attrs:
        return [ctx.const(node.attrs["value"])]
    kinds = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64, "value_ints": np.int64}
    for key, dtype in kinds.items():
        if key in node.attrs:
            return [ctx.const(np.asarray(node.attrs[key], dtype=dtype))]
    raise ctx.unsupported(f"Constant with attributes {sorted(node.attrs)} is not supported")
