"""SavedModel (and frozen GraphDef) -> one inlined, frozen, pruned :class:`~tfjs_lite.ir.Graph`.

TF2 SavedModels (docs/formats.md §5, §6): a signature's outputs are ports of one top-level
``StatefulPartitionedCall`` whose ``f`` is the *signature wrapper* function. Like the official
converter (which freezes ``model.signatures[name]``, the wrapper's concrete function), the result
is the wrapper's body at top level:

* user input args become ``Placeholder`` nodes named after the arg (``img``, as ``img:0`` in the
  official ``signature``), keyed by the SignatureDef input they are fed from;
* captured args are resolved through ``SavedObjectGraph.concrete_functions[wrapper].bound_inputs``
  (never by name): variables -> ``Const`` holding the checkpoint value (key from the checkpoint's
  TrackableObjectGraph, matched by object path), captured constants -> ``Const`` with the value of
  the top-level node named by ``SavedConstant.operation``, TrackableResources (hash tables) -> a
  ``DT_RESOURCE`` Placeholder filled by the initializer graph (``Graph.initializer``);
* every ``(Stateful)PartitionedCall`` is inlined recursively, body nodes named ``<call>/<inner>``
  as TF's ``InlineFunctionBody`` does (``StatefulPartitionedCall/model/dense/MatMul``);
* frozen variables: ``ReadVariableOp`` -> ``Identity``, ``ResourceGather`` -> ``GatherV2``,
  ``ResourceGatherNd`` -> ``GatherNd``; a variable flowing into ``While``/``If``/``Case`` gets the
  callee specialised (``<fn>_frozen``) with the resource arg retyped to the value;
* the graph is pruned to the ancestors of the signature outputs, which are keyed by SignatureDef
  output key in sorted order.

TF1 SavedModels keep their top-level graph; variables (``VarHandleOp``/``VariableV2``) are frozen by
name, which is how TF1 checkpoints are keyed.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.ir.attrs import DType, FuncRef, dtype_of, shape_from_proto
from tfjs_lite.ir.graph import Graph, TensorRef, TensorType
from tfjs_lite.ir.liveness import remove_dead
from tfjs_lite.limits import INLINE_GROWTH, MAX_INLINED_NODES, PROTOBUF_LIMIT
from tfjs_lite.readers.graph_def import check_proto_size, read_graph_def
from tfjs_lite.safe_io import read_bytes, read_text

__all__ = [
    "CALL_OPS",
    "inline_calls",
    "load_frozen_graph",
    "load_saved_model",
    "prune",
    "read_saved_model_proto",
]

logger = logging.getLogger(__name__)

CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
INIT_SIGNATURE_KEY = "__saved_model_init_op"
_PASS_THROUGH = frozenset({"Identity", "Enter", "RefEnter", "Exit", "RefExit", "Switch", "RefSwitch",
                           "Merge", "RefMerge", "NextIteration", "RefNextIteration", "Snapshot"})
_WHILE_OPS = frozenset({"While", "StatelessWhile"})
_IF_OPS = frozenset({"If", "StatelessIf"})
_CASE_OPS = frozenset({"Case", "StatelessCase"})
# Checkpoint variables this large stay in the file until the weight writer streams them
# (tfjs_lite.lazy_tensor); smaller ones are read now, once, into read-only arrays.
LAZY_MIN_BYTES = 64 * 1024 * 1024


# ------------------------------------------------------------------------------- proto loading


def read_saved_model_proto(path: Path) -> Any:
    """Parse ``saved_model.pb`` (or ``.pbtxt``) of a SavedModel folder."""
    from tfjs_lite._proto.saved_model_pb2 import SavedModel

    folder = Path(path)
    if os.path.lexists(folder / "saved_model.pb"):
        check_proto_size(folder / "saved_model.pb",
                         "variables belong in the variables/ checkpoint, not in the graph as constants")
        data = read_bytes(folder / "saved_model.pb", root=folder, limit=PROTOBUF_LIMIT - 1, what="saved_model.pb")
        proto = SavedModel()
        try:
            proto.ParseFromString(data)
        except Exception as e:  # protobuf raises DecodeError, a bare Exception subclass
            raise ModelFormatError(f"{folder / 'saved_model.pb'}: not a SavedModel protobuf ({e})") from e
        check_object_graphs(proto, folder / "saved_model.pb")
        return proto
    if os.path.lexists(folder / "saved_model.pbtxt"):
        from google.protobuf import text_format

        text = read_text(folder / "saved_model.pbtxt", root=folder, limit=PROTOBUF_LIMIT - 1,
                         what="saved_model.pbtxt")
        proto = SavedModel()
        try:
            text_format.Parse(text, proto)
        except (text_format.ParseError, ValueError, RecursionError) as e:
            # ParseError for bad syntax; ValueError/RecursionError for bad escapes or deep nesting.
            raise ModelFormatError(f"not a text-format SavedModel protobuf ({e})",
                                   path=folder / "saved_model.pbtxt") from None
        check_object_graphs(proto, folder / "saved_model.pbtxt")
        return proto
    if (folder / "saved_model.cpb").is_file():
        raise UnsupportedModelError(
            f"{folder}: chunked SavedModel (saved_model.cpb, for >2 GiB graphs) is not supported")
    raise ModelFormatError(f"{folder}: no saved_model.pb found; not a SavedModel folder")


def check_object_graphs(saved_model: Any, path: Path) -> None:
    """Every object-graph reference (child, dependency, slot, bound input, asset, function name)
    must point at something that exists; readers then index without checking again."""
    for mg in saved_model.meta_graphs:
        graph = mg.object_graph_def
        count = len(graph.nodes)
        functions = graph.concrete_functions

        def node_ref(node_id: int, what: str, count: int = count) -> None:
            if not 0 <= node_id < count:
                raise ModelFormatError(f"object graph: {what} refers to node {node_id}, but there are "
                                       f"only {count} nodes", path=path)

        for index, obj in enumerate(graph.nodes):
            for ref in list(obj.children) + list(obj.dependencies):
                node_ref(ref.node_id, f"node {index} child {ref.local_name!r}")
            for slot in obj.slot_variables:
                node_ref(slot.original_variable_node_id, f"node {index} slot variable")
                node_ref(slot.slot_variable_node_id, f"node {index} slot variable")
            kind = obj.WhichOneof("kind")
            names = list(obj.function.concrete_functions) if kind == "function" else (
                [obj.bare_concrete_function.concrete_function_name] if kind == "bare_concrete_function" else [])
            for name in names:
                if name not in functions:
                    raise ModelFormatError(f"object graph: node {index} names concrete function {name!r}, "
                                           "which is not in the object graph", path=path)
            if kind == "asset" and not 0 <= obj.asset.asset_file_def_index < len(mg.asset_file_def):
                raise ModelFormatError(f"object graph: node {index} names asset "
                                       f"{obj.asset.asset_file_def_index}, which does not exist", path=path)
        for name, concrete in functions.items():
            for node_id in concrete.bound_inputs:
                node_ref(node_id, f"concrete function {name!r} bound input")


def _select_meta_graph(saved_model: Any, tags: str, path: Path) -> Any:
    wanted = {t.strip() for t in tags.split(",") if t.strip()}
    available = [sorted(mg.meta_info_def.tags) for mg in saved_model.meta_graphs]
    for mg in saved_model.meta_graphs:
        if set(mg.meta_info_def.tags) == wanted:
            return mg
    if not wanted and len(saved_model.meta_graphs) == 1:
        return saved_model.meta_graphs[0]
    raise ModelFormatError(
        f"{path}: no MetaGraph with tags {sorted(wanted)}; available tag sets: {available}")


def _select_signature(mg: Any, name: str | None, default: str, path: Path) -> tuple[str, Any]:
    names = sorted(k for k in mg.signature_def if k != INIT_SIGNATURE_KEY)
    if name is None:
        # TF-Hub folders use "default", Keras exports "serving_default"; a model with one signature
        # leaves no doubt which one is meant, so take it rather than fail.
        for candidate in (default, "serving_default", "default"):
            if candidate in mg.signature_def:
                name = candidate
                break
        else:
            name = names[0] if len(names) == 1 else default
    if name not in mg.signature_def or name == INIT_SIGNATURE_KEY:
        raise ModelFormatError(
            f'{path}: Signature "{name}" does not exist in the saved model; available signatures: '
            f"{', '.join(names) if names else '(none)'}")
    return name, mg.signature_def[name]


def _tensor_ref(name: str) -> TensorRef:
    node, _, port = name.partition(":")
    if not node or (port and not port.isdigit()):  # isdigit also refuses "-1"
        raise ModelFormatError(f"malformed tensor name {name!r} (expected node or node:port)")
    return TensorRef(node, int(port) if port else 0)


# ------------------------------------------------------------------------------- public entry


@dataclass
class _Capture:
    kind: str  # "variable" | "constant" | "resource" | "asset"
    value: np.ndarray | None = None
    node_id: int = -1


def load_saved_model(
    path: Path,
    *,
    tags: str = "serve",
    signature_name: str | None = None,
    default_signature: str = "serving_default",
) -> Graph:
    """Load one signature of a SavedModel as a frozen, inlined, pruned graph.

    Args:
        path: The SavedModel folder.
        tags: Comma-separated MetaGraph tags (``--saved_model_tags``); ``""`` = the only MetaGraph.
        signature_name: SignatureDef key; default ``default_signature``.
        default_signature: The key used when ``signature_name`` is None.

    Returns:
        The graph. ``inputs``/``outputs`` are keyed by signature keys (outputs sorted by key).
        ``meta`` holds ``tensorflow_version``, ``versions``, ``signature`` (per key: ``dtype``,
        ``shape``; resource inputs also ``resource_id``), ``initializer`` (a Graph or None),
        ``initializer_outputs`` (tensor name -> resource id) and ``structured_outputs``.

    Raises:
        ModelFormatError: Missing files, unknown tags or signature, dangling references.
        UnsupportedModelError: Things a TF.js graph model cannot hold.
    """
    path = Path(path)
    saved_model = read_saved_model_proto(path)
    mg = _select_meta_graph(saved_model, tags, path)
    sig_key, sig = _select_signature(mg, signature_name, default_signature, path)
    for kind, infos in (("input", sig.inputs), ("output", sig.outputs)):
        for key, info in sorted(infos.items()):
            try:
                _dtype(info.dtype)
            except ModelFormatError as e:
                raise ModelFormatError(f"{path}: signature {kind} {key!r}: {e}") from None
    op_defs = list(mg.meta_info_def.stripped_op_list.op)
    top = read_graph_def(mg.graph_def, op_defs=op_defs, functions=[])
    out_refs = {key: _tensor_ref(info.name) for key, info in sig.outputs.items()}
    for key, ref in out_refs.items():
        if ref.node not in top:
            raise ModelFormatError(f"{path}: signature output {key!r} names missing node {ref.node!r}")
    call_nodes = {ref.node for ref in out_refs.values()}
    wrapper = None
    if len(call_nodes) == 1:
        call = next(iter(call_nodes))
        func = top.attrs(call).get("f")
        if top.op(call) in CALL_OPS and isinstance(func, FuncRef) and \
                func.name in mg.object_graph_def.concrete_functions:
            wrapper = (call, func.name)
    if wrapper is not None:
        graph = _load_tf2(path, mg, sig, top, op_defs, *wrapper)
    else:
        graph = _load_tf1(path, mg, sig, top, op_defs)
    # Like a freshly frozen graph (what the official converter writes): producer only.
    graph.meta["versions"] = {"producer": mg.graph_def.versions.producer, "min_consumer": 0}
    graph.meta["tensorflow_version"] = mg.meta_info_def.tensorflow_version
    graph.meta["signature_key"] = sig_key
    return graph


def load_frozen_graph(path: Path, output_node_names: str) -> Graph:
    """A frozen ``GraphDef`` (``.pb``) pruned to ``output_node_names`` (comma-separated).

    Outputs are keyed by the names as given (``"Identity"``, ``"out:1"``); inputs are every
    Placeholder left after pruning.
    """
    from tfjs_lite._proto.graph_pb2 import GraphDef

    path = Path(path)
    check_proto_size(path, "TF cannot write a GraphDef this large; convert the SavedModel it came from")
    data = read_bytes(path, limit=PROTOBUF_LIMIT - 1, what="frozen graph")
    graph_def = GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception as e:  # protobuf DecodeError
        raise ModelFormatError(f"{path}: not a binary GraphDef ({e})") from e
    graph = read_graph_def(graph_def)
    names = [n.strip() for n in output_node_names.split(",") if n.strip()]
    if not names:
        raise ModelFormatError("--output_node_names is empty")
    for name in names:
        ref = _tensor_ref(name)
        if ref.node not in graph:
            raise ModelFormatError(f"{path}: output node {ref.node!r} does not exist in the graph")
        _check_port(graph, ref, f"{path}: output {name!r}")
        graph.outputs[name] = ref
    inline_calls(graph)
    prune(graph)
    _freeze_tf1_variables(graph, None)
    for name in graph.nodes_by_op("Placeholder"):
        graph.inputs[name] = TensorRef(name, 0)
    graph.meta["signature"] = {"inputs": {}, "outputs": {k: {} for k in graph.outputs}}
    graph.meta["frozen_graph"] = True
    return graph


# ------------------------------------------------------------------------------- TF2


def _load_tf2(path: Path, mg: Any, sig: Any, top: Graph, op_defs: list[Any], call: str, fname: str) -> Graph:
    lib = read_graph_def(mg.graph_def, op_defs=op_defs, functions=[fname], include_nodes=False,
                         registry=top.meta["op_registry"])
    library = lib.functions
    body = library[fname]
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


def _structured_output_keys(concrete: Any) -> list[str] | None:
    sig = concrete.output_signature
    if sig.WhichOneof("kind") == "dict_value":
        return sorted(sig.dict_value.fields)
    return None


def _resolve_captures(path: Path, mg: Any, top: Graph, bound_inputs: list[int]) -> list[_Capture]:
    objects = mg.object_graph_def.nodes
    bundle = None
    keys: dict[int, str] | None = None
    result = []
    for node_id in bound_inputs:
        if not 0 <= node_id < len(objects):
            raise ModelFormatError(f"{path}: bound input {node_id} is not an object-graph node")
        obj = objects[node_id]
        kind = obj.WhichOneof("kind")
        if kind == "variable":
            if bundle is None:
                bundle, keys = _open_checkpoint(path, mg)
                # Small variables (batch-norm vectors, biases) are checksummed in one batch.
                bundle.precheck([keys[n] for n in bound_inputs if n in keys])
            assert keys is not None
            key = keys.get(node_id)
            if key is None:
                raise ModelFormatError(f"{path}: variable {obj.variable.name!r} (object {node_id}) has "
                                       "no value in the checkpoint")
            value = bundle.read_lazy(key, min_bytes=LAZY_MIN_BYTES)
            result.append(_Capture("variable", value, node_id))
        elif kind == "constant":
            op = obj.constant.operation
            if op not in top or top.op(op) != "Const":
                raise ModelFormatError(f"{path}: captured constant {op!r} is not a top-level Const")
            result.append(_Capture("constant", top.value(op), node_id))
        elif kind == "resource":
            result.append(_Capture("resource", None, node_id))
        elif kind == "asset":
            index = obj.asset.asset_file_def_index
            filename = mg.asset_file_def[index].filename
            value = np.array(str(Path("assets") / filename).encode("utf-8"), dtype=object)
            result.append(_Capture("asset", value, node_id))
        else:
            raise UnsupportedModelError(f"{path}: the signature captures a {kind!r} object "
                                        f"(object graph node {node_id}), which cannot be frozen")
    return result


def _open_checkpoint(path: Path, mg: Any) -> tuple[Any, dict[int, str]]:
    """The variables bundle and SavedObjectGraph node id -> checkpoint key (matched by path)."""
    from tfjs_lite.readers.tensor_bundle import TensorBundle

    bundle = TensorBundle(path / "variables" / "variables", root=path)
    ckpt_graph = bundle.object_graph()
    if ckpt_graph is None:
        raise ModelFormatError(f"{path}: the variables checkpoint has no object graph (TF1 checkpoint "
                               "in a TF2 SavedModel?)")
    saved = mg.object_graph_def.nodes
    if not saved or not ckpt_graph.nodes:
        raise ModelFormatError(f"{path}: the SavedModel or checkpoint object graph has no root object")
    # Walk both graphs from the root along equal child names: TF matches them this way.
    mapping: dict[int, int] = {0: 0}
    queue = [0]
    while queue:
        sid = queue.pop(0)
        cid = mapping[sid]
        ckpt_children = {c.local_name: c.node_id for c in ckpt_graph.nodes[cid].children}
        for child in saved[sid].children:
            target = ckpt_children.get(child.local_name)
            if target is not None and child.node_id not in mapping:
                mapping[child.node_id] = target
                queue.append(child.node_id)
    keys = {}
    for sid, cid in mapping.items():
        for attr in ckpt_graph.nodes[cid].attributes:
            if attr.name == "VARIABLE_VALUE":
                keys[sid] = attr.checkpoint_key
    return bundle, keys


# ------------------------------------------------------------------------------- hash tables


def _build_initializer(path: Path, mg: Any, top: Graph, op_defs: list[Any],
                       resources: list[tuple[str, int]]) -> tuple[Graph | None, dict[str, int]]:
    """The graph that creates and fills every captured TrackableResource (hash tables)."""
    if not resources:
        return None, {}
    objects = mg.object_graph_def.nodes
    functions = mg.object_graph_def.concrete_functions
    init = Graph()
    outputs: dict[str, int] = {}
    for number, (_, node_id) in enumerate(resources):
        children = {c.local_name: c.node_id for c in objects[node_id].children}
        create_fn = _concrete_of(objects, children.get("_create_resource"))
        init_fn = _concrete_of(objects, children.get("_initialize"))
        if create_fn is None:
            raise UnsupportedModelError(f"{path}: resource object {node_id} has no _create_resource function")
        names = [create_fn] + ([init_fn] if init_fn else [])
        lib = read_graph_def(mg.graph_def, op_defs=op_defs, functions=names, include_nodes=False,
                             registry=top.meta["op_registry"])
        prefix = "" if number == 0 else f"resource_{number}/"
        handle = _splice(init, lib.functions[create_fn], prefix, [], lib.functions)[0]
        anchor = handle
        if init_fn:
            bound = list(functions[init_fn].bound_inputs)
            body = lib.functions[init_fn]
            n_user = len(body.signature.input_args) - len(bound)
            if n_user != 0:
                raise UnsupportedModelError(f"{path}: initializer {init_fn} takes non-captured inputs")
            args: list[TensorRef] = []
            captures = _resolve_captures(path, mg, top, [b for b in bound if b != node_id]) \
                if any(b != node_id for b in bound) else []
            it = iter(captures)
            for arg, b in zip(body.signature.input_args, bound):
                if b == node_id:
                    args.append(handle)
                    continue
                cap = next(it)
                if cap.kind == "resource" or cap.value is None:
                    raise UnsupportedModelError(f"{path}: initializer {init_fn} captures another resource")
                const = init.add_const(cap.value, name=init.unique_name(prefix + arg.name))
                args.append(const)
            init_prefix = prefix + "init/"
            _splice(init, body, init_prefix, args, lib.functions)
            anchor = handle
            import_ops = [n for n in init.nodes() if n.startswith(init_prefix) and init.op(n) in
                          ("LookupTableImportV2", "LookupTableImport", "InitializeTableV2", "InitializeTable")]
            out = init.add_op("Identity", [handle], {"T": DType("DT_RESOURCE")},
                              name=init.unique_name(prefix + "Identity"), control_inputs=import_ops,
                              out_types=[TensorType(DType("DT_RESOURCE"), ())])
            anchor = TensorRef(out, 0)
        init.outputs[str(anchor)] = anchor
        outputs[f"{anchor.node}:{anchor.port}"] = node_id
    prune(init)
    init.meta["versions"] = {"producer": mg.graph_def.versions.producer, "min_consumer": 0}
    return init, outputs


def _concrete_of(objects: Any, node_id: int | None) -> str | None:
    if node_id is None:
        return None
    obj = objects[node_id]
    if obj.WhichOneof("kind") == "function" and obj.function.concrete_functions:
        return str(obj.function.concrete_functions[0])
    if obj.WhichOneof("kind") == "bare_concrete_function":
        return str(obj.bare_concrete_function.concrete_function_name)
    return None


# ------------------------------------------------------------------------------- TF1


def _check_port(graph: Graph, ref: TensorRef, what: str) -> None:
    types = graph.out_types(ref.node)
    if types is not None and ref.port >= len(types):
        raise ModelFormatError(f"{what} reads output {ref.port} of {ref.node!r} ({graph.op(ref.node)}), "
                               f"which has {len(types)} outputs")


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
        _make_const(graph, name, bundle.read_lazy(key, min_bytes=LAZY_MIN_BYTES))
        if resource:
            frozen[TensorRef(name, 0)] = graph.attrs(name)["dtype"]
    _freeze(graph, frozen)


# ------------------------------------------------------------------------------- inlining


def inline_calls(graph: Graph) -> None:
    """Inline every ``(Stateful)PartitionedCall`` (and direct function-op call) recursively.

    Body nodes are named ``<call>/<inner>``; consumers of ``call:k`` read the body's k-th output;
    control dependencies on the call are dropped (inference has no side effects to order). Library
    functions still referenced afterwards (control-flow bodies) are inlined too.
    """
    library = graph.functions
    _check_inlined_size(graph, library)
    changed = True
    while changed:
        changed = False
        for name in graph.topo_order():
            if name not in graph:
                continue
            func = _called_function(graph, name, library)
            if func is not None:
                _inline_one(graph, name, library[func], library)
                changed = True
    for fname in list(_referenced_functions(graph, library)):
        body = library[fname]
        if any(_called_function(body, n, library) for n in body.nodes()):
            body.functions = library
            inline_calls(body)
            body.functions = {}
    _drop_unreferenced_functions(graph)


def _check_inlined_size(graph: Graph, library: dict[str, Graph]) -> None:
    """Refuse, before inlining anything, a call tree that would expand past the node budget.

    Functions that call the next one twice, 24 deep, are 2**24 nodes once inlined from a file of a
    few KB; the expanded size is counted on the call tree (the reader has refused recursion)."""
    calls: dict[str, list[str]] = {}  # function -> callees, one entry per call node
    plain: dict[str, int] = {}  # function -> nodes that are not calls
    for fname, body in library.items():
        callees = [_called_function(body, n, library) for n in body.nodes()]
        calls[fname] = [c for c in callees if c is not None]
        plain[fname] = len(callees) - len(calls[fname])
    expanded: dict[str, int] = {}
    for root in library:  # iterative post-order: call chains may be thousands deep
        stack = [root]
        while stack:
            fname = stack[-1]
            if fname in expanded:
                stack.pop()
                continue
            pending = [c for c in calls[fname] if c not in expanded and c != fname]
            if pending:
                stack.extend(dict.fromkeys(pending))
                if len(stack) > 10 * len(library) + 10:  # only a cycle grows the stack this far
                    raise ModelFormatError("the function library calls itself recursively")
                continue
            expanded[fname] = plain[fname] + sum(expanded.get(c, 1) for c in calls[fname])
            stack.pop()

    def size(body: Graph) -> int:
        callees = [_called_function(body, n, library) for n in body.nodes()]
        return sum(1 if c is None else expanded[c] for c in callees)

    stored = len(graph) + sum(len(body) for body in library.values())
    limit = max(MAX_INLINED_NODES, INLINE_GROWTH * stored)
    total = size(graph)
    largest = max(expanded.values(), default=0)
    if max(total, largest) > limit:
        raise UnsupportedModelError(
            f"inlining the graph's function calls would make {max(total, largest)} nodes from {stored} "
            f"stored ones (limit {limit}); functions calling each other repeatedly explode when inlined")


def _called_function(graph: Graph, name: str, library: dict[str, Graph]) -> str | None:
    op = graph.op(name)
    if op in CALL_OPS:
        func = graph.attrs(name).get("f")
        if isinstance(func, FuncRef) and func.name in library:
            return func.name
        raise ModelFormatError(f"node {name!r} calls unknown function {func!r}")
    return op if op in library else None


def _inline_one(graph: Graph, call: str, body: Graph, library: dict[str, Graph]) -> None:
    args = graph.inputs_of(call)
    outs = _splice(graph, body, call + "/", args, library)
    for port, ref in enumerate(outs):
        graph.replace_uses(TensorRef(call, port), ref)
    for consumer in graph.control_consumers(call):
        graph.remove_control_input(consumer, call)
    graph.remove(call)


def _splice(graph: Graph, body: Graph, prefix: str, args: list[TensorRef],
            library: dict[str, Graph]) -> list[TensorRef]:
    """Copy ``body`` into ``graph`` with names prefixed, ``_Arg`` i bound to ``args[i]``."""
    assert body.signature is not None
    arg_names = [a.name for a in body.signature.input_args]
    if len(args) != len(arg_names):
        raise ModelFormatError(f"function {body.signature.name!r} takes {len(arg_names)} inputs, "
                               f"called with {len(args)}")
    bound = dict(zip(arg_names, args))
    names: dict[str, str] = {}
    for node in body.nodes():
        if node in bound:
            continue
        new = prefix + node
        if new in graph:
            new = graph.unique_name(new)
        names[node] = new

    def mapped(ref: TensorRef) -> TensorRef:
        return bound[ref.node] if ref.node in bound else TensorRef(names[ref.node], ref.port)

    order = body.topo_order()
    for node in order:
        if node in bound:
            continue
        new = graph.add_op(body.op(node), [], dict(body.attrs(node)), name=names[node],
                           out_types=body.out_types(node), device=body.device(node))
        value = body.value(node)
        if value is not None:
            dtype = body.attrs(node).get("dtype")
            graph.set_value(new, value)
            if dtype is not None:
                graph.set_attr(new, "dtype", dtype)
    for node in order:
        if node in bound:
            continue
        graph.set_inputs(names[node], [mapped(r) for r in body.inputs_of(node)])
        for src in body.control_inputs_of(node):
            if src not in bound:
                graph.add_control_input(names[node], names[src])
    return [mapped(ref) for ref in body.outputs.values()]


def _referenced_functions(graph: Graph, library: dict[str, Graph]) -> list[str]:
    seen: list[str] = []
    stack = [f.name for n in graph.nodes() for f in graph.iter_attr_funcs(n)]
    while stack:
        name = stack.pop()
        if name in seen or name not in library:
            continue
        seen.append(name)
        body = library[name]
        stack.extend(f.name for n in body.nodes() for f in body.iter_attr_funcs(n))
    return sorted(seen)


def _drop_unreferenced_functions(graph: Graph) -> None:
    keep = set(_referenced_functions(graph, graph.functions))
    graph.functions = {k: v for k, v in graph.functions.items() if k in keep}


# ------------------------------------------------------------------------------- pruning


def prune(graph: Graph) -> int:
    """Remove every node the graph's interface does not need (:func:`tfjs_lite.ir.remove_dead`:
    signature outputs and inputs, a body's parameters and control outputs), then the library
    functions nothing calls any more.

    Returns:
        The number of nodes removed.
    """
    removed = remove_dead(graph)
    _drop_unreferenced_functions(graph)
    return removed


# ------------------------------------------------------------------------------- freezing


def _freeze(graph: Graph, frozen: dict[TensorRef, DType]) -> None:
    """Rewrite every consumer of a frozen variable (a Const standing in for a resource handle)."""
    pending = list(frozen.items())
    done: set[TensorRef] = set()
    while pending:
        ref, dtype = pending.pop()
        if ref in done:
            continue
        done.add(ref)
        for consumer, slot in graph.consumers(ref):
            pending.extend(_freeze_consumer(graph, consumer, slot, dtype, ref))


def _freeze_consumer(graph: Graph, node: str, slot: int, dtype: DType,
                     ref: TensorRef) -> list[tuple[TensorRef, DType]]:
    op = graph.op(node)
    attrs = graph.attrs(node)
    if op == "ReadVariableOp":
        graph.set_op(node, "Identity")
        keep = {k: v for k, v in attrs.items() if k.startswith("_")}
        attrs.clear()
        attrs.update(keep)
        attrs["T"] = dtype
        return []
    if op in ("ResourceGather", "ResourceGatherNd"):
        batch_dims = attrs.get("batch_dims", 0)
        if batch_dims:
            raise UnsupportedModelError(f"node {node!r}: ResourceGather with batch_dims={batch_dims}")
        tindices = attrs.get("Tindices", DType("DT_INT32"))
        keep = {k: v for k, v in attrs.items() if k.startswith("_")}
        attrs.clear()
        attrs.update(keep)
        attrs["Tparams"] = dtype
        attrs["Tindices"] = tindices
        if op == "ResourceGather":
            axis = graph.add_const(np.array(0, dtype=np.int32), name=graph.unique_name(node + "/axis"))
            graph.set_inputs(node, graph.inputs_of(node) + [axis])
            graph.set_op(node, "GatherV2")
            attrs["Taxis"] = DType("DT_INT32")
            attrs["batch_dims"] = 0
        else:
            graph.set_op(node, "GatherNd")
        return []
    if op in _PASS_THROUGH:
        attrs["T"] = dtype
        types = graph.out_types(node) or ()
        return [(TensorRef(node, p), dtype) for p in range(max(1, len(types)))
                if op not in ("Merge", "RefMerge") or p == 0]
    if op in _WHILE_OPS:
        return _freeze_while(graph, node, slot, dtype, ref)
    if op in _IF_OPS or op in _CASE_OPS:
        _freeze_branches(graph, node, slot, dtype, ref)
        return []
    if op == "_Retval":
        return []
    raise UnsupportedModelError(
        f"node {node!r} ({op}) uses a variable in a way that cannot be frozen into a constant "
        "(only reads are supported in a graph model)")


def _value_shape(graph: Graph, ref: TensorRef) -> tuple[int | None, ...] | None:
    value = graph.value(ref.node)
    if value is not None:
        return tuple(value.shape)
    types = graph.out_types(ref.node)
    return types[ref.port].shape if types and ref.port < len(types) else None


def _set_list_entry(attrs: dict[str, Any], key: str, index: int, value: Any) -> None:
    entry = attrs.get(key)
    if isinstance(entry, list) and index < len(entry):
        entry = list(entry)
        entry[index] = value
        attrs[key] = entry


def _freeze_while(graph: Graph, node: str, slot: int, dtype: DType,
                  ref: TensorRef) -> list[tuple[TensorRef, DType]]:
    attrs = graph.attrs(node)
    shape = _value_shape(graph, ref)
    _set_list_entry(attrs, "T", slot, dtype)
    _set_list_entry(attrs, "output_shapes", slot, shape)
    _set_list_entry(attrs, "_output_shapes", slot, shape)
    for key in ("cond", "body"):
        func = attrs.get(key)
        if isinstance(func, FuncRef):
            attrs[key] = FuncRef(_specialize(graph, func.name, {slot: (dtype, shape)},
                                             also_output=key == "body"), func.attrs)
    types = graph.out_types(node)
    if types and slot < len(types):
        new = list(types)
        new[slot] = TensorType(dtype, shape)
        graph.set_out_types(node, new)
    return [(TensorRef(node, slot), dtype)]


def _freeze_branches(graph: Graph, node: str, slot: int, dtype: DType, ref: TensorRef) -> None:
    attrs = graph.attrs(node)
    if slot == 0:
        raise UnsupportedModelError(f"node {node!r}: a variable used as a branch predicate")
    index = slot - 1
    shape = _value_shape(graph, ref)
    _set_list_entry(attrs, "Tin", index, dtype)
    for key in ("then_branch", "else_branch"):
        func = attrs.get(key)
        if isinstance(func, FuncRef):
            attrs[key] = FuncRef(_specialize(graph, func.name, {index: (dtype, shape)}), func.attrs)
    branches = attrs.get("branches")
    if isinstance(branches, list):
        attrs["branches"] = [FuncRef(_specialize(graph, f.name, {index: (dtype, shape)}), f.attrs)
                             for f in branches]


def _specialize(graph: Graph, fname: str, args: dict[int, tuple[DType, Any]], *,
                also_output: bool = False) -> str:
    """A copy of function ``fname`` whose resource args ``args`` are frozen values."""
    from tfjs_lite.ir.graph import ArgDef, FunctionSignature

    library = graph.functions
    source = library[fname]
    assert source.signature is not None
    body = source.copy()
    sig = source.signature
    new_name = fname + "_frozen"
    counter = 0
    while new_name in library:
        counter += 1
        new_name = f"{fname}_frozen_{counter}"
    inputs = list(sig.input_args)
    outputs = list(sig.output_args)
    frozen: dict[TensorRef, DType] = {}
    for index, (dtype, shape) in args.items():
        arg = inputs[index]
        inputs[index] = ArgDef(arg.name, dtype, {k: v for k, v in arg.extra.items() if k != "handle_data"})
        body.set_attr(arg.name, "T", dtype)
        body.set_out_types(arg.name, [TensorType(dtype, shape)])
        frozen[TensorRef(arg.name, 0)] = dtype
        if also_output and index < len(outputs):
            out = outputs[index]
            outputs[index] = ArgDef(out.name, dtype, {k: v for k, v in out.extra.items() if k != "handle_data"})
        arg_attrs = sig.arg_attrs
    arg_attrs = {i: dict(a) for i, a in sig.arg_attrs.items()}
    for index, (_, shape) in args.items():
        if index in arg_attrs and "_output_shapes" in arg_attrs[index]:
            arg_attrs[index]["_output_shapes"] = [shape]
    body.signature = FunctionSignature(new_name, inputs, outputs, dict(sig.attrs), arg_attrs,
                                       dict(sig.control_outputs))
    body.functions = library
    _freeze(body, frozen)
    body.functions = {}
    library[new_name] = body
    return new_name
