"""Small helpers shared by the SavedModel loaders: tensor names, dtypes, turning nodes into
Placeholders and Consts, output-port checks."""

from __future__ import annotations

import numpy as np

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.ir.attrs import DType, dtype_of
from tfjs_lite.ir.graph import Graph, TensorRef, TensorType


def _tensor_ref(name: str) -> TensorRef:
    node, _, port = name.partition(":")
    if not node or (port and not port.isdigit()):  # isdigit also refuses "-1"
        raise ModelFormatError(f"malformed tensor name {name!r} (expected node or node:port)")
    return TensorRef(node, int(port) if port else 0)


def _dtype(number: int) -> DType:
    from tfjs_lite.readers.graph_def import attr_from_proto_type

    return attr_from_proto_type(number)


def _make_placeholder(graph: Graph, name: str, dtype: DType, shape: tuple[int | None, ...] | None) -> None:
    graph.set_op(name, "Placeholder")
    attrs = graph.attrs(name)
    attrs.clear()
    attrs["dtype"] = dtype
    attrs["shape"] = shape
    graph.set_out_types(name, [TensorType(dtype, shape)])


def _make_const(graph: Graph, name: str, value: np.ndarray) -> None:
    graph.set_op(name, "Const")
    graph.attrs(name).clear()
    graph.set_value(name, value)
    graph.set_out_types(name, [TensorType(dtype_of(value), tuple(value.shape))])


def _check_port(graph: Graph, ref: TensorRef, what: str) -> None:
    types = graph.out_types(ref.node)
    if types is not None and ref.port >= len(types):
        raise ModelFormatError(f"{what} reads output {ref.port} of {ref.node!r} ({graph.op(ref.node)}), "
                               f"which has {len(types)} outputs")
