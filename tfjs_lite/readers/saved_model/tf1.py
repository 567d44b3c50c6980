"""TF1 SavedModels: the top-level graph is kept, variables (``VarHandleOp``/``VariableV2``) are
frozen by name, which is how TF1 checkpoints are keyed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.ir.attrs import DType, shape_from_proto
from tfjs_lite.ir.graph import Graph, TensorRef
from tfjs_lite.readers.graph_def import read_graph_def
from tfjs_lite.readers.saved_model.captures import LAZY_MIN_BYTES
from tfjs_lite.readers.saved_model.freeze import _freeze
from tfjs_lite.readers.saved_model.inline import inline_calls, prune
from tfjs_lite.readers.saved_model.nodes import _check_port, _dtype, _make_const, _tensor_ref


def _load_tf1(path: Path, mg: Any, sig: Any, top: Graph, op_defs: list[Any]) -> Graph:
    graph = read_graph_def(mg.graph_def, op_defs=op_defs)
    signature: dict[str, dict[str, Any]] = {"inputs": {}, "outputs": {}}
    for key in sorted(sig.inputs):
        info = sig.inputs[key]
        ref = _tensor_ref(info.name)
        if ref.node not in graph:
            raise ModelFormatError(f"{path}: signature input {key!r} names missing node {ref.node!r}")
        _check_port(graph, ref, f"{path}: signature input {key!r}")
        graph.inputs[key] = ref
        signature["inputs"][key] = {"dtype": _dtype(info.dtype), "shape": shape_from_proto(info.tensor_shape)}
    for key in sorted(sig.outputs):
        info = sig.outputs[key]
        graph.outputs[key] = _tensor_ref(info.name)
        _check_port(graph, graph.outputs[key], f"{path}: signature output {key!r}")
        signature["outputs"][key] = {"dtype": _dtype(info.dtype), "shape": shape_from_proto(info.tensor_shape)}
    inline_calls(graph)
    prune(graph)
    _freeze_tf1_variables(graph, path)
    prune(graph)
    graph.meta["signature"] = signature
    graph.meta["structured_outputs"] = None
    graph.initializer, graph.initializer_outputs = None, {}
    return graph


def _freeze_tf1_variables(graph: Graph, path: Path | None) -> None:
    variables = graph.nodes_by_op("VarHandleOp", "VariableV2", "Variable")
    if not variables:
        return
    if path is None:
        raise UnsupportedModelError(
            f"the graph still holds variables ({', '.join(variables[:5])}); freeze it first")
    from tfjs_lite.readers.tensor_bundle import TensorBundle

    bundle = TensorBundle(path / "variables" / "variables", root=path)
    frozen: dict[TensorRef, DType] = {}
    for name in variables:
        attrs = graph.attrs(name)
        key = attrs.get("shared_name") or name
        if key not in bundle:
            key = name
        if key not in bundle:
            raise ModelFormatError(f"{path}: variable {name!r} has no value in the checkpoint")
        resource = graph.op(name) == "VarHandleOp"
        # A FileTensor stands for its array as a Const value (the IR keeps lazy tensors unread).
        _make_const(graph, name, bundle.read_lazy(key, min_bytes=LAZY_MIN_BYTES))  # type: ignore[arg-type]
        if resource:
            frozen[TensorRef(name, 0)] = graph.attrs(name)["dtype"]
    _freeze(graph, frozen)
