"""The ``inspect`` report of a graph model (SavedModel, TF-Hub folder, frozen ``.pb``, TF.js graph model).

It shows the signature inputs and outputs with dtype and shape, the op histogram, the weights
(count and bytes per dtype) and "what the optimizer would change": :func:`tfjs_lite.optimizer.optimize`
runs on a copy and the op-count differences are listed, followed by the ops TF.js 4.22 cannot run
after optimization (:mod:`tfjs_lite.op_support`). Sources are shown as the converter reads them
(:mod:`tfjs_lite.tools.source`): function calls inlined, variables frozen to Consts, pruned to the
signature's outputs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tfjs_lite import formats
from tfjs_lite.tools.inspect_weights import add_weight, weights_summary
from tfjs_lite.tools.source import load_source_graph

__all__ = ["GRAPH_FORMATS", "inspect_graph"]

GRAPH_FORMATS = formats.graph_formats() + ("tfjs_graph_model",)


def inspect_graph(path: Path, fmt: str, options: dict[str, Any], notes: list[str] | None = None) -> dict[str, Any]:
    """The report of a graph model: a TF.js graph model, or a source read as the converter reads it.

    Args:
        path: The model (a ``model.json`` for ``tfjs_graph_model``).
        fmt: Its format, one of :data:`GRAPH_FORMATS`.
        options: ``signature_name``, ``saved_model_tags``, ``output_node_names``.
        notes: Notes to start the report's list with.
    """
    from tfjs_lite.op_support import find_unsupported

    notes = list(notes or [])
    tfjs_signature = None
    signature_key = None
    if fmt == "tfjs_graph_model":
        graph, tfjs_signature, weights = _read_converted(path, notes)
    else:
        graph, weights = _read_source(path, fmt, options, notes)
        signature_key = graph.meta.get("signature_key")
    optimizer, optimized = _optimizer_section(graph)
    functions = {
        name: {"nodes": len(body), "ops": _graph_ops(body)} for name, body in sorted(graph.functions.items())
    }
    initializer = graph.initializer
    if initializer is not None and hasattr(initializer, "nodes"):
        notes.append(f"has an initializer graph (hash tables) with {len(initializer)} nodes")
    return {
        "path": str(path),
        "format": fmt,
        "kind": "graph",
        "signature": signature_key,
        "inputs": [_tensor_entry(graph, k, r, "inputs", tfjs_signature) for k, r in graph.inputs.items()],
        "outputs": [_tensor_entry(graph, k, r, "outputs", tfjs_signature) for k, r in graph.outputs.items()],
        "nodes": len(graph),
        "ops": _graph_ops(graph),
        "functions": functions,
        "weights": weights,
        "optimizer": optimizer,
        "unsupported_ops": find_unsupported(optimized, strip_debug_ops=True),
        "unsupported_checked_after_optimization": optimized is not graph,
        "notes": notes,
    }


def _read_converted(path: Path, notes: list[str]) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(graph, model.json signature, weights as stored) of a TF.js graph model."""
    from tfjs_lite.readers.tfjs_graph import read_graph_model

    model = read_graph_model(path)
    by_dtype: dict[str, dict[str, int]] = {}
    values = _named_const_values(model.graph)
    for spec in model.weight_specs:
        add_weight(by_dtype, *_stored_weight(spec, values.get(str(spec.get("name")))))
    if model.quantization_dtypes:
        notes.append(f"weights are stored quantized ({', '.join(model.quantization_dtypes)})")
    notes.append(f"converted by {model.model_json.get('convertedBy', '?')}")
    return model.graph, model.model_json.get("signature") or {}, weights_summary(by_dtype)


def _read_source(path: Path, fmt: str, options: dict[str, Any], notes: list[str]) -> tuple[Any, dict[str, Any]]:
    """(graph, weights) of a SavedModel / TF-Hub folder / frozen ``.pb``, as the converter reads it."""
    graph, _ = load_source_graph(
        path,
        input_format=fmt,
        signature_name=options.get("signature_name"),
        saved_model_tags=options.get("saved_model_tags") or "serve",
        output_node_names=options.get("output_node_names"),
        keep_unsupported=True,
    )
    if fmt == "tflite":
        notes.append("shown as the converter reads it: TFLite operators lowered to TF ops, quantized tensors "
                     "as the float32 values they stand for")
        notes.extend(graph.meta.get("source_notes", []))
    elif fmt != "tf_frozen_model":
        notes.append("shown as the converter reads it: calls inlined, variables frozen, pruned to the signature")
    version = graph.meta.get("tensorflow_version")
    if version:
        notes.append(f"saved by TensorFlow {version}")
    return graph, _const_weights(graph)


# ----------------------------------------------------------------------------------- parts


def _dtype_name(dtype: Any) -> str:
    """``DT_FLOAT`` → ``float32``; TF names numpy cannot hold stay as ``bfloat16``, ``resource``..."""
    from tfjs_lite.dtypes import NUMPY_DTYPES

    if dtype is None:
        return "?"
    text = str(dtype)
    if text == "DT_STRING":
        return "string"
    if text in NUMPY_DTYPES:
        return NUMPY_DTYPES[text].name
    return text[3:].lower() if text.startswith("DT_") else text


def _shape_list(shape: Any) -> list[int | None] | None:
    if shape is None:
        return None
    return [None if d is None or int(d) < 0 else int(d) for d in shape]


def _histogram(ops: Iterable[str]) -> dict[str, int]:
    counts = Counter(ops)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _graph_ops(graph: Any) -> dict[str, int]:
    return _histogram(graph.op(n) for n in graph.nodes())


def _array_bytes(value: Any) -> int:
    if value.dtype.kind == "O":
        return sum(len(x) if isinstance(x, (bytes, str)) else 0 for x in value.reshape(-1))
    return int(value.nbytes)


def _const_weights(graph: Any) -> dict[str, Any]:
    by_dtype: dict[str, dict[str, int]] = {}
    graphs = [graph] + [graph.functions[k] for k in sorted(graph.functions)]
    for g in graphs:
        for node in g.nodes():
            if g.op(node) == "Const" and g.value(node) is not None:
                value = g.value(node)
                add_weight(by_dtype, _dtype_name(g.attrs(node).get("dtype")) if value.dtype.kind != "O"
                            else "string", _array_bytes(value))
    return weights_summary(by_dtype)


def _tensor_entry(graph: Any, key: str, ref: Any, which: str, tfjs_signature: dict[str, Any] | None) -> dict[str, Any]:
    dtype: Any = None
    shape: Any = None
    known = False
    sig = graph.meta.get("signature", {}).get(which, {}).get(key) if isinstance(graph.meta.get("signature"), dict) else None
    if isinstance(sig, dict) and "dtype" in sig:
        dtype, shape, known = sig.get("dtype"), sig.get("shape"), True
    elif tfjs_signature and isinstance(tfjs_signature.get(which, {}).get(key), dict):
        info = tfjs_signature[which][key]
        if "dtype" in info:
            dtype, known = info["dtype"], True
            ts = info.get("tensorShape")
            if isinstance(ts, dict) and not ts.get("unknownRank"):
                shape = [int(d.get("size", 0)) for d in ts.get("dim", [])]
    if not known or shape is None:
        types = graph.out_types(ref.node) if ref.node in graph else None
        if types and ref.port < len(types):
            dtype = dtype or types[ref.port].dtype
            shape = shape if shape is not None else types[ref.port].shape
        if shape is None and ref.node in graph:
            attrs = graph.attrs(ref.node)
            shape = attrs.get("shape")
            dtype = dtype or attrs.get("dtype")
    return {"name": key, "tensor": str(ref), "dtype": _dtype_name(dtype), "shape": _shape_list(shape)}


def _optimizer_section(graph: Any) -> tuple[dict[str, Any], Any]:
    """Run the optimizer on a copy; returns (section, optimized copy or the original)."""
    try:
        from tfjs_lite.optimizer import optimize
    except ImportError:
        return {"available": False, "error": "the optimizer is not installed"}, graph
    from tfjs_lite.errors import ConversionError, InternalError

    work = graph.copy()
    try:
        optimize(work)
    except (InternalError, ConversionError) as e:  # a pass failure (PassError) is a tfjs-lite bug: shown, not fatal
        detail = " ".join(str(e).split())
        return {"available": True, "error": f"{type(e).__name__}: {detail}"}, graph
    before, after = _graph_ops(graph), _graph_ops(work)
    changes = {}
    for op in sorted(set(before) | set(after)):
        b, a = before.get(op, 0), after.get(op, 0)
        if a != b:
            changes[op] = {"before": b, "after": a}
    section = {
        "available": True,
        "error": None,
        "nodes_before": len(graph),
        "nodes_after": len(work),
        "changes": changes,
        "weights_after": _const_weights(work),
    }
    return section, work


def _named_const_values(graph: Any) -> dict[str, Any]:
    values = {n: graph.value(n) for n in graph.nodes() if graph.op(n) == "Const"}
    for fname, body in graph.functions.items():
        for n in body.nodes():
            if body.op(n) == "Const":
                values[n if n.startswith(fname + "/") else f"{fname}/{n}"] = body.value(n)
    return values


def _stored_weight(spec: dict[str, Any], value: Any) -> tuple[str, int]:
    """(dtype label, bytes as stored in the shards) of one manifest entry."""
    import numpy as np

    count = 1
    for d in spec.get("shape", []):
        count *= int(d)
    quantization = spec.get("quantization")
    if isinstance(quantization, dict):
        stored = str(quantization.get("dtype"))
        return f"{stored} (quantized {spec.get('dtype')})", count * np.dtype(stored).itemsize
    dtype = str(spec.get("dtype"))
    if dtype == "string":
        if value is None:
            return "string", 4 * count
        return "string", sum(4 + (len(x) if isinstance(x, (bytes, str)) else 0) for x in np.asarray(value).reshape(-1))
    return dtype, count * np.dtype(dtype).itemsize
