"""Reading ``saved_model.pb``/``.pbtxt``, checking its object graphs, choosing a MetaGraph and a
SignatureDef."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.limits import PROTOBUF_LIMIT
from tfjs_lite.readers.graph_def import check_proto_size
from tfjs_lite.safe_io import read_bytes, read_text

INIT_SIGNATURE_KEY = "__saved_model_init_op"


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
