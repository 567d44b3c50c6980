"""Segment reductions and scatters: the TF ops real graphs use that TF.js 4.22 lacks (lowered by
``optimizer/passes/lower_segment_ops.py``), plus ``ScatterNd``/``TensorScatterAdd`` they lower to.

TF semantics kept here (they are what the lowerings must reproduce):

* ``Segment*`` take sorted ids and make ``ids[-1] + 1`` segments; ``UnsortedSegment*`` take
  ``num_segments`` and drop negative ids.
* An empty segment holds 0 (sum, mean), 1 (prod); for max and min 0 in the sorted ops, and the
  dtype's lowest (max) or highest (min) value in the unsorted ones.
* ``ScatterNd`` sums the updates of repeated indices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfjs_lite.kernels import KernelError, NodeContext, kernel

Array = np.ndarray

_EMPTY = {"Sum": 0, "Prod": 1, "Mean": 0}
__all__ = ["empty_segment_value", "segment_reduce"]


def empty_segment_value(reduction: str, dtype: np.dtype, *, sorted_ids: bool) -> Any:
    """What TF writes for a segment no id selects."""
    if reduction in _EMPTY:
        return _EMPTY[reduction]
    if sorted_ids:
        return 0
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    return info.min if reduction == "Max" else info.max


def segment_reduce(data: Array, ids: Array, num_segments: int, reduction: str, *,
                   sorted_ids: bool = False) -> Array:
    """``out[s] = reduce(data[i] for i with ids[i] == s)``; ids outside ``[0, num_segments)`` dropped."""
    ids = np.asarray(ids)
    inner = data.shape[ids.ndim:]
    flat_ids = ids.reshape(-1)
    flat = data.reshape((flat_ids.size,) + inner)
    acc = flat.astype(np.float64) if data.dtype.kind == "f" else flat
    start = 1 if reduction == "Prod" else 0 if reduction in _EMPTY else \
        empty_segment_value(reduction, data.dtype, sorted_ids=False)
    out = np.full((num_segments,) + inner, start, dtype=acc.dtype)
    counts = np.zeros(num_segments, np.int64)
    for i, s in enumerate(flat_ids.tolist()):
        if not 0 <= s < num_segments:
            continue
        if reduction in ("Sum", "Mean"):
            out[s] = out[s] + acc[i]
        elif reduction == "Prod":
            out[s] = out[s] * acc[i]
        elif reduction == "Max":
            out[s] = np.maximum(out[s], acc[i])
        else:
            out[s] = np.minimum(out[s], acc[i])
        counts[s] += 1
    if reduction == "Mean":
        out = out / np.maximum(counts, 1).reshape((-1,) + (1,) * len(inner))
    if sorted_ids and reduction in ("Max", "Min"):
        out[counts == 0] = 0
    return out.astype(data.dtype)


@kernel("SegmentSum", "SegmentMean", "SegmentMax", "SegmentMin", "SegmentProd")
def _segment(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    data, ids = inputs
    if ids.ndim != 1:
        raise KernelError(f"{ctx.op}: segment_ids must be a vector")
    num = int(ids[-1]) + 1 if ids.size else 0
    return [segment_reduce(data, ids, num, ctx.op[len("Segment"):], sorted_ids=True)]


@kernel("UnsortedSegmentSum", "UnsortedSegmentMax", "UnsortedSegmentMin", "UnsortedSegmentProd")
def _unsorted_segment(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    data, ids, num_segments = inputs
    return [segment_reduce(data, ids, int(num_segments), ctx.op[len("UnsortedSegment"):])]


def _scatter_add(base: Array, indices: Array, updates: Array) -> Array:
    out = base.astype(np.float64) if base.dtype.kind == "f" else base.copy()
    depth = indices.shape[-1]
    flat_idx = indices.reshape(-1, depth)
    flat_upd = updates.reshape((flat_idx.shape[0],) + base.shape[depth:])
    for i, index in enumerate(flat_idx.tolist()):
        if any(not 0 <= v < d for v, d in zip(index, base.shape)):
            raise KernelError(f"index {index} is out of range for shape {list(base.shape)}")
        out[tuple(index)] += flat_upd[i]
    return out.astype(base.dtype)


@kernel("ScatterNd")
def _scatter_nd(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    indices, updates, shape = inputs
    return [_scatter_add(np.zeros([int(d) for d in shape], updates.dtype), indices, updates)]


@kernel("TensorScatterAdd", "TensorScatterSub")
def _tensor_scatter(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    tensor, indices, updates = inputs
    sign = 1 if ctx.op == "TensorScatterAdd" else -1
    return [_scatter_add(tensor, indices, sign * updates)]


@kernel("TensorScatterUpdate")
def _tensor_scatter_update(inputs: list[Array], attrs: dict[str, Any], ctx: NodeContext) -> list[Array]:
    tensor, indices, updates = inputs
    out = tensor.copy()
    depth = indices.shape[-1]
    flat_upd = updates.reshape((-1,) + tensor.shape[depth:])
    for i, index in enumerate(indices.reshape(-1, depth).tolist()):
        out[tuple(index)] = flat_upd[i]
    return [out]
