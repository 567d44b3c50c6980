"""A tiny GraphBuilder for writing small IR graphs in tests.

    g = GraphBuilder()
    x = g.input("x", (1, 4, 4, 3))
    w = g.const(np.ones((3, 3, 3, 8), np.float32), name="w")
    y = g.op("Conv2D", x, w, strides=[1, 1, 1, 1], padding="SAME")
    g.output("y", g.op("Relu", y))
    graph = g.build()
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tfjs_lite.ir import DType, Graph, TensorRef, TensorType

__all__ = ["GraphBuilder"]


def _attr(value: Any) -> Any:
    # Test convenience: "DT_..." strings become DType attrs, tuples stay shapes.
    if isinstance(value, str) and value.startswith("DT_"):
        return DType(value)
    if isinstance(value, list):
        return [_attr(v) for v in value]
    return value


class GraphBuilder:
    """Builds a :class:`Graph` with signature inputs/outputs in a few lines."""

    def __init__(self) -> None:
        self.graph = Graph()

    def input(self, name: str, shape: Sequence[int | None], dtype: str = "DT_FLOAT", *,
              op: str = "Placeholder") -> TensorRef:
        """Add a ``Placeholder`` (or ``_Arg`` in function bodies) registered as input ``name``."""
        dt, shp = DType(dtype), tuple(shape)
        attrs = {"dtype": dt, "shape": shp} if op == "Placeholder" else {
            "T": dt, "index": len(self.graph.inputs), "_output_shapes": [shp]}
        self.graph.add_op(op, attrs=attrs, name=name, out_types=[TensorType(dt, shp)])
        ref = TensorRef(name, 0)
        self.graph.inputs[name] = ref
        return ref

    def const(self, value: Any, *, name: str | None = None, dtype: Any = None) -> TensorRef:
        """Add a ``Const``; Python floats default to float32, ints to int32."""
        array = np.asarray(value, dtype=dtype)
        if dtype is None and array.dtype == np.float64:
            array = array.astype(np.float32)
        elif dtype is None and array.dtype == np.int64:
            array = array.astype(np.int32)
        return self.graph.add_const(array, name=name)

    def op(self, op: str, *inputs: TensorRef, name: str | None = None, outputs: int = 1,
           control: Sequence[TensorRef | str] = (), **attrs: Any) -> Any:
        """Add a node; returns its output ref, or a tuple of refs when ``outputs > 1``."""
        controls = [c.node if isinstance(c, TensorRef) else c for c in control]
        node = self.graph.add_op(op, list(inputs), {k: _attr(v) for k, v in attrs.items()},
                                 name=name, control_inputs=controls)
        refs = tuple(TensorRef(node, i) for i in range(outputs))
        return refs[0] if outputs == 1 else refs

    def output(self, key: str, ref: TensorRef) -> None:
        """Register ``ref`` as signature output ``key``."""
        self.graph.outputs[key] = ref

    def build(self) -> Graph:
        """Check the invariants and return the graph."""
        self.graph.check()
        return self.graph
