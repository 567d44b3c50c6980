"""Public entries: one signature of a SavedModel, or a frozen GraphDef, as a frozen, inlined,
pruned graph."""

from __future__ import annotations

from pathlib import Path

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.ir.attrs import FuncRef
from tfjs_lite.ir.graph import Graph, TensorRef
from tfjs_lite.limits import PROTOBUF_LIMIT
from tfjs_lite.readers.graph_def import check_proto_size, read_graph_def
from tfjs_lite.readers.saved_model.inline import CALL_OPS, inline_calls, prune
from tfjs_lite.readers.saved_model.nodes import _check_port, _dtype, _tensor_ref
from tfjs_lite.readers.saved_model.proto import _select_meta_graph, _select_signature, read_saved_model_proto
from tfjs_lite.readers.saved_model.tf1 import _freeze_tf1_variables, _load_tf1
from tfjs_lite.readers.saved_model.tf2 import _load_tf2
from tfjs_lite.safe_io import read_bytes


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
