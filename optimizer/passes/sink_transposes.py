"""Sink transposes through layout-agnostic ops until they meet and cancel.

A graph from an NCHW source wraps every convolution as ``Transpose(NCHW->NHWC) -> Conv ->
Transpose(NHWC->NCHW)``.  The element-wise ops, concats, reductions... between two convolutions
do not care about the layout, so the trailing transpose can move below them, where it meets the
next convolution's leading transpose and the two cancel (``merge_transposes`` rules, applied here
as the transposes meet).

Before => after (``T = Transpose(., p)``, ``p⁻¹`` its inverse; ``n`` the op moved over):

* unary element-wise ``f(T(x))`` => ``T(f(x))``;
* broadcasting binary ``f(T(x), T(y))`` => ``T(f(x, y))``; ``f(T(x), c)`` with a Const ``c`` of
  rank <= ``len(p)`` => ``T(f(x, c'))``: ``c`` is right-aligned to full rank, transposed by ``p⁻¹``
  and its leading 1s dropped (``[C,1,1]`` against NCHW becomes ``[C]`` against NHWC); scalars stay;
  ``f(T(x), z)`` with any other ``z`` of the same rank => ``T(f(x, T(z, p⁻¹)))`` (costs a transpose);
* ``AddN``, ``SelectV2``, ``ClipByValue`` alike; ``ConcatV2``/``Pack``/``ExpandDims``/``Split``/
  ``SplitV``/``Cumsum``/``ReverseV2`` with Const axes (axis ``a`` becomes ``p[a]``; Pack/ExpandDims
  insert the new axis last and extend the perm);
* ``Slice``/``StridedSlice``/``Pad``/``PadV2``/``MirrorPad``/``Tile`` with Const
  begin/size/end/strides/paddings/multiples (permuted by ``p⁻¹``; StridedSlice begin/end masks
  too, only without ellipsis/new-axis/shrink masks);
* reductions (``Mean``, ``Sum``, ``Max``, ``Min``, ``Prod``, ``All``, ``Any``,
  ``EuclideanNorm``) with Const axes, ``ArgMax``/``ArgMin``, ``Squeeze`` with explicit dims: axes
  become ``p[a]``; when dims are dropped the perm after the op is ``p`` restricted to the kept
  dims (no transpose at all when that is the identity or the result is a scalar/vector);
* ``GatherV2`` on ``params`` with a Const axis and scalar or vector indices;
* ``Softmax``/``LogSoftmax`` only when ``p`` keeps the last axis last;
* ``FusedBatchNorm*`` (inference) when the channel axis lands on axis 1 or 3 (``data_format``
  becomes NCHW/NHWC accordingly);
* ``Reshape`` (static shapes needed) that splits/merges dims which stay adjacent and in order
  under ``p``; a channel shuffle keeps its in-group transpose and the rest moves on (optimistic
  round only); a Flatten read only by MatMuls with Const weights reorders the weight rows
  instead; a group-norm region (merging Reshape, element-wise ops and keep-dims reductions,
  Reshape back) is first rewritten to the finest common shape (``_refine_reshape``).

Cost model: a move adds one transpose per used output and one per non-Const operand that is not
already transposed by ``p``; it removes every input transpose that only ``n`` reads.  A move is
made only when it adds no more than it removes, so the number of executed transposes never
grows; a move that puts a transpose on another operand must remove more than it adds
(otherwise two such moves could undo each other forever).  A second, optimistic round also counts an input transpose as removed when all its readers
can take it (fan-out to several sinkable ops); it is first run on a copy and only replayed on the
graph when the final transpose count is lower.

Does NOT fire when the rank is not proven (``len(p)`` must equal every operand's rank), on
signature-output nodes (their names are the outputs' names), nodes with control edges, file-backed
constants, non-Const axes/begins/paddings, Softmax on a moved axis, StridedSlice with
ellipsis/new-axis/shrink masks, Gather with batch_dims or indices of rank > 1, or when the
cost would grow.  Layout-sensitive ops (Conv2D, pooling, Resize, BiasAdd, Reshape...) stop a
transpose.  Once nothing moves, a transpose that only moves dimensions proven to be 1 becomes a
``Reshape`` when its input shape is fully known (``merge_transposes`` rules).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from tfjs_lite.optimizer._layout import (
    BINARY_ELEMENTWISE,
    BOOL_RESULT_OPS,
    REDUCTIONS,
    UNARY_ELEMENTWISE,
    Perm,
    add_transpose,
    compose,
    const_ints,
    has_control_edges,
    inverse,
    is_identity,
    rank_of,
    shape_of,
    transpose_perm,
)
from tfjs_lite.optimizer._refine_reshape import refine_merged_reshape
from tfjs_lite.optimizer._util import (
    const_value,
    is_output_node,
    output_refs,
    remove_if_dead,
    static_dtype,
)
from tfjs_lite.optimizer.pass_base import Pass
from tfjs_lite.optimizer.passes.merge_transposes import merge_transpose

from tfjs_lite.ir import DType, Graph, TensorRef, TensorType
from tfjs_lite.lazy_tensor import is_lazy

__all__ = ["SinkTransposes", "transpose_count"]

# Stands for one unknown dim in Reshape arithmetic: a prime larger than any real dim size times
# lcm(1..16), so a split of the unknown dim by small factors (batch*heads -> batch, heads) divides.
_UNKNOWN_PRIME = 2_147_483_647
_UNKNOWN = _UNKNOWN_PRIME * 720_720
# Bounds on the rewrite loop: rounds over the graph, and growth of the optimistic trial.
MAX_ROUNDS = 64
MAX_TRIAL_GROWTH = 2


def transpose_count(graph: Graph) -> int:
    """The number of Transpose nodes (each runs once per inference)."""
    return len(graph.nodes_by_op("Transpose"))


class SinkTransposes(Pass):
    """Move transposes below layout-agnostic ops, cancelling them where they meet."""

    name = "sink_transposes"

    def run(self, graph: Graph) -> bool:
        """Rewrite in place; returns True iff anything changed."""
        if not graph.nodes_by_op("Transpose"):
            return False
        changed = _sink_all(graph, optimistic=False)
        trial = graph.copy()
        before = transpose_count(trial)
        if _sink_all(trial, optimistic=True) and transpose_count(trial) < before:
            # Deterministic, so replaying on the graph gives the trial's result.
            changed |= _sink_all(graph, optimistic=True)
            _sink_all(graph, optimistic=False)
        # What is left cannot move; those that only move size-1 dims are cheaper as reshapes.
        for n in graph.nodes_by_op("Transpose"):
            changed |= merge_transpose(graph, n, to_reshape=True)
        return changed


def _sink_all(graph: Graph, *, optimistic: bool) -> bool:
    changed = False
    limit = MAX_TRIAL_GROWTH * transpose_count(graph) + 16
    for _ in range(MAX_ROUNDS):
        round_changed = False
        for n in graph.topo_order():
            if n not in graph:
                continue
            if graph.op(n) == "Transpose":
                round_changed |= merge_transpose(graph, n)
            elif graph.op(n) in _PLANNERS:
                moved = _sink(graph, n, optimistic)
                if not moved and graph.op(n) == "Reshape" and _moved_perm(graph, n, [0]) is not None:
                    moved = refine_merged_reshape(graph, n)
                round_changed |= moved
        changed |= round_changed
        if optimistic and transpose_count(graph) > limit:
            break
        if not round_changed:
            break
    return changed


# ----------------------------------------------------------------------------- plans


@dataclass
class _Plan:
    """How to rewrite node ``n`` so that it reads the un-transposed inputs.

    ``data_slots``: inputs that follow the layout.  ``broadcast``: their Consts may have a lower
    rank (numpy broadcasting).  ``params``: slot -> new Const value (axes, begins, paddings).
    ``attrs``: attr updates.  ``out_perm``: the transpose to put after every used output (None
    or identity: none needed).  ``pre_perm``: see ``_reshape``.
    """

    data_slots: list[int]
    out_perm: Perm | None
    broadcast: bool = False
    params: dict[int, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    # A transpose that stays on the (single) data input; only tried in the optimistic round.
    pre_perm: Perm | None = None
    # (reader node, slot) -> new Const value for a reader of n's output.
    reader_params: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)


_Planner = Callable[[Graph, str, Perm], "_Plan | None"]


def _axis(value: int, rank: int) -> int | None:
    return value % rank if -rank <= value < rank else None


def _single_axis(graph: Graph, ref: TensorRef, rank: int) -> int | None:
    """The normalized axis held by a one-element Const, or None."""
    values = const_ints(graph, ref)
    return _axis(values[0], rank) if values and len(values) == 1 else None


def _axes(graph: Graph, ref: TensorRef, rank: int) -> list[int] | None:
    values = const_ints(graph, ref)
    if values is None:
        return None
    axes = [a for a in (_axis(v, rank) for v in values) if a is not None]
    return sorted(set(axes)) if len(axes) == len(values) else None


def _dropped_perm(p: Perm, dropped: set[int]) -> Perm:
    """The perm after an op removes the y-dims ``dropped`` from ``Transpose(x, p)``."""
    kept_x = sorted(p[j] for j in range(len(p)) if j not in dropped)
    position = {d: i for i, d in enumerate(kept_x)}
    return tuple(position[p[j]] for j in range(len(p)) if j not in dropped)


def _like(graph: Graph, ref: TensorRef, values: list[int]) -> np.ndarray:
    """``values`` as an array of the Const at ``ref``'s dtype and (scalar or vector) form."""
    old = const_value(graph, ref)
    assert old is not None
    return np.asarray(values if old.ndim else values[0], old.dtype)


def _unary(graph: Graph, n: str, p: Perm) -> _Plan:
    return _Plan([0], p)


def _nary(broadcast: bool) -> _Planner:
    def plan(graph: Graph, n: str, p: Perm) -> _Plan:
        return _Plan(list(range(len(graph.inputs_of(n)))), p, broadcast=broadcast)
    return plan


def _select(graph: Graph, n: str, p: Perm) -> _Plan:
    return _Plan([0, 1, 2], p, broadcast=True)


def _concat(graph: Graph, n: str, p: Perm) -> _Plan | None:
    inputs = graph.inputs_of(n)
    a = _single_axis(graph, inputs[-1], len(p))
    if a is None:
        return None
    return _Plan(list(range(len(inputs) - 1)), p,
                 params={len(inputs) - 1: _like(graph, inputs[-1], [p[a]])})


def _insert_axis_perm(p: Perm, a: int) -> Perm:
    """Perm after inserting a new axis at ``a`` of ``Transpose(x, p)``, done as a new last axis of x."""
    r = len(p)
    return tuple(p[:a]) + (r,) + tuple(p[a:])


def _pack(graph: Graph, n: str, p: Perm) -> _Plan | None:
    a = _axis(int(graph.attrs(n).get("axis", 0)), len(p) + 1)
    if a is None:
        return None
    return _Plan(list(range(len(graph.inputs_of(n)))), _insert_axis_perm(p, a),
                 attrs={"axis": len(p)})


def _expand_dims(graph: Graph, n: str, p: Perm) -> _Plan | None:
    ref = graph.inputs_of(n)[1]
    a = _single_axis(graph, ref, len(p) + 1)
    if a is None:
        return None
    return _Plan([0], _insert_axis_perm(p, a), params={1: _like(graph, ref, [len(p)])})


def _axis_param(data_slot: int, axis_slot: int) -> _Planner:
    """Ops with one Const axis input that follows the layout (Split, SplitV, Cumsum)."""
    def plan(graph: Graph, n: str, p: Perm) -> _Plan | None:
        ref = graph.inputs_of(n)[axis_slot]
        a = _single_axis(graph, ref, len(p))
        if a is None:
            return None
        return _Plan([data_slot], p, params={axis_slot: _like(graph, ref, [p[a]])})
    return plan


def _per_dim_params(*slots: int) -> _Planner:
    """Ops whose Const params hold one entry (or row) per dimension: Slice, Pad, Tile."""
    def plan(graph: Graph, n: str, p: Perm) -> _Plan | None:
        inv = list(inverse(p))
        params = {}
        for slot in slots:
            value = const_value(graph, graph.inputs_of(n)[slot])
            if value is None or is_lazy(value) or value.ndim < 1 or value.shape[0] != len(p):
                return None
            params[slot] = np.ascontiguousarray(value[inv])
        return _Plan([0], p, params=params)
    return plan


def _permute_bits(mask: int, p: Perm) -> int:
    return sum(1 << p[i] for i in range(len(p)) if mask >> i & 1)


def _strided_slice(graph: Graph, n: str, p: Perm) -> _Plan | None:
    attrs = graph.attrs(n)
    if any(int(attrs.get(m, 0)) for m in ("ellipsis_mask", "new_axis_mask", "shrink_axis_mask")):
        return None
    plan = _per_dim_params(1, 2, 3)(graph, n, p)
    if plan is None:
        return None
    plan.attrs = {m: _permute_bits(int(attrs.get(m, 0)), p) for m in ("begin_mask", "end_mask")}
    return plan


def _reduction(graph: Graph, n: str, p: Perm) -> _Plan | None:
    ref = graph.inputs_of(n)[1]
    axes = _axes(graph, ref, len(p))
    if axes is None:
        return None
    old = const_value(graph, ref)
    assert old is not None  # _axes read it
    new_axes = np.asarray(sorted(p[a] for a in axes), old.dtype)
    if old.ndim == 0:
        new_axes = new_axes.reshape(())
    keeps_rank = graph.op(n) == "ReverseV2" or graph.attrs(n).get("keep_dims")
    out = p if keeps_rank else _dropped_perm(p, set(axes))
    return _Plan([0], out, params={1: new_axes})


def _arg_reduction(graph: Graph, n: str, p: Perm) -> _Plan | None:
    ref = graph.inputs_of(n)[1]
    a = _single_axis(graph, ref, len(p))
    if a is None:
        return None
    return _Plan([0], _dropped_perm(p, {a}), params={1: _like(graph, ref, [p[a]])})


def _squeeze(graph: Graph, n: str, p: Perm) -> _Plan | None:
    dims = [_axis(int(d), len(p)) for d in graph.attrs(n).get("squeeze_dims", [])]
    if not dims or None in dims:
        return None
    return _Plan([0], _dropped_perm(p, set(dims)),  # type: ignore[arg-type]
                 attrs={"squeeze_dims": sorted(p[d] for d in dims)})  # type: ignore[index]


def _gather(graph: Graph, n: str, p: Perm) -> _Plan | None:
    inputs = graph.inputs_of(n)
    if len(inputs) != 3 or int(graph.attrs(n).get("batch_dims", 0)) != 0:
        return None
    a = _single_axis(graph, inputs[2], len(p))
    indices_rank = rank_of(graph, inputs[1])
    if a is None or indices_rank not in (0, 1):
        return None
    out = p if indices_rank == 1 else _dropped_perm(p, {a})
    return _Plan([0], out, params={2: _like(graph, inputs[2], [p[a]])})


def _softmax(graph: Graph, n: str, p: Perm) -> _Plan | None:
    return _Plan([0], p) if p[-1] == len(p) - 1 else None


def _reshape_groups(a: tuple[int, ...], b: tuple[int, ...]) -> list[tuple[list[int], list[int]]] | None:
    """Pair the dims of shapes ``a`` and ``b`` (same size) into minimal groups of equal product.

    ``[1,12,5,5] -> [1,3,4,25]`` gives ``([0],[0]), ([1],[1,2]), ([2,3],[3])``.  Trailing 1s join
    the last group.  None when the dims do not pair up this way (or a size is 0 or unknown).
    """
    if not a or not b or min(a) < 1 or min(b) < 1:
        return None
    groups: list[tuple[list[int], list[int]]] = []
    i = k = 0
    while i < len(a) and k < len(b):
        gi, gk, pa, pb = [i], [k], a[i], b[k]
        i, k = i + 1, k + 1
        while pa != pb:
            if pa < pb and i < len(a):
                gi.append(i)
                pa, i = pa * a[i], i + 1
            elif pb < pa and k < len(b):
                gk.append(k)
                pb, k = pb * b[k], k + 1
            else:
                return None
        groups.append((gi, gk))
    for rest, side in ((range(i, len(a)), 0), (range(k, len(b)), 1)):
        for d in rest:
            if (a, b)[side][d] != 1:
                return None
            groups[-1][side].append(d)
    return groups


def _reshape(graph: Graph, n: str, p: Perm) -> _Plan | None:
    """Reshape that merges or splits dims which stay adjacent and in order under ``p``."""
    inputs = graph.inputs_of(n)
    shape = shape_of(graph, inputs[0])
    target = const_ints(graph, inputs[1])
    if shape is None or target is None or len(shape) != len(p) or sum(d is None for d in shape) > 1:
        return None
    # One unknown dim (a dynamic batch) stands for a number no real size shares, so the group
    # arithmetic below tracks it; the target dim that ends up holding it is written as -1.
    y_shape = tuple(_UNKNOWN if d is None else int(d) for d in shape)
    size = int(np.prod(y_shape, dtype=object))
    if target.count(-1) == 1:
        known = int(np.prod([d for d in target if d != -1], dtype=object))
        if known <= 0 or size % known:
            return None
        target[target.index(-1)] = size // known
    if int(np.prod(target, dtype=object)) != size:
        return None
    groups = _reshape_groups(y_shape, tuple(target))
    if groups is None:
        return None
    if None not in shape:
        flatten = _flatten_into_matmuls(graph, n, p, y_shape, groups)
        if flatten is not None:
            return flatten
    full = groups
    # Size-1 dims carry no elements: they may sit anywhere in x.
    groups = [([j for j in gi if y_shape[j] != 1] or gi[:1], gk) for gi, gk in groups]
    pre = None
    if any([p[j] for j in gi] != list(range(p[gi[0]], p[gi[0]] + len(gi))) for gi, _ in groups):
        # A group's dims are adjacent in x but out of order (a channel shuffle): reorder them in x
        # first (that transpose is the shuffle itself), then the rest of p moves on.
        groups = full
        if any(sorted(p[j] for j in gi) != list(range(min(p[j] for j in gi), min(p[j] for j in gi) + len(gi)))
               for gi, _ in groups):
            return None
        pre = tuple(p[j] for gi, _ in sorted(groups, key=lambda g: min(p[j] for j in g[0])) for j in gi)
        inv_pre = inverse(pre)
        p = tuple(inv_pre[d] for d in p)
        if is_identity(p):
            return None  # the transpose is the shuffle itself: nothing would move
    # In x the groups come in the order of their first x dim; the result is those groups' new dims.
    x_order = sorted(range(len(groups)), key=lambda g: p[groups[g][0][0]])
    new_shape = [-1 if target[d] % _UNKNOWN_PRIME == 0 else target[d] for g in x_order for d in groups[g][1]]
    start, offset = {}, 0
    for g in x_order:
        start[g], offset = offset, offset + len(groups[g][1])
    out = tuple(start[g] + j for g in range(len(groups)) for j in range(len(groups[g][1])))
    value = const_value(graph, inputs[1])
    return _Plan([0], out, params={1: np.asarray(new_shape, value.dtype)},  # type: ignore[union-attr]
                 pre_perm=pre)


def _flatten_into_matmuls(graph: Graph, n: str, p: Perm, y_shape: tuple[int, ...],
                          groups: list[tuple[list[int], list[int]]]) -> _Plan | None:
    """``MatMul(Reshape(T(x, p), [N, K]), W)`` == ``MatMul(Reshape(x, [N, K]), W')``.

    A Flatten of a transposed ``[N, ...]`` tensor (the Gemm after AlexNet's or VGG's last
    pooling) only reorders the K features; when every reader is a MatMul with a Const weight, the
    rows of the weight are reordered instead and no transpose is needed.
    """
    if p[0] != 0 or [g for g, _ in groups] != [[0], list(range(1, len(p)))]:
        return None
    readers = graph.consumers(TensorRef(n, 0))
    if not readers or graph.is_output(TensorRef(n, 0)):
        return None
    for dst, slot in readers:
        weight = const_value(graph, graph.inputs_of(dst)[1]) if graph.op(dst) == "MatMul" else None
        if slot != 0 or weight is None or is_lazy(weight) or weight.ndim != 2 \
                or graph.attrs(dst).get("transpose_a") or has_control_edges(graph, dst):
            return None
    # Feature f of the new flatten (x order) is feature order[f] of the old one (y order).
    inv = inverse(p)
    order = np.arange(int(np.prod(y_shape[1:]))).reshape(y_shape[1:])
    order = order.transpose([inv[d] - 1 for d in range(1, len(p))]).reshape(-1)
    weights = {}
    for dst, _ in readers:
        weight = const_value(graph, graph.inputs_of(dst)[1])
        assert weight is not None  # checked above
        rows_last = bool(graph.attrs(dst).get("transpose_b"))
        weights[(dst, 1)] = np.ascontiguousarray(weight[:, order] if rows_last else weight[order])
    return _Plan([0], None, reader_params=weights)


def _pointwise_conv(graph: Graph, n: str, p: Perm) -> _Plan | None:
    """A 1x1, stride-1 NHWC Conv2D is the same at every pixel: it commutes with swapping H and W."""
    attrs = graph.attrs(n)
    filt = const_value(graph, graph.inputs_of(n)[1])
    fmt = attrs.get("data_format", "NHWC")
    if len(p) != 4 or p[0] != 0 or p[3] != 3 or filt is None or filt.shape[:2] != (1, 1) \
            or (fmt.decode() if isinstance(fmt, bytes) else str(fmt)) != "NHWC" \
            or any(int(v) != 1 for v in attrs.get("strides", [1, 1, 1, 1])) \
            or str(attrs.get("padding", "VALID")) == "EXPLICIT":
        return None
    return _Plan([0], p)


def _fused_batch_norm(graph: Graph, n: str, p: Perm) -> _Plan | None:
    attrs = graph.attrs(n)
    if len(p) != 4 or attrs.get("is_training", True) or any(r.port for r in output_refs(graph, n)):
        return None
    fmt = attrs.get("data_format", "NHWC")
    fmt = fmt.decode() if isinstance(fmt, bytes) else str(fmt)
    channel = {"NHWC": 3, "NCHW": 1}.get(fmt)
    new_format = {3: "NHWC", 1: "NCHW"}.get(p[channel]) if channel is not None else None
    if new_format is None:
        return None
    return _Plan([0], p, attrs={"data_format": new_format})


_PLANNERS: dict[str, _Planner] = {
    **{op: _unary for op in UNARY_ELEMENTWISE},
    **{op: _nary(broadcast=True) for op in BINARY_ELEMENTWISE},
    "AddN": _nary(broadcast=False),
    "ClipByValue": _nary(broadcast=False),
    "SelectV2": _select,
    "ConcatV2": _concat,
    "Pack": _pack,
    "ExpandDims": _expand_dims,
    "Split": _axis_param(1, 0),
    "SplitV": _axis_param(0, 2),
    "Cumsum": _axis_param(0, 1),
    "Cumprod": _axis_param(0, 1),
    "ReverseV2": _reduction,  # same axes rule, rank kept
    "Slice": _per_dim_params(1, 2),
    "StridedSlice": _strided_slice,
    "Pad": _per_dim_params(1),
    "PadV2": _per_dim_params(1),
    "MirrorPad": _per_dim_params(1),
    "Tile": _per_dim_params(1),
    **{op: _reduction for op in REDUCTIONS},
    "ArgMax": _arg_reduction,
    "ArgMin": _arg_reduction,
    "Squeeze": _squeeze,
    "GatherV2": _gather,
    "Softmax": _softmax,
    "LogSoftmax": _softmax,
    "FusedBatchNorm": _fused_batch_norm,
    "FusedBatchNormV2": _fused_batch_norm,
    "FusedBatchNormV3": _fused_batch_norm,
    "Reshape": _reshape,
    "Conv2D": _pointwise_conv,
}


# ----------------------------------------------------------------------------- the move


def _layout_slots(op: str, count: int) -> list[int]:
    """The input slots of ``op`` that follow the layout (where a moved transpose may sit)."""
    if op in BINARY_ELEMENTWISE or op in ("AddN", "ClipByValue", "SelectV2", "Pack"):
        return list(range(count))
    if op == "ConcatV2":
        return list(range(count - 1))
    return [1] if op == "Split" else [0]


def _moved_perm(graph: Graph, n: str, slots: list[int]) -> Perm | None:
    """The perm of the first data input that is a (control-free) Transpose."""
    for slot in slots:
        ref = graph.inputs_of(n)[slot]
        if ref.port == 0 and graph.op(ref.node) == "Transpose" and not has_control_edges(graph, ref.node):
            perm = transpose_perm(graph, ref.node)
            if perm is not None:
                return perm
    return None


def _const_operand(value: np.ndarray, p: Perm, broadcast: bool) -> np.ndarray | None:
    """The Const operand for the un-transposed layout, or None if its rank does not allow it."""
    rank = len(p)
    if value.ndim == 0:
        return value
    if value.ndim > rank or (value.ndim < rank and not broadcast):
        return None
    full = value.reshape((1,) * (rank - value.ndim) + value.shape).transpose(inverse(p))
    if broadcast:
        lead = 0
        while lead < rank - 1 and full.shape[lead] == 1:
            lead += 1
        full = full.reshape(full.shape[lead:])
    return np.ascontiguousarray(full)


def _sole_reader(graph: Graph, t: str, n: str, optimistic: bool) -> bool:
    """True if transpose ``t`` dies once ``n`` (and, optimistically, its other readers) move it."""
    if is_output_node(graph, t) or has_control_edges(graph, t):
        return False
    readers = set(graph.node_consumers(t))
    if optimistic:
        return all(r == n or graph.op(r) in _PLANNERS or graph.op(r) == "Transpose" for r in readers)
    return readers == {n}


def _cancelled_readers(graph: Graph, ref: TensorRef, out_perm: Perm) -> int | None:
    """If only transposes read ``ref``, the new transpose merges into them (costs nothing) and
    those it inverts vanish: their number.  None if something else reads ``ref``."""
    readers = graph.consumers(ref)
    if not readers or graph.is_output(ref):
        return None
    cancelled = 0
    for dst, slot in readers:
        perm = transpose_perm(graph, dst) if slot == 0 else None
        if perm is None or len(perm) != len(out_perm) or has_control_edges(graph, dst):
            return None
        cancelled += is_identity(compose(out_perm, perm))
    return cancelled


def _out_dtype(graph: Graph, n: str, fallback: DType | None) -> DType | None:
    op, attrs = graph.op(n), graph.attrs(n)
    if op == "Cast":
        return attrs.get("DstT", fallback)
    if op in BOOL_RESULT_OPS:
        return DType("DT_BOOL")
    if op in ("ArgMax", "ArgMin"):
        return attrs.get("output_type", DType("DT_INT64"))
    return fallback


def _sink(graph: Graph, n: str, optimistic: bool) -> bool:
    if is_output_node(graph, n) or has_control_edges(graph, n):
        return False
    op = graph.op(n)
    planner = _PLANNERS[op]
    inputs = graph.inputs_of(n)
    if not inputs:
        return False
    p = _moved_perm(graph, n, _layout_slots(op, len(inputs)))
    if p is None:
        return False
    plan = planner(graph, n, p)
    if plan is None or (plan.pre_perm is not None and not optimistic):
        return False
    rank = len(p)

    # Classify the layout-following operands; prove every rank.
    new_inputs: dict[int, Any] = {}
    moved: set[str] = set()
    others: list[int] = []
    for slot in plan.data_slots:
        ref = inputs[slot]
        if ref.port == 0 and graph.op(ref.node) == "Transpose" and transpose_perm(graph, ref.node) == p \
                and not has_control_edges(graph, ref.node):
            moved.add(ref.node)
            new_inputs[slot] = graph.inputs_of(ref.node)[0]
            continue
        value = const_value(graph, ref)
        if value is not None:
            if is_lazy(value):
                return False
            converted = _const_operand(value, p, plan.broadcast)
            if converted is None:
                return False
            new_inputs[slot] = converted
            continue
        if rank_of(graph, ref) != rank:
            return False
        others.append(slot)

    used_ports = sorted({r.port for r in output_refs(graph, n)})
    out_perm = plan.out_perm
    needs_out = out_perm is not None and len(out_perm) > 1 and not is_identity(out_perm)
    added = len(others) + (plan.pre_perm is not None)
    removed = sum(1 for t in moved if _sole_reader(graph, t, n, optimistic))
    if needs_out:
        for port in used_ports:
            cancelled = _cancelled_readers(graph, TensorRef(n, port), out_perm)  # type: ignore[arg-type]
            if cancelled is None:
                added += 1
            else:
                removed += cancelled
    # Neutral moves only go down (they terminate); one that also adds transposes above n must
    # pay for itself, or it could undo the move that made it.
    if added > removed + (plan.pre_perm is not None) or (others and added == removed):
        return False

    _apply(graph, n, p, plan, new_inputs, others, used_ports if needs_out else [], moved)
    return True


def _apply(graph: Graph, n: str, p: Perm, plan: _Plan, new_inputs: dict[int, Any],
           others: list[int], ports: list[int], moved: set[str]) -> None:
    inputs = graph.inputs_of(n)
    dtype = next((graph.attrs(t).get("T") for t in sorted(moved)), None)
    for slot, new in sorted(new_inputs.items()):
        if isinstance(new, np.ndarray):
            same = const_value(graph, inputs[slot])
            if same is None or new.shape != same.shape or not np.array_equal(new, same):
                new = graph.add_const(new, name=graph.unique_name(f"{inputs[slot].node}/{_SUFFIX}"))
            else:
                new = inputs[slot]
        graph.set_input(n, slot, new)
    if plan.pre_perm is not None:
        slot = plan.data_slots[0]
        graph.set_input(n, slot, add_transpose(graph, new_inputs[slot], plan.pre_perm,
                                               name=f"{n}/{_SUFFIX}_pre", dtype=dtype))
    inv = inverse(p)
    for slot in others:
        ref = inputs[slot]
        t = add_transpose(graph, ref, inv, name=f"{n}/{_SUFFIX}_in", dtype=static_dtype(graph, ref) or dtype)
        graph.set_input(n, slot, t)
    for slot, value in sorted(plan.params.items()):
        new = graph.add_const(value, name=graph.unique_name(f"{n}/{_SUFFIX}_param"))
        old = inputs[slot]
        graph.set_input(n, slot, new)
        remove_if_dead(graph, old.node)
    for key, value in plan.attrs.items():
        graph.set_attr(n, key, value)
    for (dst, slot), value in sorted(plan.reader_params.items()):
        old = graph.inputs_of(dst)[slot]
        graph.set_input(dst, slot, graph.add_const(value, name=graph.unique_name(f"{old.node}/{_SUFFIX}")))
        remove_if_dead(graph, old.node)
    for slot in new_inputs:
        if graph.op(inputs[slot].node) == "Const":
            remove_if_dead(graph, inputs[slot].node)
    _retype(graph, n, plan.out_perm)
    out_dtype = _out_dtype(graph, n, dtype)
    assert plan.out_perm is not None or not ports
    for port in ports:
        ref = TensorRef(n, port)
        t = add_transpose(graph, ref, plan.out_perm, name=f"{n}/{_SUFFIX}_out", dtype=out_dtype)  # type: ignore[arg-type]
        graph.replace_uses(ref, t, skip={t.node})
    for node in sorted(moved):
        if node in graph:
            perm_node = graph.inputs_of(node)[1].node
            if remove_if_dead(graph, node):
                remove_if_dead(graph, perm_node)


# New nodes are named after the node they serve, with this suffix.
_SUFFIX = "layout"


def _retype(graph: Graph, n: str, out_perm: Perm | None) -> None:
    """Recorded output shapes of ``n`` now describe the un-transposed layout."""
    types = graph.out_types(n)
    if types is None:
        return
    if out_perm is None or len(out_perm) <= 1:
        return
    inv = inverse(out_perm)
    new = []
    for t in types:
        if t.shape is None or len(t.shape) != len(out_perm):
            new.append(TensorType(t.dtype, None))
        else:
            new.append(TensorType(t.dtype, tuple(t.shape[d] for d in inv)))
    graph.set_out_types(n, new)

