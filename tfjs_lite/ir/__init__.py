"""The tfjs-lite graph IR: ``Graph``, tensor references and attr values."""

from __future__ import annotations

from tfjs_lite.ir.attrs import (
    AttrPlaceholder,
    AttrValue,
    DType,
    FuncRef,
    dtype_of,
    numpy_dtype,
)
from tfjs_lite.ir.function import ArgDef, FunctionSignature
from tfjs_lite.ir.graph import Graph, TensorRef, TensorType
from tfjs_lite.ir.liveness import live_nodes, remove_dead
from tfjs_lite.ir.names import UniqueNamer, format_input, parse_input
from tfjs_lite.ir.printer import format_graph

__all__ = [
    "ArgDef",
    "AttrPlaceholder",
    "AttrValue",
    "DType",
    "FuncRef",
    "FunctionSignature",
    "Graph",
    "TensorRef",
    "TensorType",
    "UniqueNamer",
    "dtype_of",
    "format_graph",
    "format_input",
    "live_nodes",
    "numpy_dtype",
    "parse_input",
    "remove_dead",
]
