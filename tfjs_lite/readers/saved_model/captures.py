"""A TF2 signature's captured inputs, resolved through the SavedObjectGraph's ``bound_inputs``:
variables (values from the checkpoint, matched by object path), constants, resources, assets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.ir.graph import Graph

# Checkpoint variables this large stay in the file until the weight writer streams them
# (tfjs_lite.lazy_tensor); smaller ones are read now, once, into read-only arrays.
LAZY_MIN_BYTES = 64 * 1024 * 1024


@dataclass
class _Capture:
    kind: str  # "variable" | "constant" | "resource" | "asset"
    value: np.ndarray | None = None
    node_id: int = -1


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
