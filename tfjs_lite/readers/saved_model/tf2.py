"""TF2 SavedModels: the signature wrapper function's body becomes the top-level graph, its user
args Placeholders and its captured args frozen values (module docstring of the package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.ir.attrs import DType, dtype_of, shape_from_proto
from tfjs_lite.ir.graph import Graph, TensorRef
from tfjs_lite.readers.graph_def import read_graph_def
from tfjs_lite.readers.saved_model.captures import _resolve_captures
from tfjs_lite.readers.saved_model.freeze import _freeze
from tfjs_lite.readers.saved_model.initializer import _build_initializer
from tfjs_lite.readers.saved_model.inline import inline_calls, prune
from tfjs_lite.readers.saved_model.nodes import _dtype, _make_const, _make_placeholder, _tensor_ref


def _load_tf2(path: Path, mg: Any, sig: Any, top: Graph, op_defs: list[Any], call: str, fname: str) -> Graph:
    lib = read_graph_def(mg.graph_def, op_defs=op_defs, functions=[fname], include_nodes=False,
                         registry=top.meta["op_registry"])
    library = lib.functions
    body = library[fname]
    assert body.signature is not None  # every library function is read with its signature
    graph = body.copy()
    graph.signature = None
    graph.functions = {}
    graph.inputs = {}
    graph.outputs = {}
    graph.meta = {"versions": lib.meta["versions"], "op_registry": lib.meta["op_registry"]}

    concrete = mg.object_graph_def.concrete_functions[fname]
    call_inputs = top.inputs_of(call)
    args = list(body.signature.input_args)
    if len(call_inputs) != len(args):
        raise ModelFormatError(f"{path}: call {call!r} passes {len(call_inputs)} inputs to {fname} "
                               f"which takes {len(args)}")
    n_user = len(args) - len(concrete.bound_inputs)
    feeds = {_tensor_ref(info.name): key for key, info in sig.inputs.items()}
    captures = _resolve_captures(path, mg, top, list(concrete.bound_inputs))
    signature: dict[str, dict[str, Any]] = {"inputs": {}, "outputs": {}}
    frozen: dict[TensorRef, DType] = {}
    resources: list[tuple[str, int]] = []

    for index, arg in enumerate(args):
        name = arg.name
        if index < n_user:
            key = feeds.get(call_inputs[index])
            if key is None:
                raise ModelFormatError(f"{path}: input {index} of {call!r} is not a signature input")
            info = sig.inputs[key]
            dtype = _dtype(info.dtype)
            shape = shape_from_proto(info.tensor_shape)
            _make_placeholder(graph, name, dtype, shape)
            graph.inputs[key] = TensorRef(name, 0)
            signature["inputs"][key] = {"dtype": dtype, "shape": shape}
            continue
        capture = captures[index - n_user]
        if capture.kind == "resource":
            _make_placeholder(graph, name, DType("DT_RESOURCE"), ())
            key = f"{name}:0"
            graph.inputs[key] = TensorRef(name, 0)
            signature["inputs"][key] = {"dtype": DType("DT_RESOURCE"), "shape": (),
                                        "resource_id": capture.node_id}
            resources.append((name, capture.node_id))
            continue
        assert capture.value is not None
        _make_const(graph, name, capture.value)
        if capture.kind == "variable":
            frozen[TensorRef(name, 0)] = dtype_of(capture.value)

    for key in sorted(sig.outputs):
        port = _tensor_ref(sig.outputs[key].name).port
        if port >= len(body.signature.output_args):
            raise ModelFormatError(f"{path}: signature output {key!r} reads output {port} of {call!r}, but "
                                   f"{fname} has {len(body.signature.output_args)} outputs")
        out_arg = body.signature.output_args[port].name
        graph.outputs[key] = body.outputs[out_arg]
        info = sig.outputs[key]
        signature["outputs"][key] = {"dtype": _dtype(info.dtype), "shape": shape_from_proto(info.tensor_shape)}

    graph.functions = {name: g for name, g in library.items() if name != fname}
    inline_calls(graph)
    prune(graph)
    _freeze(graph, frozen)
    prune(graph)
    graph.meta["signature"] = signature
    graph.meta["structured_outputs"] = _structured_output_keys(concrete)
    graph.initializer, graph.initializer_outputs = _build_initializer(
        path, mg, top, op_defs, resources)
    return graph


def _structured_output_keys(concrete: Any) -> list[str] | None:
    sig = concrete.output_signature
    if sig.WhichOneof("kind") == "dict_value":
        return sorted(sig.dict_value.fields)
    return None
