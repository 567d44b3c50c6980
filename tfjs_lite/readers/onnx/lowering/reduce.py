"""Reductions and ops along one axis: Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax, CumSum, TopK.

Axes stay ONNX's. TF's Softmax/TopK work on the last axis only, so another axis is moved last and
back with a transpose pair (which the layout pass may cancel).
"""

from __future__ import annotations

from tfjs_lite.ir.attrs import DType
from tfjs_lite.readers.onnx.context import LoweringContext, V
from tfjs_lite.readers.onnx.lowering import lowers
from tfjs_lite.readers.onnx.lowering.elementwise import binary, unary
from tfjs_lite.readers.onnx.lowering.shape import reshape

# ONNX op -> (TF reduction, transform before, transform after)
_REDUCE = {
    "ReduceSum": ("Sum", None, None), "ReduceMean": ("Mean", None, None), "ReduceMax": ("Max", None, None),
    "ReduceMin": ("Min", None, None), "ReduceProd": ("Prod", None, None), "ReduceL1": ("Sum", "Abs", None),
    "ReduceL2": ("Sum", "Square", "Sqrt"), "ReduceSumSquare": ("Sum", "Square", None),
    "ReduceLogSum": ("Sum", None, "Log"), "ReduceLogSumExp": ("Sum", None, None),
}
# Opset from which the op takes its axes as an input instead of an attribute.
_AXES_INPUT_SINCE = {"ReduceSum": 13}


def reduce(ctx: LoweringContext, tf_op: str, x: V, axes: list[int], keep: bool) -> V:
    shape = None
    if x.shape is not None:
        shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape) if keep or i not in axes)
    return ctx.emit(tf_op, [x, ctx.int_const(axes)], {"T": DType(x.dtype), "Tidx": DType("DT_INT32"),
                                                      "keep_dims": keep}, shape=shape)


@lowers(*_REDUCE)
def _reduce(ctx: LoweringContext) -> list[V]:
    op = ctx.node.op_type  # type: ignore[union-attr]
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    if ctx.opset >= _AXES_INPUT_SINCE.get(op, 18):
        value = ctx.const_input(1, "axes")
        axes = None if value is None or value.size == 0 else [int(a) for a in value.reshape(-1)]
    else:
        axes = ctx.attr("axes")
    if axes is None:
        if ctx.attr("noop_with_empty_axes", 0):
            return [x]
        axes = list(range(rank))
    axes = sorted({ctx.axis(int(a), rank) for a in axes})
    keep = bool(ctx.attr("keepdims", 1))
    tf_op, before, after = _REDUCE[op]
    if op == "ReduceLogSumExp":
        peak = reduce(ctx, "Max", x, axes, True)
        total = reduce(ctx, "Sum", unary(ctx, "Exp", binary(ctx, "Sub", x, peak)), axes, keep)
        peak = peak if keep else reduce(ctx, "Max", x, axes, False)
        return [binary(ctx, "AddV2", unary(ctx, "Log", total), peak)]
    if x.dtype == "DT_BOOL":
        x = ctx.cast(x, "DT_INT32")
    if before:
        x = unary(ctx, before, x)
    y = reduce(ctx, tf_op, x, axes, keep)
    return [unary(ctx, after, y) if after else y]


@lowers("ArgMax", "ArgMin")
def _arg(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    axis = ctx.axis(int(ctx.attr("axis", 0)), rank)
    op = ctx.node.op_type  # type: ignore[union-attr]
    if ctx.attr("select_last_index", 0):
        raise ctx.unsupported("select_last_index=1 is not supported")
    shape = None if x.shape is None else tuple(d for i, d in enumerate(x.shape) if i != axis)
    y = ctx.emit(op, [x, ctx.int_const(axis)], {"T": DType(x.dtype), "Tidx": DType("DT_INT32"),
                                                "output_type": DType("DT_INT32")}, shape=shape, dtype="DT_INT32")
    if ctx.attr("keepdims", 1):
        y = ctx.emit("ExpandDims", [y, ctx.int_const(axis)], {"T": DType("DT_INT32"), "Tdim": DType("DT_INT32")},
                     shape=None if x.shape is None else tuple(1 if i == axis else d for i, d in enumerate(x.shape)))
    return [y]


def _last_axis_perm(rank: int, axis: int) -> list[int]:
    perm = list(range(rank))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    return perm


@lowers("Softmax", "LogSoftmax")
def _softmax(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    axis = ctx.axis(int(ctx.attr("axis", -1)), rank)
    op = ctx.node.op_type  # type: ignore[union-attr]
    if ctx.opset < 13 and axis < rank - 1:
        return [_coerced_softmax(ctx, x, axis, op)]
    perm = _last_axis_perm(rank, axis)
    y = unary(ctx, op, ctx.transpose(x, perm))
    return [ctx.transpose(y, perm)]


def _coerced_softmax(ctx: LoweringContext, x: V, axis: int, op: str) -> V:
    """Before opset 13, (Log)Softmax normalises over all the dims from ``axis`` on together (the
    input coerced to 2-D ``[prod(before), prod(from axis)]``): reshape, normalise the last axis, and
    reshape back. With ``axis`` the last dim this is the opset-13 op, which needs none of it."""
    shape = x.shape
    if shape is None or any(d is None for d in shape[axis:]):
        raise ctx.unsupported("Softmax before opset 13 needs static sizes from its axis on")
    inner = 1
    for d in shape[axis:]:
        inner *= int(d)  # type: ignore[arg-type]
    flat = reshape(ctx, x, [-1, inner])
    y = unary(ctx, op, flat)
    if x.static_shape() is not None:
        return reshape(ctx, y, list(x.static_shape()))  # type: ignore[arg-type]
    dims = ctx.emit("Shape", [x], {"T": DType(x.dtype), "out_type": DType("DT_INT32")}, shape=(len(shape),),
                    dtype="DT_INT32")
    return reshape(ctx, y, dims, shape)


@lowers("CumSum")
def _cumsum(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    axis = ctx.axis(int(ctx.const_input(1, "axis").reshape(-1)[0]), ctx.rank_of(x))  # type: ignore[union-attr]
    return [ctx.emit("Cumsum", [x, ctx.int_const(axis)], {"T": DType(x.dtype), "Tidx": DType("DT_INT32"),
                                                           "exclusive": bool(ctx.attr("exclusive", 0)),
                                                           "reverse": bool(ctx.attr("reverse", 0))}, shape=x.shape)]


@lowers("TopK")
def _top_k(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    axis = ctx.axis(int(ctx.attr("axis", -1)), rank)
    k = int(ctx.const_input(1, "K").reshape(-1)[0])  # type: ignore[union-attr]
    if not ctx.attr("sorted", 1):
        pass  # any order is allowed; TF's sorted order is one of them
    perm = _last_axis_perm(rank, axis)
    moved = ctx.transpose(x, perm)
    largest = ctx.attr("largest", 1)
    if not largest:
        moved = unary(ctx, "Neg", moved)
    shape = None if moved.shape is None else (*moved.shape[:-1], k)
    values, indices = ctx.emit("TopKV2", [moved, ctx.int_const(k)], {"T": DType(x.dtype), "sorted": True},
                               shape=[shape, shape], outputs=2)
    indices.dtype = "DT_INT32"
    if not largest:
        values = unary(ctx, "Neg", values)
    return [ctx.transpose(values, perm), ctx.transpose(indices, perm)]
