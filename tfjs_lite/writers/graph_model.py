"""``ir.Graph`` -> TF.js graph model (``model.json`` + weight shards), as tfjs 4.22 writes it.

Format (docs/formats.md §1): ``modelTopology`` is the protobuf-JSON (``MessageToDict``) of a
GraphDef whose ``Const`` nodes keep only ``dtype`` and the value's ``dtype``/``tensorShape``; every
Const value (main graph, then function bodies, then the initializer graph) becomes a weight of one
group, named after its node (function-body Consts: ``<function>/<node>``). Unlike the official
converter, output is deterministic: nodes in topological order, attr maps sorted by key, library
functions sorted by name, and ``signature.outputs`` sorted by key so the positional
``structuredOutputKeys`` line up (§2.5).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from tfjs_lite.errors import UnsupportedModelError
from tfjs_lite.ir.attrs import DType, attr_to_proto, shape_to_proto
from tfjs_lite.ir.graph import Graph, TensorRef
from tfjs_lite.report import Report

__all__ = [
    "CONVERTED_BY",
    "build_model_json",
    "graph_to_graph_def",
    "signature_json",
    "write_graph_model",
]

CONVERTED_BY = "TensorFlow.js Converter v4.22.0"
GENERATED_BY_FALLBACK = "tfjs-lite"
# Shape annotations TF adds when serializing a function graph; the official output has none.
_DROPPED_ATTRS = frozenset({"_output_shapes"})
_MAP_FIELDS = frozenset({"attr", "ret", "argAttr", "controlRet", "resourceArgUniqueId"})


# ------------------------------------------------------------------------------- GraphDef building


def _registry(graph: Graph) -> Any:
    registry = graph.meta.get("op_registry")
    if registry is None:
        from tfjs_lite.readers.graph_def import OpRegistry

        registry = OpRegistry()
        graph.meta["op_registry"] = registry
    return registry


def _const_dtype(graph: Graph, node: str) -> DType:
    dtype = graph.attrs(node).get("dtype")
    if isinstance(dtype, DType):
        return dtype
    from tfjs_lite.ir.attrs import dtype_of

    value = graph.value(node)
    assert value is not None
    return dtype_of(value)


def _fill_node(proto: Any, graph: Graph, node: str, name: str, inputs: list[str]) -> None:
    proto.name = name
    proto.op = graph.op(node)
    proto.input.extend(inputs)
    device = graph.device(node)
    if device:
        proto.device = device
    attrs = graph.attrs(node)
    if graph.op(node) == "Const":
        value = graph.value(node)
        assert value is not None
        dtype = _const_dtype(graph, node)
        tensor = proto.attr["value"].tensor
        tensor.dtype = _enum(dtype)
        shape_to_proto(tuple(value.shape), tensor.tensor_shape)
        proto.attr["dtype"].type = _enum(dtype)
        for key in sorted(attrs):
            if key not in ("dtype", "value") and key not in _DROPPED_ATTRS:
                attr_to_proto(attrs[key], proto.attr[key])
        return
    for key in sorted(attrs):
        if key not in _DROPPED_ATTRS:
            attr_to_proto(attrs[key], proto.attr[key])


def _enum(dtype: DType) -> int:
    from tfjs_lite._proto.types_pb2 import DataType

    return int(DataType.Value(str(dtype)))


def _main_inputs(graph: Graph, node: str) -> list[str]:
    refs = [r.node if r.port == 0 else f"{r.node}:{r.port}" for r in graph.inputs_of(node)]
    return refs + ["^" + c for c in graph.control_inputs_of(node)]


def graph_to_graph_def(graph: Graph, *, include_library: bool = True) -> Any:
    """The ``GraphDef`` proto of ``graph`` (nodes in topological order, Const values stripped).

    Args:
        graph: The graph; ``meta["versions"]`` gives ``versions``.
        include_library: Write ``graph.functions`` as the FunctionDefLibrary.
    """
    from tfjs_lite._proto.graph_pb2 import GraphDef

    graph_def = GraphDef()
    for node in graph.topo_order():
        _fill_node(graph_def.node.add(), graph, node, node, _main_inputs(graph, node))
    if include_library:
        graph_def.library.SetInParent()
        for fname in sorted(graph.functions):
            _function_def(graph.functions[fname], graph_def.library.function.add())
    versions = graph.meta.get("versions") or {}
    graph_def.versions.SetInParent()
    graph_def.versions.producer = int(versions.get("producer", 0))
    graph_def.versions.min_consumer = int(versions.get("min_consumer", 0))
    graph_def.versions.bad_consumers.extend(versions.get("bad_consumers", []))
    return graph_def


def _function_def(body: Graph, proto: Any) -> None:
    sig = body.signature
    assert sig is not None
    registry = _registry(body)
    proto.signature.name = sig.name
    for args, field in ((sig.input_args, proto.signature.input_arg), (sig.output_args, proto.signature.output_arg)):
        for arg in args:
            _arg_def(arg, field.add())
    for key in sorted(sig.attrs):
        attr_to_proto(sig.attrs[key], proto.attr[key])
    for index in sorted(sig.arg_attrs):
        for key in sorted(sig.arg_attrs[index]):
            attr_to_proto(sig.arg_attrs[index][key], proto.arg_attr[index].attr[key])
    arg_names = {a.name for a in sig.input_args}
    consts = {n: f"{sig.name}/{n}" for n in body.nodes() if body.op(n) == "Const"}

    def ref_text(ref: TensorRef) -> str:
        if ref.node in arg_names and body.op(ref.node) == "_Arg":
            return ref.node
        name = consts.get(ref.node, ref.node)
        found = registry.out_arg_of(body.op(ref.node), body.attrs(ref.node), ref.port)
        out_arg, index = found if found is not None else ("output", ref.port)
        return f"{name}:{out_arg}:{index}"

    for node in body.topo_order():
        if body.op(node) == "_Arg":
            continue
        inputs = [ref_text(r) for r in body.inputs_of(node)]
        inputs += ["^" + consts.get(c, c) for c in body.control_inputs_of(node) if body.op(c) != "_Arg"]
        _fill_node(proto.node_def.add(), body, node, consts.get(node, node), inputs)
    for name, ref in body.outputs.items():
        proto.ret[name] = ref_text(ref)
    for name, node in sig.control_outputs.items():
        if node in body:
            proto.control_ret[name] = consts.get(node, node)


def _arg_def(arg: Any, proto: Any) -> None:
    proto.name = arg.name
    if arg.dtype is not None:
        proto.type = _enum(arg.dtype)
    for key in ("type_attr", "number_attr", "type_list_attr"):
        if arg.extra.get(key):
            setattr(proto, key, arg.extra[key])
    if arg.extra.get("is_ref"):
        proto.is_ref = True
    for dtype, shape in arg.extra.get("handle_data", []):
        entry = proto.handle_data.add()
        entry.dtype = _enum(dtype)
        shape_to_proto(shape, entry.shape)


# ------------------------------------------------------------------------------- JSON


def _to_dict(message: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return _sort_maps(json_format.MessageToDict(message))


def _sort_maps(value: Any, in_map: bool = False) -> Any:
    if isinstance(value, dict):
        items = sorted(value.items()) if in_map else value.items()
        return {k: _sort_maps(v, k in _MAP_FIELDS and not in_map) for k, v in items}
    if isinstance(value, list):
        return [_sort_maps(v) for v in value]
    return value


def _shape_json(shape: tuple[int | None, ...] | None) -> dict[str, Any]:
    return _to_dict(shape_to_proto(shape))


def signature_json(graph: Graph) -> dict[str, Any]:
    """The ``signature`` object: inputs and outputs (sorted by key) with tensor names and types."""
    meta = graph.meta.get("signature") or {}
    if graph.meta.get("frozen_graph"):
        return {"outputs": {key: {"name": key} for key in graph.outputs}}
    result: dict[str, Any] = {}
    inputs = {}
    for key, ref in graph.inputs.items():
        info = meta.get("inputs", {}).get(key, {})
        inputs[key] = _tensor_info(graph, ref, info)
    if inputs:
        result["inputs"] = inputs
    outputs = {}
    # TF.js takes the output order from this object; lowered Keras models keep the Keras order.
    keys = list(graph.outputs) if graph.meta.get("keep_signature_order") else sorted(graph.outputs)
    for key in keys:
        info = meta.get("outputs", {}).get(key, {})
        outputs[key] = _tensor_info(graph, graph.outputs[key], info)
    if outputs:
        result["outputs"] = outputs
    return result


def _tensor_info(graph: Graph, ref: TensorRef, info: Mapping[str, Any]) -> dict[str, Any]:
    dtype = info.get("dtype")
    shape = info.get("shape", ())
    types = graph.out_types(ref.node)
    if dtype is None and types and ref.port < len(types):
        dtype, shape = types[ref.port].dtype, types[ref.port].shape
    entry: dict[str, Any] = {"name": f"{ref.node}:{ref.port}"}
    if dtype is not None:
        entry["dtype"] = str(dtype)
        entry["tensorShape"] = _shape_json(shape)
    if "resource_id" in info:
        entry["resourceId"] = int(info["resource_id"])
    return entry


def _weights(graph: Graph) -> list[Any]:
    from tfjs_lite.writers.weights import WeightEntry

    entries = [WeightEntry(n, graph.value(n)) for n in graph.topo_order() if graph.op(n) == "Const"]
    for fname in sorted(graph.functions):
        body = graph.functions[fname]
        assert body.signature is not None
        entries.extend(WeightEntry(f"{body.signature.name}/{n}", body.value(n))
                       for n in body.topo_order() if body.op(n) == "Const")
    return entries


def _check_weight_dtypes(entries: list[Any]) -> None:
    for entry in entries:
        value = entry.data
        if isinstance(value, np.ndarray) and value.dtype.kind == "i" and value.dtype.itemsize == 8 and value.size:
            low, high = int(value.min()), int(value.max())
            if low < -(2**31) or high > 2**31 - 1:
                raise UnsupportedModelError(
                    f"weight {entry.name!r} holds int64 values outside the int32 range "
                    f"[{low}, {high}]; TF.js stores int64 as int32")


def build_model_json(
    graph: Graph,
    weights_manifest: list[dict[str, Any]],
    *,
    metadata: Mapping[str, Any] | None = None,
    use_structured_outputs_names: bool = False,
) -> dict[str, Any]:
    """The ``model.json`` dict, keys in the official order (§2.1)."""
    model: dict[str, Any] = {
        "format": "graph-model",
        "generatedBy": graph.meta.get("tensorflow_version") or GENERATED_BY_FALLBACK,
        "convertedBy": CONVERTED_BY,
        "signature": signature_json(graph),
        "modelTopology": _to_dict(graph_to_graph_def(graph)),
    }
    user: dict[str, Any] = dict(metadata or {})
    if use_structured_outputs_names:
        keys = graph.meta.get("structured_outputs")
        if not keys:
            raise UnsupportedModelError(
                "use_structured_outputs_names needs a signature whose outputs are a flat dict "
                '{"key1": value1, ...}; this model returns something else')
        user["structuredOutputKeys"] = sorted(keys)
    if user:
        model["userDefinedMetadata"] = user
    init = graph.initializer
    if init is not None and len(init):
        model["modelInitializer"] = _to_dict(graph_to_graph_def(init, include_library=False))
        outputs = {}
        for name, resource_id in sorted(graph.initializer_outputs.items()):
            outputs[name] = {"name": name, "dtype": "DT_RESOURCE", "tensorShape": {},
                             "resourceId": int(resource_id)}
        model["initializerSignature"] = {"outputs": outputs}
    model["weightsManifest"] = weights_manifest
    return model


def write_graph_model(
    graph: Graph,
    directory: Path,
    *,
    shard_size_bytes: int,
    quantization: Any = None,
    metadata: Mapping[str, Any] | None = None,
    use_structured_outputs_names: bool = False,
    report: Report | None = None,
) -> dict[str, Any]:
    """Write ``model.json`` and the weight shards of ``graph`` into ``directory``.

    Args:
        graph: A frozen graph (``Const`` values hold every weight).
        directory: Output folder.
        shard_size_bytes: Maximum bytes per shard.
        quantization: A :class:`tfjs_lite.options.Quantization` or None.
        metadata: ``userDefinedMetadata`` entries.
        use_structured_outputs_names: Add ``structuredOutputKeys``.
        report: Receives warnings.

    Returns:
        The model.json dict written.

    Raises:
        UnsupportedModelError: Weights TF.js cannot store (e.g. int64 beyond int32).
    """
    from tfjs_lite.writers.model_json import write_model_json
    from tfjs_lite.writers.weights import WeightEntry, write_weights

    report = report or Report()
    entries = _weights(graph)
    init = graph.initializer
    if init is not None:
        entries.extend(WeightEntry(n, init.value(n)) for n in init.topo_order() if init.op(n) == "Const")
    _check_weight_dtypes(entries)
    manifest = write_weights([entries], Path(directory), shard_size_bytes=shard_size_bytes,
                             quantization=quantization, report=report)
    model = build_model_json(graph, manifest, metadata=metadata,
                             use_structured_outputs_names=use_structured_outputs_names)
    write_model_json(Path(directory), model)
    return model
