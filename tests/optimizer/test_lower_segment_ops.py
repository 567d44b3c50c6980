"""lower_segment_ops: every Segment*/UnsortedSegment* op => ScatterNd or masked reductions."""

from __future__ import annotations

import numpy as np
import pytest
from builders import GraphBuilder
from harness import assert_pass_preserves
from tfjs_lite.optimizer.passes.lower_segment_ops import LOWERINGS, LowerSegmentOps

from tfjs_lite.ir import Graph

SORTED = ["SegmentSum", "SegmentMean", "SegmentMax", "SegmentMin", "SegmentProd"]
UNSORTED = ["UnsortedSegmentSum", "UnsortedSegmentMax", "UnsortedSegmentMin", "UnsortedSegmentProd"]
TFJS_OPS = {"ScatterNd", "StridedSlice", "SelectV2", "Less", "AddV2", "ExpandDims", "ConcatV2",
            "Shape", "Reshape", "Const", "Max", "Min", "Prod", "Any", "Range", "Equal", "RealDiv",
            "Maximum", "OnesLike", "Cast", "Placeholder", "Identity"}


def _graph(op: str, data_shape: tuple, ids: np.ndarray, *, num_segments: int | None = None,
           dtype: str = "DT_FLOAT", ids_as_input: bool = False, unknown_rank: bool = False) -> Graph:
    g = GraphBuilder()
    data = g.input("data", data_shape, dtype)
    ids_ref = g.input("ids", ids.shape, "DT_INT32") if ids_as_input else g.const(ids, name="ids")
    if unknown_rank:
        g.graph.set_out_types("data", None)
        g.graph.attrs("data").pop("shape")
    inputs = [data, ids_ref] + ([g.const(np.int32(num_segments))] if num_segments is not None else [])
    attrs = {"T": dtype, "Tindices": "DT_INT32"}
    if num_segments is not None:
        attrs["Tnumsegments"] = "DT_INT32"
    g.output("y", g.op(op, *inputs, name="seg", **attrs))
    return g.build()


def _feeds(shape: tuple, dtype=np.float32, ids: np.ndarray | None = None) -> dict:
    rng = np.random.default_rng(3)
    data = rng.standard_normal(shape).astype(dtype) if dtype == np.float32 else \
        rng.integers(-9, 9, shape).astype(dtype)
    return {"data": data} if ids is None else {"data": data, "ids": ids}


@pytest.mark.parametrize("op", SORTED)
def test_sorted_with_an_empty_segment(op: str) -> None:
    ids = np.array([0, 0, 1, 3, 3, 3, 4], np.int32)
    g2 = assert_pass_preserves(_graph(op, (7, 3), ids), LowerSegmentOps(), feeds=_feeds((7, 3)),
                               atol=1e-5)
    assert {g2.op(n) for n in g2.nodes()} <= TFJS_OPS


@pytest.mark.parametrize("op", UNSORTED)
def test_unsorted_with_negative_ids_and_empty_segments(op: str) -> None:
    ids = np.array([2, -1, 0, 2, 5, 0, -1], np.int32)
    g2 = assert_pass_preserves(_graph(op, (7, 2, 2), ids, num_segments=7), LowerSegmentOps(),
                               feeds=_feeds((7, 2, 2)), atol=1e-5)
    assert {g2.op(n) for n in g2.nodes()} <= TFJS_OPS


@pytest.mark.parametrize("op", UNSORTED)
def test_unsorted_with_matrix_ids_fed_at_run_time(op: str) -> None:
    ids = np.array([[1, 0, 1], [2, 2, 0]], np.int32)
    assert_pass_preserves(_graph(op, (2, 3, 4), ids, num_segments=3, ids_as_input=True),
                          LowerSegmentOps(), feeds=_feeds((2, 3, 4), ids=ids), atol=1e-5)


@pytest.mark.parametrize("op", ["UnsortedSegmentSum", "SegmentSum", "SegmentMax", "UnsortedSegmentMin"])
def test_integer_data(op: str) -> None:
    ids = np.array([0, 1, 1, 3, 3], np.int32)
    graph = _graph(op, (5, 2), ids, dtype="DT_INT32",
                   num_segments=4 if op.startswith("Unsorted") else None)
    assert_pass_preserves(graph, LowerSegmentOps(), feeds=_feeds((5, 2), np.int32))


def test_vector_data() -> None:
    ids = np.array([0, 1, 1, 2, 2], np.int32)
    assert_pass_preserves(_graph("SegmentSum", (5,), ids), LowerSegmentOps(), feeds=_feeds((5,)))


def test_not_fired_without_a_known_rank() -> None:
    ids = np.array([0, 0, 1], np.int32)
    graph = _graph("UnsortedSegmentSum", (3, 2), ids, num_segments=2, unknown_rank=True)
    assert_pass_preserves(graph, LowerSegmentOps(), feeds=_feeds((3, 2)), expect_modified=False)


def test_integer_mean_is_left_to_the_op_check() -> None:
    graph = _graph("SegmentMean", (3, 2), np.array([0, 0, 1], np.int32), dtype="DT_INT32")
    assert_pass_preserves(graph, LowerSegmentOps(), feeds=_feeds((3, 2), np.int32), expect_modified=False)


def test_every_segment_op_has_one_lowering() -> None:
    assert set(LOWERINGS) == set(SORTED) | set(UNSORTED)
