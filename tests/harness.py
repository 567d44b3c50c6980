"""The numeric-equivalence harness every pass test uses (docs/ir.md §4)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from tfjs_lite import executor
from tfjs_lite.ir import Graph, TensorRef, TensorType, dtype_of, numpy_dtype

__all__ = ["assert_pass_preserves", "op_histogram", "random_feeds", "record_shapes"]

# Unknown (None) dims in a placeholder shape are fed with this size.
UNKNOWN_DIM = 2


def op_histogram(graph: Graph) -> dict[str, int]:
    """``{op type: node count}`` with keys sorted, for structural asserts."""
    return dict(sorted(Counter(graph.op(n) for n in graph.nodes()).items()))


def _input_type(graph: Graph, key: str) -> tuple[Any, tuple[int, ...]]:
    node = graph.inputs[key].node
    attrs = graph.attrs(node)
    dtype, shape = attrs.get("dtype", attrs.get("T")), attrs.get("shape")
    if shape is None and attrs.get("_output_shapes"):
        shape = attrs["_output_shapes"][0]
    types = graph.out_types(node)
    if types:
        dtype = dtype or types[graph.inputs[key].port].dtype
        shape = shape if shape is not None else types[graph.inputs[key].port].shape
    if dtype is None or shape is None:
        raise ValueError(f"input {key!r} has no known dtype/shape; pass feeds explicitly")
    return numpy_dtype(dtype), tuple(UNKNOWN_DIM if d is None or d < 0 else int(d) for d in shape)


def random_feeds(graph: Graph, seed: int) -> dict[str, np.ndarray]:
    """Deterministic random values for every signature input.

    Floats ~ N(0, 1); integers uniform in [0, 5) (small, so they are valid indices/shapes in
    typical test graphs); bools fair coins.
    """
    rng = np.random.default_rng(seed)
    feeds = {}
    for key in graph.inputs:
        dtype, shape = _input_type(graph, key)
        if dtype.kind == "f":
            feeds[key] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind in "iu":
            feeds[key] = rng.integers(0, 5, size=shape).astype(dtype)
        elif dtype.kind == "b":
            feeds[key] = rng.random(shape) < 0.5
        else:
            raise ValueError(f"cannot make random feeds of dtype {dtype} for input {key!r}")
    return feeds


def assert_pass_preserves(graph: Graph, pass_: Any, *, feeds: dict[str, np.ndarray] | None = None,
                          expect_modified: bool = True, expect_ops: dict[str, int] | None = None,
                          rtol: float = 1e-6, atol: float = 1e-6) -> Graph:
    """Run ``pass_`` on a copy of ``graph`` and check it is honest, valid, equivalent, idempotent.

    Returns:
        The rewritten copy, for further structural asserts.
    """
    feeds = feeds or random_feeds(graph, seed=0)
    before = executor.run(graph, feeds)
    g2 = graph.copy()
    assert pass_.run(g2) is expect_modified, f"{type(pass_).__name__}.run() should return {expect_modified}"
    g2.check()
    after = executor.run(g2, feeds)
    assert list(after) == list(before), "signature outputs changed"
    for k in before:
        assert after[k].dtype == before[k].dtype, f"output {k!r}: dtype {after[k].dtype} != {before[k].dtype}"
        assert after[k].shape == before[k].shape, f"output {k!r}: shape {after[k].shape} != {before[k].shape}"
        np.testing.assert_allclose(after[k], before[k], rtol=rtol, atol=atol, err_msg=f"output {k!r}")
    if expect_ops is not None:
        assert op_histogram(g2) == dict(sorted(expect_ops.items()))
    assert pass_.run(g2) is False, f"{type(pass_).__name__} is not idempotent"
    return g2


def record_shapes(graph: Graph, seed: int = 0) -> Graph:
    """Record every computed node's output-0 type from one run, as readers that know shapes do.

    Returns ``graph`` itself (changed in place).
    """
    probe = graph.copy()
    nodes = [n for n in graph.nodes() if graph.op(n) not in ("Const", "Placeholder")]
    for n in nodes:
        probe.outputs[f"probe/{n}"] = TensorRef(n, 0)
    values = executor.run(probe, random_feeds(graph, seed))
    for n in nodes:
        value = values[f"probe/{n}"]
        graph.set_out_types(n, [TensorType(dtype_of(value), value.shape)])
    return graph
