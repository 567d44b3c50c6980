"""Lower segment reductions (absent from TF.js 4.22) to ops it has: one lowering per op.

TF semantics (``tfjs_lite/kernels/segment.py`` implements them; fixtures/ops holds TF's outputs):
``Segment*(data, ids)`` take sorted ids and make ``max(ids) + 1`` segments;
``UnsortedSegment*(data, ids, num_segments)`` drop negative ids.  Empty segments hold 0 (sum,
mean, sorted max/min), 1 (prod) or the dtype's lowest/highest value (unsorted max/min).

Before => after (the last new node keeps the original name; ``r = rank(ids)``, ``inner =
shape(data)[r:]``):

* ``UnsortedSegmentSum`` => ``ScatterNd(ExpandDims(ids', -1), data, [n + 1] + inner)[:n]`` with
  ``ids' = SelectV2(ids < 0, n, ids)``: ``ScatterNd`` sums repeated indices (TF and TF.js
  both), and negative ids land in the extra row ``n`` that the slice drops.
* ``SegmentSum`` => ``ScatterNd(ExpandDims(ids, -1), data, [max(ids) + 1] + inner)``.
* ``SegmentMean`` (float) => that sum divided by ``max(count, 1)`` broadcast over ``inner``, with
  ``count`` the same scatter of ones (an empty segment: 0 / 1 = 0, as in TF).
* ``[Unsorted]Segment{Max,Min,Prod}`` => with ``mask[s, i] = (ids[i] == s)`` over ``Range(n)``:
  ``reduce_i SelectV2(mask, data, fill)`` along the id axis, ``fill`` the reduction's identity
  (lowest / highest / 1), which is also what TF writes for an empty unsorted segment; the sorted
  ``Max``/``Min`` then put 0 where ``Any(mask)`` is false.  This costs ``n × len(ids) × |inner|``
  elements, fine for the feature sizes seen in real models (graph pooling, embeddings).

Does NOT fire when the rank of ``ids`` or ``data`` is not statically known (the output shape
cannot be built), nor for an integer ``SegmentMean`` (TF truncates; left to the op check).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from tfjs_lite.optimizer._util import static_dtype, static_shape
from tfjs_lite.optimizer.pass_base import Pass

from tfjs_lite.ir import DType, Graph, TensorRef, numpy_dtype
from tfjs_lite.kernels.segment import empty_segment_value

__all__ = ["LOWERINGS", "LowerSegmentOps"]

_INT32 = DType("DT_INT32")


class _Builder:
    """Adds the nodes of one lowering, named ``<node>/<what>``."""

    def __init__(self, graph: Graph, node: str) -> None:
        self.graph, self.node = graph, node
        attrs = graph.attrs(node)
        self.t = attrs.get("T", DType("DT_FLOAT"))
        self.ti = attrs.get("Tindices", _INT32)

    def const(self, what: str, value: object, dtype: DType) -> TensorRef:
        array = np.asarray(value, dtype=numpy_dtype(dtype))
        return self.graph.add_const(array, name=self.graph.unique_name(f"{self.node}/{what}"))

    def op(self, what: str, op: str, inputs: list[TensorRef], **attrs: object) -> TensorRef:
        name = self.graph.unique_name(f"{self.node}/{what}")
        return TensorRef(self.graph.add_op(op, inputs, dict(attrs), name=name), 0)

    def finish(self, op: str, inputs: list[TensorRef], **attrs: object) -> None:
        """Turn the original node into the last op of the lowering (consumers stay wired)."""
        self.graph.set_op(self.node, op)
        node_attrs = self.graph.attrs(self.node)
        node_attrs.clear()
        node_attrs.update(attrs)
        self.graph.set_inputs(self.node, inputs)

    def vector(self, what: str, scalar: TensorRef) -> TensorRef:
        return self.op(what, "Reshape", [scalar, self.const(f"{what}_shape", [1], _INT32)],
                       T=self.ti, Tshape=_INT32)

    def inner_shape(self, data: TensorRef, ids_rank: int) -> TensorRef:
        shape = self.op("data_shape", "Shape", [data], T=self.t, out_type=self.ti)
        return self.op("inner_shape", "StridedSlice",
                       [shape, self.const("inner_begin", [ids_rank], self.ti),
                        self.const("inner_end", [0], self.ti), self.const("inner_strides", [1], self.ti)],
                       T=self.ti, Index=self.ti, begin_mask=0, end_mask=1, ellipsis_mask=0,
                       new_axis_mask=0, shrink_axis_mask=0)

    def sorted_count(self, ids: TensorRef) -> TensorRef:
        """``max(ids) + 1`` (a scalar of the ids' dtype)."""
        top = self.op("max_id", "Max", [ids, self.const("all_axes", [0], _INT32)], T=self.ti,
                      Tidx=_INT32, keep_dims=False)
        return self.op("num_segments", "AddV2", [top, self.const("one", 1, self.ti)], T=self.ti)

    def num_segments(self, given: TensorRef) -> TensorRef:
        given_dtype = self.graph.attrs(self.node).get("Tnumsegments", _INT32)
        if given_dtype == self.ti:
            return given
        return self.op("num_segments", "Cast", [given], SrcT=given_dtype, DstT=self.ti, Truncate=False)


def _ranks(graph: Graph, data: TensorRef, ids: TensorRef) -> tuple[int, int] | None:
    data_shape, ids_shape = static_shape(graph, data), static_shape(graph, ids)
    if data_shape is None or ids_shape is None or len(data_shape) < len(ids_shape):
        return None
    return len(ids_shape), len(data_shape) - len(ids_shape)


def _scatter_inputs(b: _Builder, data: TensorRef, ids: TensorRef, rows: TensorRef, ids_rank: int,
                    what: str) -> list[TensorRef]:
    """The (indices, updates, shape) inputs of a ScatterNd summing ``data`` into ``rows`` rows."""
    indices = b.op(f"{what}_indices", "ExpandDims", [ids, b.const(f"{what}_last", -1, _INT32)],
                   T=b.ti, Tdim=_INT32)
    shape = b.op(f"{what}_shape", "ConcatV2",
                 [b.vector(f"{what}_rows", rows), b.inner_shape(data, ids_rank),
                  b.const(f"{what}_axis", 0, _INT32)], T=b.ti, N=2, Tidx=_INT32)
    return [indices, data, shape]


def _scatter(b: _Builder, data: TensorRef, ids: TensorRef, rows: TensorRef, ids_rank: int,
             what: str) -> TensorRef:
    return b.op(what, "ScatterNd", _scatter_inputs(b, data, ids, rows, ids_rank, what),
                T=b.t, Tindices=b.ti)


def _unsorted_sum(graph: Graph, node: str) -> bool:
    data, ids, given = graph.inputs_of(node)
    ranks = _ranks(graph, data, ids)
    if ranks is None:
        return False
    b = _Builder(graph, node)
    n = b.num_segments(given)
    negative = b.op("negative", "Less", [ids, b.const("zero", 0, b.ti)], T=b.ti)
    routed = b.op("routed_ids", "SelectV2", [negative, n, ids], T=b.ti)
    rows = b.op("rows", "AddV2", [n, b.const("one", 1, b.ti)], T=b.ti)
    summed = _scatter(b, data, routed, rows, ranks[0], "scatter")
    b.finish("StridedSlice", [summed, b.const("begin", [0], b.ti), b.vector("end", n),
                              b.const("strides", [1], b.ti)],
             T=b.t, Index=b.ti, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
             shrink_axis_mask=0)
    return True


def _sorted_sum(graph: Graph, node: str) -> bool:
    data, ids = graph.inputs_of(node)
    ranks = _ranks(graph, data, ids)
    if ranks is None:
        return False
    b = _Builder(graph, node)
    b.finish("ScatterNd", _scatter_inputs(b, data, ids, b.sorted_count(ids), ranks[0], "scatter"),
             T=b.t, Tindices=b.ti)
    return True


def _sorted_mean(graph: Graph, node: str) -> bool:
    data, ids = graph.inputs_of(node)
    ranks = _ranks(graph, data, ids)
    dtype = static_dtype(graph, data) or graph.attrs(node).get("T")
    if ranks is None or dtype is None or numpy_dtype(DType(dtype)).kind != "f":
        return False
    b = _Builder(graph, node)
    n = b.sorted_count(ids)
    total = _scatter(b, data, ids, n, ranks[0], "sum")
    ones = b.op("ones", "OnesLike", [ids], T=b.ti)
    ones = b.op("ones_float", "Cast", [ones], SrcT=b.ti, DstT=b.t, Truncate=False)
    indices = b.op("count_indices", "ExpandDims", [ids, b.const("count_last", -1, _INT32)],
                   T=b.ti, Tdim=_INT32)
    count = b.op("count", "ScatterNd", [indices, ones, b.vector("count_shape", n)], T=b.t, Tindices=b.ti)
    count = b.op("count_at_least_one", "Maximum", [count, b.const("one_float", 1, b.t)], T=b.t)
    shape = b.const("count_broadcast", [-1] + [1] * ranks[1], _INT32)
    count = b.op("count_broadcast", "Reshape", [count, shape], T=b.t, Tshape=_INT32)
    b.finish("RealDiv", [total, count], T=b.t)
    return True


def _masked(reduction: str, sorted_ids: bool) -> Callable[[Graph, str], bool]:
    def lower(graph: Graph, node: str) -> bool:
        inputs = graph.inputs_of(node)
        data, ids = inputs[0], inputs[1]
        ranks = _ranks(graph, data, ids)
        if ranks is None:
            return False
        b = _Builder(graph, node)
        n = b.sorted_count(ids) if sorted_ids else b.num_segments(inputs[2])
        flat_ids = b.op("flat_ids", "Reshape", [ids, b.const("flat_shape", [-1], _INT32)],
                        T=b.ti, Tshape=_INT32)
        flat_data_shape = b.op("flat_data_shape", "ConcatV2",
                               [b.const("minus_one", [-1], b.ti), b.inner_shape(data, ranks[0]),
                                b.const("concat_axis", 0, _INT32)], T=b.ti, N=2, Tidx=_INT32)
        flat_data = b.op("flat_data", "Reshape", [data, flat_data_shape], T=b.t, Tshape=b.ti)
        segments = b.op("segments", "Range", [b.const("start", 0, b.ti), n, b.const("delta", 1, b.ti)],
                        Tidx=b.ti)
        mask = b.op("mask", "Equal",
                    [b.op("segments_column", "ExpandDims", [segments, b.const("col_axis", 1, _INT32)],
                          T=b.ti, Tdim=_INT32),
                     b.op("ids_row", "ExpandDims", [flat_ids, b.const("row_axis", 0, _INT32)],
                          T=b.ti, Tdim=_INT32)], T=b.ti)
        mask_shape = b.op("mask_shape", "ConcatV2",
                          [b.op("mask_dims", "Shape", [mask], T=DType("DT_BOOL"), out_type=b.ti),
                           b.const("inner_ones", [1] * ranks[1], b.ti), b.const("mask_axis", 0, _INT32)],
                          T=b.ti, N=2, Tidx=_INT32)
        wide_mask = b.op("wide_mask", "Reshape", [mask, mask_shape], T=DType("DT_BOOL"), Tshape=b.ti)
        rows = b.op("data_rows", "ExpandDims", [flat_data, b.const("data_axis", 0, _INT32)],
                    T=b.t, Tdim=_INT32)
        fill = b.const("fill", empty_segment_value(reduction, numpy_dtype(b.t), sorted_ids=False), b.t)
        picked = b.op("picked", "SelectV2", [wide_mask, rows, fill], T=b.t)
        axis = b.const("id_axis", 1, _INT32)
        if not (sorted_ids and reduction in ("Max", "Min")):
            b.finish(reduction, [picked, axis], T=b.t, Tidx=_INT32, keep_dims=False)
            return True
        reduced = b.op("reduced", reduction, [picked, axis], T=b.t, Tidx=_INT32, keep_dims=False)
        present = b.op("present", "Any", [wide_mask, axis], Tidx=_INT32, keep_dims=False)
        b.finish("SelectV2", [present, reduced, b.const("empty", 0, b.t)], T=b.t)
        return True

    return lower


# One lowering per op.
LOWERINGS: dict[str, Callable[[Graph, str], bool]] = {
    "UnsortedSegmentSum": _unsorted_sum,
    "SegmentSum": _sorted_sum,
    "SegmentMean": _sorted_mean,
    "SegmentMax": _masked("Max", sorted_ids=True),
    "SegmentMin": _masked("Min", sorted_ids=True),
    "SegmentProd": _masked("Prod", sorted_ids=True),
    "UnsortedSegmentMax": _masked("Max", sorted_ids=False),
    "UnsortedSegmentMin": _masked("Min", sorted_ids=False),
    "UnsortedSegmentProd": _masked("Prod", sorted_ids=False),
}


class LowerSegmentOps(Pass):
    """Segment{Sum,Mean,Max,Min,Prod} and UnsortedSegment{Sum,Max,Min,Prod} => ops TF.js has."""

    name = "lower_segment_ops"

    def run(self, graph: Graph) -> bool:
        """Lower every segment op whose ranks are known; True iff any was lowered."""
        changed = False
        for node in graph.nodes_by_op(*LOWERINGS):
            changed |= LOWERINGS[graph.op(node)](graph, node)
        return changed
