"""``tfjs-lite inspect PATH``: what a model holds and what the converter would do with it. Read-only.

For graph inputs (SavedModel, TF-Hub folder, frozen ``.pb``, TF.js graph model) it shows the
signature inputs and outputs with dtype and shape, the op histogram, the weights (count and bytes
per dtype) and "what the optimizer would change": :func:`tfjs_lite.optimizer.optimize` runs on a
copy and the op-count differences are listed, followed by the ops TF.js 4.22 cannot run after
optimization (:mod:`tfjs_lite.op_support`). SavedModels are shown as the converter reads them:
function calls inlined, variables frozen to Consts, pruned to the signature's outputs.

For Keras ``.h5`` / ``.keras`` files and TF.js layers models it lists layers and weights instead,
and the layers tfjs-layers 4.22 would refuse.

``--json`` prints the same report as one JSON object. Nothing is ever written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["inspect_path", "main", "render_text"]

_GRAPH_FORMATS = ("tf_saved_model", "tf_hub", "tf_frozen_model", "tfjs_graph_model")
_KERAS_FORMATS = ("keras", "keras_keras", "tfjs_layers_model")
_NOT_SINKS = frozenset({"NoOp", "Const", "Placeholder", "PlaceholderV2", "Assert", "SaveV2", "RestoreV2",
                        "VarHandleOp", "VariableV2", "AssignVariableOp", "MergeV2Checkpoints"})


# ----------------------------------------------------------------------------------- helpers


def _dtype_name(dtype: Any) -> str:
    """``DT_FLOAT`` → ``float32``; TF names numpy cannot hold stay as ``bfloat16``, ``resource``..."""
    from tfjs_lite.ir.attrs import NUMPY_DTYPES

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


def _add_weight(by_dtype: dict[str, dict[str, int]], dtype: str, nbytes: int) -> None:
    entry = by_dtype.setdefault(dtype, {"count": 0, "bytes": 0})
    entry["count"] += 1
    entry["bytes"] += nbytes


def _weights_summary(by_dtype: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {
        "count": sum(v["count"] for v in by_dtype.values()),
        "bytes": sum(v["bytes"] for v in by_dtype.values()),
        "by_dtype": dict(sorted(by_dtype.items())),
    }


def _const_weights(graph: Any) -> dict[str, Any]:
    by_dtype: dict[str, dict[str, int]] = {}
    graphs = [graph] + [graph.functions[k] for k in sorted(graph.functions)]
    for g in graphs:
        for node in g.nodes():
            if g.op(node) == "Const" and g.value(node) is not None:
                value = g.value(node)
                _add_weight(by_dtype, _dtype_name(g.attrs(node).get("dtype")) if value.dtype.kind != "O"
                            else "string", _array_bytes(value))
    return _weights_summary(by_dtype)


# ----------------------------------------------------------------------------------- graph models


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


def _frozen_outputs(path: Path) -> list[str]:
    """Nodes of a frozen GraphDef that nothing consumes: the likely outputs."""
    from google.protobuf.message import DecodeError

    from tfjs_lite._proto.graph_pb2 import GraphDef
    from tfjs_lite.errors import ModelFormatError
    from tfjs_lite.readers.graph_def import check_proto_size

    check_proto_size(path, "not a GraphDef TF could have written")
    graph_def = GraphDef()
    try:
        graph_def.ParseFromString(path.read_bytes())
    except OSError as e:
        raise ModelFormatError(f"cannot read ({e.strerror})", path=path) from None
    except DecodeError as e:
        raise ModelFormatError(f"not a binary GraphDef ({e})", path=path) from None
    consumed = {i.lstrip("^").split(":")[0] for n in graph_def.node for i in n.input}
    return [n.name for n in graph_def.node if n.name not in consumed and n.op not in _NOT_SINKS]


def _inspect_graph(path: Path, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
    from tfjs_lite.op_support import find_unsupported

    notes: list[str] = []
    tfjs_signature = None
    weights: dict[str, Any]
    signature_key = None
    if fmt == "tfjs_graph_model":
        from tfjs_lite.readers.tfjs_graph import read_graph_model

        model = read_graph_model(path)
        graph = model.graph
        tfjs_signature = model.model_json.get("signature") or {}
        by_dtype: dict[str, dict[str, int]] = {}
        values = _named_const_values(graph)
        for spec in model.weight_specs:
            _add_weight(by_dtype, *_stored_weight(spec, values.get(spec.get("name"))))
        weights = _weights_summary(by_dtype)
        if model.quantization_dtypes:
            notes.append(f"weights are stored quantized ({', '.join(model.quantization_dtypes)})")
        notes.append(f"converted by {model.model_json.get('convertedBy', '?')}")
    else:
        from tfjs_lite.verify import load_source_graph

        output_node_names = options.get("output_node_names")
        if fmt == "tf_frozen_model" and not output_node_names:
            guessed = _frozen_outputs(path)
            output_node_names = ",".join(guessed)
            notes.append(
                f"no --output_node_names: outputs guessed as the nodes nothing consumes ({output_node_names or 'none'})"
            )
            if not guessed:
                from tfjs_lite.errors import UsageError

                raise UsageError(f"{path}: cannot guess the outputs of this frozen graph; give --output_node_names")
        graph, _ = load_source_graph(
            path,
            input_format=fmt,
            signature_name=options.get("signature_name"),
            saved_model_tags=options.get("saved_model_tags") or "serve",
            output_node_names=output_node_names,
        )
        signature_key = graph.meta.get("signature_key")
        weights = _const_weights(graph)
        if fmt != "tf_frozen_model":
            notes.append("shown as the converter reads it: calls inlined, variables frozen, pruned to the signature")
        version = graph.meta.get("tensorflow_version")
        if version:
            notes.append(f"saved by TensorFlow {version}")
    optimizer, optimized = _optimizer_section(graph)
    functions = {
        name: {"nodes": len(body), "ops": _graph_ops(body)} for name, body in sorted(graph.functions.items())
    }
    initializer = graph.meta.get("initializer")
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


# ----------------------------------------------------------------------------------- keras / layers


def _config_layers(model_config: Any) -> list[dict[str, Any]]:
    config = model_config.get("config") if isinstance(model_config, dict) else None
    layers = config.get("layers") if isinstance(config, dict) else config
    result = []
    for layer in layers or []:
        if not isinstance(layer, dict):
            continue
        cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
        entry: dict[str, Any] = {"name": str(layer.get("name") or cfg.get("name") or "?"),
                                 "class_name": str(layer.get("class_name"))}
        if entry["class_name"] in ("Sequential", "Functional", "Model"):
            entry["layers"] = _config_layers(layer)
        result.append(entry)
    return result


def _h5_datasets(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    import h5py

    found: list[tuple[str, Any]] = []
    for key in group:
        item = group[key]
        name = f"{prefix}{key}"
        if isinstance(item, h5py.Dataset):
            found.append((name, item))
        elif isinstance(item, h5py.Group):
            found.extend(_h5_datasets(item, name + "/"))
    return found


def _weight_row(name: str, shape: Sequence[int], dtype: str, nbytes: int) -> dict[str, Any]:
    return {"name": name, "shape": [int(d) for d in shape], "dtype": dtype, "bytes": int(nbytes)}


def _dataset_row(name: str, dataset: Any) -> dict[str, Any]:
    dtype = dataset.dtype
    label = "string" if dtype.kind in "OSU" else dtype.name
    return _weight_row(name, dataset.shape, label, int(dataset.size) * dtype.itemsize)


def _refusals(model_config: dict[str, Any] | None, keras3: bool) -> list[str] | None:
    if model_config is None:
        return None
    try:
        from tfjs_lite.keras.config import (
            fix_regularizers,
            keras3_to_tfjs,
            translate_class_names,
        )
        from tfjs_lite.keras.preflight import LayerIssue, check_model
    except ImportError:
        return None
    issues: list[LayerIssue] = []
    if keras3:
        config = fix_regularizers(keras3_to_tfjs(model_config, issues))
    else:
        config = fix_regularizers(translate_class_names(model_config))
    return [str(i) for i in issues + check_model(config, keras3=keras3)]


def _inspect_keras(path: Path, fmt: str) -> dict[str, Any]:
    import zipfile

    notes: list[str] = []
    model_config: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = []
    keras_version: str | None = None
    keras3 = False
    if fmt == "tfjs_layers_model":
        from tfjs_lite.readers.tfjs_layers import read_layers_model

        model = read_layers_model(path, require_topology=False)
        model_config = model.model_config
        keras_version = model.keras_version
        for w in model.weights:
            label = f"{w.quantization} (quantized {w.stored_dtype})" if w.quantization else w.stored_dtype
            rows.append(_weight_row(w.name, w.value.shape, label, _layers_weight_bytes(w)))
        notes.append(f"converted by {model.model_json.get('convertedBy', '?')}")
    elif zipfile.is_zipfile(path):
        from tfjs_lite.readers.keras_archive import open_keras_archive

        with open_keras_archive(path) as archive:
            model_config = archive.config
            keras_version = archive.keras_version
            keras3 = True
            if archive.weights is not None:
                rows = [_dataset_row(n, d) for n, d in _h5_datasets(archive.weights)]
            else:
                notes.append("the archive holds no weights")
    else:
        from tfjs_lite.keras.config import is_keras3
        from tfjs_lite.readers.keras_h5 import open_h5, read_keras_h5

        with open_h5(path, path) as handle:
            info = read_keras_h5(handle, path)
            model_config = info.model_config
            keras_version = info.keras_version
            keras3 = is_keras3(info.keras_version) if info.keras_version else False
            if info.kind == "model" and info.layers:
                rows = [_dataset_row(w.name, w.dataset) for _, ws in info.layers for w in ws]
            else:
                rows = [_dataset_row(n, d) for n, d in _h5_datasets(handle)]
            if info.kind != "model":
                notes.append(f"weights-only file ({info.kind}); no topology")
    by_dtype: dict[str, dict[str, int]] = {}
    for row in rows:
        _add_weight(by_dtype, row["dtype"], row["bytes"])
    refused = _refusals(model_config, keras3) if fmt != "tfjs_layers_model" else None
    return {
        "path": str(path),
        "format": fmt,
        "kind": "layers",
        "keras_version": keras_version,
        "model_class": model_config.get("class_name") if isinstance(model_config, dict) else None,
        "layers": _config_layers(model_config) if model_config else [],
        "weights": {**_weights_summary(by_dtype), "tensors": rows},
        "refused_layers": refused,
        "notes": notes,
    }


def _layers_weight_bytes(weight: Any) -> int:
    import numpy as np

    if weight.quantization:
        return int(weight.value.size) * np.dtype(weight.quantization).itemsize
    if weight.stored_dtype == "string":
        return sum(4 + len(x) for x in weight.value.reshape(-1))
    return int(weight.value.size) * np.dtype(weight.stored_dtype).itemsize


# ----------------------------------------------------------------------------------- entry points


def _detect(path: Path, given: str | None) -> tuple[Path, str]:
    from tfjs_lite.detect import detect_input_format
    from tfjs_lite.errors import ModelFormatError

    if given:
        return path, given
    if not path.exists():
        raise ModelFormatError("no such file or folder", path=path)
    model_json = path / "model.json" if path.is_dir() else path
    is_saved_model = path.is_dir() and any((path / n).is_file() for n in ("saved_model.pb", "saved_model.pbtxt"))
    if not is_saved_model and model_json.name.endswith(".json") and model_json.is_file():
        try:
            fmt = json.loads(model_json.read_text(encoding="utf-8")).get("format")
        except (OSError, ValueError, AttributeError) as e:
            raise ModelFormatError(f"not a readable TF.js model.json ({e})", path=model_json) from None
        return model_json, "tfjs_graph_model" if fmt == "graph-model" else "tfjs_layers_model"
    return path, detect_input_format(path)


def inspect_path(path: Path, **options: Any) -> dict[str, Any]:
    """The inspection report of the model at ``path`` as a JSON-ready dict.

    Args:
        path: Any input the converter reads, or a TF.js graph/layers model.
        options: ``input_format``, ``signature_name``, ``saved_model_tags``, ``output_node_names``.

    Raises:
        ConversionError: Unreadable or unknown models.
    """
    path, fmt = _detect(Path(path), options.get("input_format"))
    if fmt in _GRAPH_FORMATS:
        return _inspect_graph(path, fmt, options)
    if fmt in _KERAS_FORMATS:
        return _inspect_keras(path, fmt)
    from tfjs_lite.errors import UsageError

    raise UsageError(f"inspect does not read {fmt} inputs")


def _fmt_shape(shape: list[int | None] | None) -> str:
    if shape is None:
        return "<unknown rank>"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _fmt_weights(weights: dict[str, Any], indent: str = "  ") -> list[str]:
    lines = [f"weights: {weights['count']} tensors, {weights['bytes']:,} bytes"]
    for dtype, entry in weights["by_dtype"].items():
        lines.append(f"{indent}{dtype}: {entry['count']} tensors, {entry['bytes']:,} bytes")
    return lines


def _fmt_table(rows: list[tuple[str, str]], indent: str = "  ") -> list[str]:
    width = max((len(a) for a, _ in rows), default=0)
    return [f"{indent}{a.ljust(width)}  {b}" for a, b in rows]


def render_text(report: dict[str, Any]) -> str:
    """The human-readable form of :func:`inspect_path`'s report."""
    lines = [f"model: {report['path']} ({report['format']}"
             + (f", signature {report['signature']}" if report.get("signature") else "") + ")"]
    lines.extend(f"note: {n}" for n in report.get("notes", []))
    if report["kind"] == "graph":
        for which in ("inputs", "outputs"):
            lines.append(f"{which}:")
            rows = [(t["name"], f"{t['dtype']} {_fmt_shape(t['shape'])}  ({t['tensor']})") for t in report[which]]
            lines.extend(_fmt_table(rows) if rows else ["  (none)"])
        lines.append(f"ops: {report['nodes']} nodes, {len(report['ops'])} op types")
        lines.extend(_fmt_table([(op, str(n)) for op, n in report["ops"].items()]))
        if report["functions"]:
            lines.append(f"functions: {len(report['functions'])}")
            lines.extend(_fmt_table([(name, f"{f['nodes']} nodes") for name, f in report["functions"].items()]))
        lines.extend(_fmt_weights(report["weights"]))
        opt = report["optimizer"]
        if not opt["available"] or opt.get("error"):
            lines.append(f"optimizer: not run ({opt.get('error')})" if not opt["available"]
                         else f"optimizer: FAILED (a tfjs-lite bug): {opt['error']}")
        elif not opt["changes"]:
            lines.append(f"optimizer would change nothing ({opt['nodes_before']} nodes)")
        else:
            lines.append(f"optimizer would change: {opt['nodes_before']} -> {opt['nodes_after']} nodes")
            rows = [(op, f"{c['before']} -> {c['after']} ({c['after'] - c['before']:+d})")
                    for op, c in opt["changes"].items()]
            lines.extend(_fmt_table(rows))
            after = opt["weights_after"]
            lines.append(f"  weights after: {after['count']} tensors, {after['bytes']:,} bytes (before any quantization)")
        unsupported = report["unsupported_ops"]
        when = "after optimization" if report["unsupported_checked_after_optimization"] else "as read"
        if unsupported:
            lines.append(f"ops TF.js 4.22 does not support ({when}):")
            rows = [(op, ", ".join(nodes[:3]) + (f" and {len(nodes) - 3} more" if len(nodes) > 3 else ""))
                    for op, nodes in unsupported.items()]
            lines.extend(_fmt_table(rows))
        else:
            lines.append(f"all ops are supported by TF.js 4.22 ({when})")
    else:
        if report.get("keras_version"):
            lines.append(f"keras version: {report['keras_version']}")
        if report.get("model_class"):
            lines.append(f"model class: {report['model_class']}")
        lines.append(f"layers: {_count_layers(report['layers'])}")
        lines.extend(_layer_lines(report["layers"], "  "))
        weights = report["weights"]
        lines.extend(_fmt_weights(weights))
        lines.extend(_fmt_table([(w["name"], f"{w['dtype']} {_fmt_shape(w['shape'])}") for w in weights["tensors"]],
                                "    "))
        refused = report.get("refused_layers")
        if refused:
            lines.append("layers tfjs-layers 4.22 would refuse:")
            lines.extend(f"  {r}" for r in refused)
        elif refused is not None:
            lines.append("all layers load in tfjs-layers 4.22")
    return "\n".join(lines)


def _count_layers(layers: list[dict[str, Any]]) -> int:
    return sum(1 + _count_layers(layer.get("layers", [])) for layer in layers)


def _layer_lines(layers: list[dict[str, Any]], indent: str) -> list[str]:
    rows = []
    width = max((len(layer["name"]) for layer in layers), default=0)
    for layer in layers:
        rows.append(f"{indent}{layer['name'].ljust(width)}  {layer['class_name']}")
        if layer.get("layers"):
            rows.extend(_layer_lines(layer["layers"], indent + "  "))
    return rows


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"tfjs-lite: error: {message} (see tfjs-lite inspect --help)\n")
        raise SystemExit(2)


def main(argv: Sequence[str]) -> int:
    """``tfjs-lite inspect PATH [--json]``; returns the exit status."""
    p = _Parser(prog="tfjs-lite inspect",
                description="Show a model's inputs, outputs, ops, weights and what the converter would change.")
    p.add_argument("path", help="SavedModel/TF-Hub folder, frozen .pb, .h5/.keras file, or TF.js model")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--input_format", choices=_GRAPH_FORMATS + _KERAS_FORMATS, help="detected when omitted")
    p.add_argument("--signature_name", help="SavedModel signature (default serving_default; tf_hub: default)")
    p.add_argument("--saved_model_tags", default="serve", help="comma-separated MetaGraph tags (default serve)")
    p.add_argument("--output_node_names", help="outputs of a frozen .pb (default: nodes nothing consumes)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    args = p.parse_args(list(argv))
    report = inspect_path(
        Path(args.path),
        input_format=args.input_format,
        signature_name=args.signature_name,
        saved_model_tags=args.saved_model_tags,
        output_node_names=args.output_node_names,
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_text(report))
    return 0
