"""Read a TF.js graph model (``model.json`` + weight shards) back into a :class:`tfjs_lite.ir.Graph`.

This is the reading half of ``tfjs-lite verify`` and ``tfjs-lite inspect`` on converted models
(docs/formats.md §1 and §3):

* ``modelTopology`` is the protobuf JSON of a ``GraphDef``; it is parsed back into the GraphDef
  proto with ``json_format.ParseDict`` and handed to :mod:`tfjs_lite.readers.graph_def`.
* Every ``Const`` had its tensor cleared by the converter (only dtype and shape remain); its value
  is the manifest weight of the same name, dequantized when it was stored quantized. Consts inside
  a library function are weights named ``<function name>/<const name>`` (the converter renames the
  node itself, so the node name usually already carries the prefix; both spellings are accepted).
* ``signature.inputs`` / ``signature.outputs`` become ``graph.inputs`` / ``graph.outputs`` keyed
  by the signature keys. Frozen-model conversions have no signature inputs: every ``Placeholder``
  is then an input, keyed by its node name.
* ``modelInitializer`` (hash-table initializers) is read into its own graph, kept in
  ``graph.initializer``; its Consts take their values from the same manifest.

Every mismatch between topology and manifest (a Const without a weight, a weight no Const uses,
a shape that differs, a signature tensor that names no node) is a :class:`ModelFormatError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.ir.attrs import NUMPY_DTYPES, DType
from tfjs_lite.ir.graph import Graph, TensorRef
from tfjs_lite.ir.names import parse_input
from tfjs_lite.readers.tfjs_weights import (
    find_model_json,
    read_model_json,
    read_weights,
)

__all__ = ["GraphModel", "find_model_json", "read_graph_model", "weight_quantization"]

# Ops whose outputs are fed, when the signature lists no inputs (frozen-model conversions).
_FED_OPS = ("Placeholder", "PlaceholderV2")


@dataclass
class GraphModel:
    """A parsed TF.js graph model.

    Attributes:
        path: The ``model.json`` file.
        model_json: The parsed JSON, as written.
        graph: The inference graph with every Const filled in.
        weight_specs: The manifest entries in order (``name``, ``shape``, ``dtype``,
            optional ``quantization``), one per weight.
        initializer: The ``modelInitializer`` graph, or None.
    """

    path: Path
    model_json: dict[str, Any]
    graph: Graph
    weight_specs: list[dict[str, Any]] = field(default_factory=list)
    initializer: Graph | None = None

    @property
    def quantization_dtypes(self) -> list[str]:
        """The quantized storage dtypes used by any weight (``float16``, ``uint8``, ``uint16``)."""
        return weight_quantization(self.weight_specs)


def weight_quantization(specs: list[dict[str, Any]]) -> list[str]:
    """Sorted set of ``quantization.dtype`` values among manifest ``specs``."""
    found = set()
    for spec in specs:
        q = spec.get("quantization") if isinstance(spec, dict) else None
        if isinstance(q, dict) and isinstance(q.get("dtype"), str):
            found.add(q["dtype"])
    return sorted(found)


def read_graph_model(path: Path, *, load_weights: bool = True) -> GraphModel:
    """Read a TF.js graph model from its folder or its ``model.json``.

    Args:
        path: The model folder, or the ``model.json`` file.
        load_weights: False skips reading the shards: Consts then hold zeros of their declared
            shape (enough for ``inspect``, which never runs the graph).

    Returns:
        The parsed model.

    Raises:
        ModelFormatError: Not a graph model, a topology protobuf JSON cannot parse, or topology
            and manifest disagree.
    """
    model_path = find_model_json(Path(path))
    model_json = read_model_json(model_path)
    fmt = model_json.get("format")
    if fmt != "graph-model":
        if fmt in (None, "layers-model"):
            raise ModelFormatError("this is a TF.js layers model, not a graph model", path=model_path)
        raise ModelFormatError(f'"format" is {fmt!r}, not "graph-model"', path=model_path)
    topology = model_json["modelTopology"]
    graph = _graph_from_json(topology, model_path, "modelTopology")
    initializer = None
    if model_json.get("modelInitializer"):
        initializer = _graph_from_json(model_json["modelInitializer"], model_path, "modelInitializer")
        graph.initializer = initializer

    manifest = model_json["weightsManifest"]
    specs = [spec for group in manifest if isinstance(group, dict) for spec in group.get("weights", [])]
    if load_weights:
        weights = read_weights(manifest, model_path.parent)
        _fill_consts(graph, initializer, weights, model_path)
    _apply_signature(graph, model_json.get("signature"), model_path)
    graph.meta["format"] = "tfjs_graph_model"
    for key in ("generatedBy", "convertedBy", "userDefinedMetadata"):
        if key in model_json:
            graph.meta[key] = model_json[key]
    return GraphModel(model_path, model_json, graph, specs, initializer)


# ----------------------------------------------------------------------------------- topology


def _graph_from_json(topology: Any, model_path: Path, where: str) -> Graph:
    from google.protobuf import json_format

    from tfjs_lite._proto.graph_pb2 import GraphDef
    from tfjs_lite.readers.graph_def import read_graph_def

    if not isinstance(topology, dict):
        raise ModelFormatError(f'"{where}" is not a JSON object', path=model_path)
    graph_def = GraphDef()
    try:
        json_format.ParseDict(topology, graph_def)
    except json_format.ParseError as e:
        detail = " ".join(str(e).split())
        raise ModelFormatError(f'"{where}" is not a GraphDef in protobuf JSON: {detail}', path=model_path) from None
    every_function = [f.signature.name for f in graph_def.library.function]
    try:
        return read_graph_def(graph_def, functions=every_function)
    except ModelFormatError as e:
        raise ModelFormatError(f"{where}: {e}", path=model_path) from None


# ----------------------------------------------------------------------------------- weights


def _const_slots(graph: Graph, initializer: Graph | None) -> list[tuple[Graph, str, tuple[str, ...]]]:
    """``(graph, node, candidate weight names)`` for every Const the manifest must fill."""
    slots: list[tuple[Graph, str, tuple[str, ...]]] = []
    for node in graph.nodes():
        if graph.op(node) == "Const":
            slots.append((graph, node, (node,)))
    for fname, body in graph.functions.items():
        for node in body.nodes():
            if body.op(node) != "Const":
                continue
            prefixed = f"{fname}/{node}"
            names = (node, prefixed) if node.startswith(fname + "/") else (prefixed, node)
            slots.append((body, node, names))
    if initializer is not None:
        for node in initializer.nodes():
            if initializer.op(node) == "Const":
                slots.append((initializer, node, (node,)))
    return slots


def _fill_consts(
    graph: Graph,
    initializer: Graph | None,
    weights: list[tuple[dict[str, Any], np.ndarray]],
    model_path: Path,
) -> None:
    by_name: dict[str, np.ndarray] = {}
    for spec, array in weights:
        name = spec["name"]
        if name in by_name:
            raise ModelFormatError(f"the weights manifest lists {name!r} twice", path=model_path)
        by_name[name] = array
    used = set()
    for owner, node, names in _const_slots(graph, initializer):
        name = next((n for n in names if n in by_name and n not in used), None)
        if name is None:
            raise ModelFormatError(
                f"Const node {node!r} has no weight in the manifest (looked for {', '.join(map(repr, names))})",
                path=model_path,
            )
        used.add(name)
        declared = owner.value(node)
        array = by_name[name]
        if declared is not None and tuple(declared.shape) != tuple(array.shape):
            raise ModelFormatError(
                f"weight {name!r} has shape {list(array.shape)} but Const node {node!r} "
                f"declares {list(declared.shape)}",
                path=model_path,
            )
        owner.set_value(node, _as_declared(array, owner.attrs(node).get("dtype"), name, model_path))
    unused = [n for n in by_name if n not in used]
    if unused:
        more = f" and {len(unused) - 3} more" if len(unused) > 3 else ""
        raise ModelFormatError(
            f"weights {', '.join(map(repr, unused[:3]))}{more} in the manifest match no Const node of the topology",
            path=model_path,
        )


def _as_declared(array: np.ndarray, dtype: Any, name: str, model_path: Path) -> np.ndarray:
    """Cast a manifest array back to the Const's declared dtype.

    The writer stores int64 as int32, float64/float16 as float32 (docs/formats.md §3.2); the
    graph's ops still say int64/float64, so the executor needs the declared type. bfloat16 has no
    numpy type and stays float32, as the GraphDef reader keeps it.
    """
    if not isinstance(dtype, str) or dtype not in NUMPY_DTYPES:
        return array
    target = NUMPY_DTYPES[dtype]
    if array.dtype == target:
        return array
    if target.kind == "O" or array.dtype.kind == "O":
        raise ModelFormatError(
            f"weight {name!r} is stored as {array.dtype} but its Const is {DType(dtype)}", path=model_path
        )
    return array.astype(target)


# ----------------------------------------------------------------------------------- signature


def _apply_signature(graph: Graph, signature: Any, model_path: Path) -> None:
    if signature is not None and not isinstance(signature, dict):
        raise ModelFormatError('"signature" is not a JSON object', path=model_path)
    signature = signature or {}
    inputs = _signature_map(graph, signature.get("inputs"), "inputs", model_path)
    outputs = _signature_map(graph, signature.get("outputs"), "outputs", model_path)
    if not inputs:
        inputs = {n: TensorRef(n, 0) for n in graph.nodes() if graph.op(n) in _FED_OPS}
    if not outputs:
        outputs = {
            n: TensorRef(n, 0)
            for n in graph.nodes()
            if not graph.node_consumers(n) and graph.op(n) not in ("Const", "NoOp") + _FED_OPS
        }
    graph.inputs = inputs
    graph.outputs = outputs


def _signature_map(graph: Graph, entries: Any, what: str, model_path: Path) -> dict[str, TensorRef]:
    if entries is None:
        return {}
    if not isinstance(entries, dict):
        raise ModelFormatError(f'"signature.{what}" is not a JSON object', path=model_path)
    result: dict[str, TensorRef] = {}
    for key, info in entries.items():
        name = info.get("name") if isinstance(info, dict) else None
        if not isinstance(name, str):
            raise ModelFormatError(f'signature {what[:-1]} {key!r} has no tensor "name"', path=model_path)
        if isinstance(info, dict) and info.get("dtype") == "DT_RESOURCE":
            continue  # wired to the initializer's table handles by TF.js, not fed by the user
        try:
            parsed = parse_input(name)
        except ValueError:
            raise ModelFormatError(f"signature {what[:-1]} {key!r}: malformed tensor name {name!r}",
                                   path=model_path) from None
        if parsed.control or parsed.out_arg is not None or parsed.node not in graph:
            raise ModelFormatError(
                f"signature {what[:-1]} {key!r} names tensor {name!r}, which is not in the graph",
                path=model_path,
            )
        result[key] = TensorRef(parsed.node, parsed.port)
    return result
