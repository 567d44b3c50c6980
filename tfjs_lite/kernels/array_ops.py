"""Shape-manipulation, indexing and tensor-construction kernels."""

from __future__ import annotations

from typing import Any

import numpy as np

from tfjs_lite.kernels import NodeContext, kernel
from tfjs_lite.kernels._util import attr_dtype, to_str

Array = np.ndarray


def _ints(x: Array) -> list[int]:
    return [int(v) for v in np.asarray(x).reshape(-1)]


@kernel("ConcatV2")
def _concat_v2(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.concatenate(inputs[:-1], axis=int(inputs[-1]))]


@kernel("Concat")
def _concat(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.concatenate(inputs[1:], axis=int(inputs[0]))]


@kernel("Pack")
def _pack(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.stack(inputs, axis=int(attrs.get("axis", 0)))]


@kernel("Unpack")
def _unpack(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, axis = inputs[0], int(attrs.get("axis", 0))
    return [np.take(x, i, axis=axis) for i in range(x.shape[axis])]


@kernel("Reshape")
def _reshape(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.reshape(inputs[0], _ints(inputs[1]))]


@kernel("Transpose")
def _transpose(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.transpose(inputs[0], _ints(inputs[1]))]


@kernel("Squeeze")
def _squeeze(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x = inputs[0]
    dims = [int(d) % x.ndim for d in attrs.get("squeeze_dims", [])]
    return [np.squeeze(x, axis=tuple(dims)) if dims else np.squeeze(x)]


@kernel("ExpandDims")
def _expand_dims(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x = inputs[0]
    axis = _ints(inputs[1])[0]
    return [np.expand_dims(x, axis if axis >= 0 else axis + x.ndim + 1)]


def _bit(mask: int, i: int) -> bool:
    return bool((mask >> i) & 1)


@kernel("StridedSlice")
def _strided_slice(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    """TF's sparse slice spec maps one-to-one onto a numpy index tuple."""
    x, begin, end, strides = inputs[0], _ints(inputs[1]), _ints(inputs[2]), _ints(inputs[3])
    m = {k: int(attrs.get(k, 0)) for k in
         ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")}
    index: list[Any] = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        if _bit(m["ellipsis_mask"], i):
            index.append(Ellipsis)
        elif _bit(m["new_axis_mask"], i):
            index.append(np.newaxis)
        elif _bit(m["shrink_axis_mask"], i):
            index.append(b)
        else:
            index.append(slice(None if _bit(m["begin_mask"], i) else b,
                               None if _bit(m["end_mask"], i) else e, s))
    return [np.array(x[tuple(index)])]


@kernel("Slice")
def _slice(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, begin, size = inputs[0], _ints(inputs[1]), _ints(inputs[2])
    index = tuple(slice(b, None if s == -1 else b + s) for b, s in zip(begin, size))
    return [np.array(x[index])]


def _gather(params: Array, indices: Array, axis: int, batch_dims: int) -> Array:
    if batch_dims == 0:
        return np.take(params, indices, axis=axis)
    # Batch dims: gather independently in each leading batch element.
    return np.stack([_gather(p, i, axis - 1, batch_dims - 1) for p, i in zip(params, indices)])


@kernel("GatherV2", "Gather", "ResourceGather")
def _gather_v2(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    params, indices = inputs[0], inputs[1]
    axis = int(inputs[2]) if len(inputs) > 2 else 0
    batch_dims = int(attrs.get("batch_dims", 0))
    axis %= params.ndim
    if batch_dims < 0:
        batch_dims += indices.ndim
    return [_gather(params, indices, axis, batch_dims)]


@kernel("GatherNd")
def _gather_nd(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    params, indices = inputs
    return [np.array(params[tuple(np.moveaxis(indices, -1, 0))])]


@kernel("Tile")
def _tile(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.tile(inputs[0], _ints(inputs[1]))]


@kernel("Pad", "PadV2")
def _pad(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, paddings = inputs[0], np.asarray(inputs[1]).reshape(-1, 2).tolist()
    value = inputs[2] if len(inputs) > 2 else 0
    return [np.pad(x, paddings, constant_values=value)]


@kernel("MirrorPad")
def _mirror_pad(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    mode = {"REFLECT": "reflect", "SYMMETRIC": "symmetric"}[to_str(attrs.get("mode"), "REFLECT")]
    return [np.pad(inputs[0], np.asarray(inputs[1]).reshape(-1, 2).tolist(), mode=mode)]  # type: ignore[call-overload]


@kernel("Shape")
def _shape(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.array(inputs[0].shape, dtype=attr_dtype(attrs, "out_type", "DT_INT32"))]


@kernel("ShapeN")
def _shape_n(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    dtype = attr_dtype(attrs, "out_type", "DT_INT32")
    return [np.array(x.shape, dtype=dtype) for x in inputs]


@kernel("Size")
def _size(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.array(inputs[0].size, dtype=attr_dtype(attrs, "out_type", "DT_INT32"))]


@kernel("Rank")
def _rank(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.array(inputs[0].ndim, dtype=np.int32)]


@kernel("Fill")
def _fill(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.full(_ints(inputs[0]), inputs[1], dtype=inputs[1].dtype)]


@kernel("ZerosLike")
def _zeros_like(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.zeros_like(inputs[0])]


@kernel("OnesLike")
def _ones_like(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.ones_like(inputs[0])]


@kernel("Range")
def _range(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    start, limit, delta = inputs
    dtype = attr_dtype(attrs, "Tidx", "DT_INT32") if "Tidx" in attrs else start.dtype
    return [np.arange(start.item(), limit.item(), delta.item()).astype(dtype)]


@kernel("OneHot")
def _one_hot(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    indices, depth, on, off = inputs
    hot = indices[..., None] == np.arange(int(depth))
    out = np.where(hot, on, off).astype(on.dtype)
    axis = int(attrs.get("axis", -1))
    return [out if axis == -1 else np.moveaxis(out, -1, axis)]


@kernel("Split")
def _split(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    axis, x = int(inputs[0]), inputs[1]
    return list(np.split(x, int(attrs.get("num_split", 1)), axis=axis))


@kernel("SplitV")
def _split_v(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, sizes, axis = inputs[0], _ints(inputs[1]), int(inputs[2]) % inputs[0].ndim
    if -1 in sizes:  # one size may be inferred from the rest
        sizes[sizes.index(-1)] = x.shape[axis] - (sum(sizes) + 1)
    return list(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


@kernel("BroadcastTo")
def _broadcast_to(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.array(np.broadcast_to(inputs[0], _ints(inputs[1])))]


@kernel("Where")
def _where(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    return [np.argwhere(inputs[0]).astype(np.int64)]


@kernel("ReverseV2")
def _reverse(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x = inputs[0]
    return [np.flip(x, axis=tuple(a % x.ndim for a in _ints(inputs[1])))]


@kernel("TopKV2")
def _top_k(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    x, k = inputs[0], int(inputs[1])
    # Stable sort of the negated values: ties keep the lower index first, as in TF.
    key = -x.astype(np.float64) if x.dtype.kind in "fiu" else -x
    # sorted=False leaves the order unspecified in TF, so sorted output is always valid.
    order = np.argsort(key, axis=-1, kind="stable")[..., :k]
    return [np.take_along_axis(x, order, axis=-1), order.astype(np.int32)]


@kernel("SpaceToDepth")
def _space_to_depth(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    """NHWC: block ``(i, j)`` of each ``b × b`` tile goes to channels ``(i·b + j)·C ... + C``."""
    (x,) = inputs
    b = int(attrs["block_size"])
    n, h, w, c = x.shape
    tiles = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5)
    return [tiles.reshape(n, h // b, w // b, b * b * c)]
