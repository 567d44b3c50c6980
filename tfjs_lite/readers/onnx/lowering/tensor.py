"""Data-movement ONNX ops: Transpose, Concat, Split, Slice, Gather*, ScatterND, Pad,
DepthToSpace/SpaceToDepth. Axes stay ONNX's (no layout change) except for the depth/space ops,
which are channels-last in TF.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfjs_lite.ir.attrs import DType
from tfjs_lite.limits import MAX_SHAPE_DERIVED_ELEMENTS
from tfjs_lite.readers.onnx.context import LoweringContext, V
from tfjs_lite.readers.onnx.lowering import lowers

__all__ = ["concat", "strided_slice"]

_INT32_MAX = 2**31 - 1


@lowers("Transpose")
def _transpose(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    perm = ctx.attr("perm") or list(reversed(range(rank)))
    return [ctx.transpose(x, perm)]


def concat(ctx: LoweringContext, values: list[V], axis: int) -> V:
    if all(v.value is not None for v in values):
        return ctx.const(np.concatenate([v.value for v in values], axis=axis))
    pieces = [v.elements() for v in values]
    known = None
    if all(p is not None and v.rank == 1 for p, v in zip(pieces, values)):
        known = [e for p in pieces for e in p]  # type: ignore[union-attr]
        if None not in known:
            return ctx.const(np.array(known, dtype=np.int64))
    shape = None
    if all(v.shape is not None for v in values):
        first = list(values[0].shape)  # type: ignore[arg-type]
        sizes = [v.shape[axis] for v in values]  # type: ignore[index]
        first[axis] = None if None in sizes else sum(sizes)  # type: ignore[arg-type]
        shape = tuple(first)
    dtype = values[0].dtype
    out = ctx.emit("ConcatV2", [*[ctx.cast(v, dtype) for v in values], ctx.int_const(axis)],
                   {"N": len(values), "T": DType(dtype), "Tidx": DType("DT_INT32")}, shape=shape)
    out.known = known
    return out


@lowers("Concat")
def _concat(ctx: LoweringContext) -> list[V]:
    present = [v for v in ctx.inputs() if v is not None]
    values = [v for v in present if v.shape != (0,)] or present[:1]  # empty pieces add nothing
    return [concat(ctx, values, ctx.axis(int(ctx.attr("axis")), ctx.rank_of(values[0])))]


@lowers("Split")
def _split(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    axis = ctx.axis(int(ctx.attr("axis", 0)), rank)
    count = len(ctx.node.outputs)  # type: ignore[union-attr]
    sizes = ctx.const_input(1, "split") if ctx.opset >= 13 else ctx.attr("split")
    dim = x.shape[axis]  # type: ignore[index]
    if sizes is None:
        if dim is None:
            raise ctx.unsupported("Split without sizes needs a static dimension")
        chunk = -(-dim // count)
        sizes = [min(chunk, dim - i * chunk) for i in range(count)]
    sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
    if len(sizes) != count or min(sizes) < 0 or (dim is not None and sum(sizes) != dim):
        raise ValueError(f"split sizes {sizes} do not cut a dimension of {dim} into {count} outputs")
    if x.value is not None:
        return [ctx.const(a) for a in np.split(x.value, np.cumsum(sizes)[:-1], axis=axis)]
    # One single-output slice per piece rather than SplitV: a transpose above fans out to the
    # slices, which the layout pass can sink through one by one (YOLO's C2f blocks split channels).
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return [strided_slice(ctx, x, [int(start)], [int(start + size)], [axis], [1])
            for start, size in zip(starts, sizes)]


def _clamp(value: int) -> int:
    return max(min(value, _INT32_MAX), -_INT32_MAX)


def strided_slice(ctx: LoweringContext, x: V, starts: list[int], ends: list[int], axes: list[int],
                  steps: list[int]) -> V:
    """ONNX Slice semantics (Python slicing per axis) with a TF StridedSlice."""
    rank = ctx.rank_of(x)
    picked = None
    if x.value is not None or (x.known is not None and rank == 1):
        index = [slice(None)] * rank
        for s, e, a, st in zip(starts, ends, axes, steps):
            index[a] = slice(s, e, st)
        if x.value is not None:
            return ctx.const(x.value[tuple(index)])
        picked = x.known[index[0]]  # type: ignore[index]
        if None not in picked:
            return ctx.const(np.array(picked, dtype=np.int64))
    begin, end, stride = [0] * rank, [0] * rank, [1] * rank
    begin_mask = end_mask = 0
    shape = list(x.shape)  # type: ignore[arg-type]
    for a in range(rank):
        if a not in axes:
            begin_mask |= 1 << a
            end_mask |= 1 << a
    for s, e, a, st in zip(starts, ends, axes, steps):
        stride[a] = st
        dim = shape[a]
        if dim is not None:
            shape[a] = len(range(dim)[slice(s, e, st)])
        if (st > 0 and s <= -_INT32_MAX) or (st < 0 and s >= _INT32_MAX):
            begin_mask |= 1 << a
        else:
            begin[a] = _clamp(s)
        if (st > 0 and e >= _INT32_MAX) or (st < 0 and e <= -_INT32_MAX):
            end_mask |= 1 << a
        elif st < 0 and dim is not None and e < -dim:  # before index 0: TF would wrap a clamped -1
            end_mask |= 1 << a
        else:
            end[a] = _clamp(e)
    attrs = {"T": DType(x.dtype), "Index": DType("DT_INT32"), "begin_mask": begin_mask, "end_mask": end_mask,
             "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0}
    out = ctx.emit("StridedSlice", [x, ctx.int_const(begin), ctx.int_const(end), ctx.int_const(stride)], attrs,
                   shape=tuple(shape))
    out.known = picked  # Shape(x)[:2] with a symbolic batch: the channel count stays known
    return out


@lowers("Slice")
def _slice(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    starts, ends = ctx.const_ints(1, "starts") or [], ctx.const_ints(2, "ends") or []
    axes = ctx.axes_input(3, rank, list(range(len(starts))))
    steps = ctx.const_ints(4, "steps") or [1] * len(starts)
    return [strided_slice(ctx, x, starts, ends, axes, steps)]  # type: ignore[arg-type]


def _indices(ctx: LoweringContext, indices: V, dim: int | None) -> V:
    """Indices as int32 with negatives wrapped (ONNX counts them from the end; TF.js does not)."""
    if indices.value is not None:
        value = indices.value.astype(np.int64)
        if (value < 0).any():
            if dim is None:
                raise ctx.unsupported("negative indices into a dimension of unknown size")
            value = np.where(value < 0, value + dim, value)
        return ctx.const(value.astype(np.int32))
    indices = ctx.cast(indices, "DT_INT32")
    if dim is None:
        return indices
    return ctx.emit("FloorMod", [indices, ctx.int_const(dim)], {"T": DType("DT_INT32")}, shape=indices.shape)


@lowers("Gather")
def _gather(ctx: LoweringContext) -> list[V]:
    x, indices = ctx.input(0), ctx.input(1)
    assert x is not None and indices is not None
    rank = ctx.rank_of(x)
    axis = ctx.axis(int(ctx.attr("axis", 0)), rank)
    if x.value is not None and indices.value is not None:
        return [ctx.const(np.take(x.value, indices.value.astype(np.int64), axis=axis))]
    picked = None
    if x.known is not None and indices.value is not None and indices.value.ndim <= 1:
        # np.asarray: a scalar index (``x.size(1)`` in PyTorch) picks one element, not an array
        picked = np.asarray(np.take(np.array(x.known, dtype=object), indices.value.astype(np.int64), axis=0))
        if None not in picked.reshape(-1).tolist():
            return [ctx.const(picked.astype(np.int64))]
    indices = _indices(ctx, indices, x.shape[axis])  # type: ignore[index]
    shape = None if indices.shape is None else (*x.shape[:axis], *indices.shape, *x.shape[axis + 1:])  # type: ignore[index]
    out = ctx.emit("GatherV2", [x, indices, ctx.int_const(axis)],
                   {"Tparams": DType(x.dtype), "Tindices": DType("DT_INT32"), "Taxis": DType("DT_INT32"),
                    "batch_dims": 0}, shape=shape, dtype=x.dtype)
    if picked is not None:  # the static elements stay known (the batch dim of Shape(x) does not)
        out.known = picked.reshape(-1).tolist()
    return [out]


@lowers("GatherElements")
def _gather_elements(ctx: LoweringContext) -> list[V]:
    x, indices = ctx.input(0), ctx.input(1)
    assert x is not None and indices is not None
    nd, shape = _element_coordinates(ctx, x, indices)
    return [ctx.emit("GatherNd", [x, nd], {"Tparams": DType(x.dtype), "Tindices": DType("DT_INT32")},
                     shape=shape, dtype=x.dtype)]


def _element_coordinates(ctx: LoweringContext, x: V, indices: V) -> tuple[V, tuple[int, ...]]:
    """GatherElements/ScatterElements indices (along the node's ``axis``) as full ``GatherNd``-style
    coordinates ``[*indices.shape, rank]``: the index on the axis, each position's own elsewhere."""
    rank = ctx.rank_of(x)
    axis = ctx.axis(int(ctx.attr("axis", 0)), rank)
    shape = indices.static_shape()
    if shape is None:
        raise ctx.unsupported(f"{ctx.node.op_type} needs static index shapes")  # type: ignore[union-attr]
    indices = _indices(ctx, indices, x.shape[axis])  # type: ignore[index]
    grids = np.indices(shape, dtype=np.int32)
    coords = [ctx.expand_last(indices) if i == axis else ctx.const(grids[i][..., None]) for i in range(rank)]
    return concat_last(ctx, coords, shape, rank), shape


@lowers("ScatterElements")
def _scatter_elements(ctx: LoweringContext) -> list[V]:
    """``TensorScatterUpdate`` at full coordinates; ``reduction="add"`` adds a ``ScatterNd`` of the
    updates (which sums repeated coordinates, as ONNX's add does) to the data."""
    x, indices, updates = ctx.input(0), ctx.input(1), ctx.input(2)
    assert x is not None and indices is not None and updates is not None
    reduction = ctx.attr("reduction", "none")
    if reduction not in ("none", "add"):
        raise ctx.unsupported(f"ScatterElements reduction {reduction!r} is not supported (only none, add)")
    nd, _ = _element_coordinates(ctx, x, indices)
    if reduction == "none":
        return [ctx.emit("TensorScatterUpdate", [x, nd, updates], {"T": DType(x.dtype), "Tindices": DType("DT_INT32")},
                         shape=x.shape)]
    shape = x.static_shape()
    if shape is None:
        raise ctx.unsupported("ScatterElements with reduction='add' needs a static data shape")
    added = ctx.emit("ScatterNd", [nd, updates, ctx.int_const(list(shape))],
                     {"T": DType(x.dtype), "Tindices": DType("DT_INT32")}, shape=shape)
    return [ctx.emit("AddV2", [x, added], {"T": DType(x.dtype)}, shape=shape)]


def concat_last(ctx: LoweringContext, parts: list[V], shape: tuple[int, ...], rank: int) -> V:
    return ctx.emit("ConcatV2", [*parts, ctx.int_const(len(shape))],
                    {"N": len(parts), "T": DType("DT_INT32"), "Tidx": DType("DT_INT32")},
                    shape=(*shape, rank), dtype="DT_INT32")


@lowers("GatherND")
def _gather_nd(ctx: LoweringContext) -> list[V]:
    x, indices = ctx.input(0), ctx.input(1)
    assert x is not None and indices is not None
    if ctx.attr("batch_dims", 0):
        raise ctx.unsupported("GatherND with batch_dims is not supported")
    return [ctx.emit("GatherNd", [x, ctx.cast(indices, "DT_INT32")],
                     {"Tparams": DType(x.dtype), "Tindices": DType("DT_INT32")}, shape=None, dtype=x.dtype)]


@lowers("ScatterND")
def _scatter_nd(ctx: LoweringContext) -> list[V]:
    x, indices, updates = ctx.input(0), ctx.input(1), ctx.input(2)
    assert x is not None and indices is not None and updates is not None
    if ctx.attr("reduction", "none") != "none":
        raise ctx.unsupported(f"ScatterND reduction {ctx.attr('reduction')!r} is not supported")
    return [ctx.emit("TensorScatterUpdate", [x, ctx.cast(indices, "DT_INT32"), updates],
                     {"T": DType(x.dtype), "Tindices": DType("DT_INT32")}, shape=x.shape)]


@lowers("Pad")
def _pad(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    rank = ctx.rank_of(x)
    pads = ctx.const_ints(1, "pads") or []
    axes: list[int] = ctx.axes_input(3, rank, list(range(rank)))  # type: ignore[assignment]
    table = np.zeros((rank, 2), dtype=np.int32)
    for i, a in enumerate(axes):
        table[a] = (pads[i], pads[i + len(axes)])
    if (table < 0).any():
        raise ctx.unsupported("negative pads are not supported")
    shape = None if x.shape is None else tuple(None if d is None else d + int(table[i].sum())
                                               for i, d in enumerate(x.shape))
    mode = ctx.attr("mode", "constant")
    attrs: dict[str, Any] = {"T": DType(x.dtype), "Tpaddings": DType("DT_INT32")}
    if mode == "reflect":
        return [ctx.emit("MirrorPad", [x, ctx.const(table)], {**attrs, "mode": "REFLECT"}, shape=shape)]
    if mode in ("edge", "wrap"):
        if mode == "edge" and table.max() <= 1:  # 1 wide: the edge is its own mirror image
            return [ctx.emit("MirrorPad", [x, ctx.const(table)], {**attrs, "mode": "SYMMETRIC"}, shape=shape)]
        return [_pad_by_gather(ctx, x, table, mode)]
    if mode != "constant":
        raise ctx.unsupported(f"Pad mode {mode!r} is not supported")
    value = ctx.input(2)
    if value is None:
        return [ctx.emit("Pad", [x, ctx.const(table)], attrs, shape=shape)]
    return [ctx.emit("PadV2", [x, ctx.const(table), ctx.emit("Reshape", [value, ctx.int_const([])],
                                                              {"T": DType(value.dtype), "Tshape": DType("DT_INT32")},
                                                              shape=())], attrs, shape=shape)]


def _pad_by_gather(ctx: LoweringContext, x: V, table: np.ndarray, mode: str) -> V:
    """Edge (replicate) or wrap (circular) padding of any width: per padded axis, one ``GatherV2``
    of precomputed indices, clamped into the axis (edge) or taken modulo its size (wrap)."""
    for axis, (before, after) in enumerate(table.tolist()):
        if not before and not after:
            continue
        size = None if x.shape is None else x.shape[axis]
        if size is None:
            raise ctx.unsupported(f"{mode} padding needs the padded dimensions' sizes")
        if size + before + after > MAX_SHAPE_DERIVED_ELEMENTS:
            raise ctx.unsupported(f"{mode} padding to {size + before + after} elements along an axis")
        wanted = np.arange(-before, size + after)
        index = np.clip(wanted, 0, size - 1) if mode == "edge" else wanted % size
        shape = tuple(len(index) if i == axis else d for i, d in enumerate(x.shape))  # type: ignore[arg-type]
        x = ctx.emit("GatherV2", [x, ctx.int_const(index), ctx.int_const(axis)],
                     {"Tparams": DType(x.dtype), "Tindices": DType("DT_INT32"), "Taxis": DType("DT_INT32"),
                      "batch_dims": 0}, shape=shape)
    return x


@lowers("SpaceToDepth")
def _space_to_depth(ctx: LoweringContext) -> list[V]:
    """TF.js has no SpaceToDepth: reshape/transpose/reshape in ONNX's layout (its reference form)."""
    x = ctx.input(0)
    assert x is not None
    block = int(ctx.attr("blocksize"))
    shape = x.static_shape()
    if shape is None or len(shape) != 4:
        raise ctx.unsupported("SpaceToDepth needs a static 4-D input shape")
    n, c, h, w = shape
    split = ctx.emit("Reshape", [x, ctx.int_const([n, c, h // block, block, w // block, block])],
                     {"T": DType(x.dtype), "Tshape": DType("DT_INT32")},
                     shape=(n, c, h // block, block, w // block, block))
    moved = ctx.transpose(split, [0, 3, 5, 1, 2, 4])
    out = (n, c * block * block, h // block, w // block)
    return [ctx.emit("Reshape", [moved, ctx.int_const(out)], {"T": DType(x.dtype), "Tshape": DType("DT_INT32")},
                     shape=out)]


@lowers("DepthToSpace")
def _depth_to_space(ctx: LoweringContext) -> list[V]:
    x = ctx.input(0)
    assert x is not None
    block = int(ctx.attr("blocksize"))
    if ctx.attr("mode", "DCR") == "CRD":
        channels = x.shape[1] if x.shape is not None else None
        if channels is None:
            raise ctx.unsupported("CRD DepthToSpace needs a static channel count")
        per = channels // (block * block)
        # TF's order (DCR) reads channel (i*b + j)*per + c where CRD stores c*b*b + i*b + j.
        order = np.arange(channels).reshape(per, block * block).T.reshape(-1)
        x = ctx.emit("GatherV2", [x, ctx.int_const(order), ctx.int_const(1)],
                     {"Tparams": DType(x.dtype), "Tindices": DType("DT_INT32"), "Taxis": DType("DT_INT32"),
                      "batch_dims": 0}, shape=x.shape)
    shape = None
    if x.shape is not None:
        n, c, h, w = x.shape
        shape = (n, h and h * block, w and w * block, c and c // (block * block))
    y = ctx.emit("DepthToSpace", [ctx.to_channels_last(x)], {"T": DType(x.dtype), "block_size": block, "data_format": "NHWC"},
                 shape=shape)
    return [ctx.to_channels_first(y)]
