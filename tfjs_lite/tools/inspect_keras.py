"""The ``inspect`` report of a Keras ``.h5`` / ``.keras`` file or a TF.js layers model.

It lists layers and weights, and the layers tfjs-layers 4.22 would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from tfjs_lite.keras.layers import MODEL_CLASSES, layer_config
from tfjs_lite.tools.inspect_weights import add_weight, weights_summary

__all__ = ["KERAS_FORMATS", "inspect_keras"]

KERAS_FORMATS = ("keras", "keras_keras", "tfjs_layers_model")


def _config_layers(model_config: Any) -> list[dict[str, Any]]:
    config = model_config.get("config") if isinstance(model_config, dict) else None
    layers = config.get("layers") if isinstance(config, dict) else config
    result = []
    for layer in layers or []:
        if not isinstance(layer, dict):
            continue
        cfg = layer_config(layer)
        entry: dict[str, Any] = {"name": str(layer.get("name") or cfg.get("name") or "?"),
                                 "class_name": str(layer.get("class_name"))}
        if entry["class_name"] in MODEL_CLASSES:
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


def inspect_keras(path: Path, fmt: str) -> dict[str, Any]:
    """The report of a Keras ``.h5`` / ``.keras`` file or (``fmt`` ``tfjs_layers_model``) a TF.js layers model."""
    import zipfile

    notes: list[str] = []
    if fmt == "tfjs_layers_model":
        model_config, keras_version, keras3, rows = _read_tfjs_layers(path, notes)
    elif zipfile.is_zipfile(path):
        model_config, keras_version, keras3, rows = _read_keras_archive(path, notes)
    else:
        model_config, keras_version, keras3, rows = _read_keras_h5(path, notes)
    by_dtype: dict[str, dict[str, int]] = {}
    for row in rows:
        add_weight(by_dtype, row["dtype"], row["bytes"])
    refused = _refusals(model_config, keras3) if fmt != "tfjs_layers_model" else None
    lowering, lowering_refused = _graph_lowering(path, fmt) if model_config else ([], None)
    return {
        "path": str(path),
        "format": fmt,
        "kind": "layers",
        "keras_version": keras_version,
        "model_class": model_config.get("class_name") if isinstance(model_config, dict) else None,
        "layers": _config_layers(model_config) if model_config else [],
        "weights": {**weights_summary(by_dtype), "tensors": rows},
        "refused_layers": refused,
        "graph_lowering": lowering,
        "graph_refused": lowering_refused,
        "notes": notes,
    }


def _graph_lowering(path: Path, fmt: str) -> tuple[list[dict[str, Any]], Optional[str]]:
    """What each layer becomes in a graph model (TF ops before optimization), or why it cannot."""
    from tfjs_lite.errors import ConversionError
    from tfjs_lite.options import ConvertOptions
    from tfjs_lite.pipelines.keras_to_graph import lower_input
    from tfjs_lite.report import Report

    try:
        graph = lower_input(fmt, path, ConvertOptions(), Report())
    except ConversionError as e:
        return [], str(e)
    rows = []
    for layer, nodes in graph.meta.get("keras_lowering", {}).items():
        if not layer:  # the output Identity nodes belong to no layer
            continue
        ops = [graph.op(n) for n in nodes if n in graph and graph.op(n) != "Const"]
        rows.append({"layer": layer, "ops": ops})
    return rows, None


# What each reader returns: (model config, Keras version, written by Keras 3, weight rows).
_Read = tuple[Optional[dict[str, Any]], Optional[str], bool, list[dict[str, Any]]]


def _read_tfjs_layers(path: Path, notes: list[str]) -> _Read:
    from tfjs_lite.readers.tfjs_layers import read_layers_model

    model = read_layers_model(path, require_topology=False)
    rows = []
    for w in model.weights:
        label = f"{w.quantization} (quantized {w.stored_dtype})" if w.quantization else w.stored_dtype
        rows.append(_weight_row(w.name, w.value.shape, label, _layers_weight_bytes(w)))
    notes.append(f"converted by {model.model_json.get('convertedBy', '?')}")
    return model.model_config, model.keras_version, False, rows


def _read_keras_archive(path: Path, notes: list[str]) -> _Read:
    from tfjs_lite.readers.keras_archive import open_keras_archive

    rows: list[dict[str, Any]] = []
    with open_keras_archive(path) as archive:
        if archive.weights is not None:
            rows = [_dataset_row(n, d) for n, d in _h5_datasets(archive.weights)]
        else:
            notes.append("the archive holds no weights")
        return archive.config, archive.keras_version, True, rows


def _read_keras_h5(path: Path, notes: list[str]) -> _Read:
    from tfjs_lite.keras.config import is_keras3
    from tfjs_lite.readers.keras_h5 import open_h5, read_keras_h5

    with open_h5(path, path) as handle:
        info = read_keras_h5(handle, path)
        keras3 = is_keras3(info.keras_version) if info.keras_version else False
        if info.kind == "model" and info.layers:
            rows = [_dataset_row(w.name, w.dataset) for _, ws in info.layers for w in ws]
        else:
            rows = [_dataset_row(n, d) for n, d in _h5_datasets(handle)]
        if info.kind != "model":
            notes.append(f"weights-only file ({info.kind}); no topology")
        return info.model_config, info.keras_version, keras3, rows


def _layers_weight_bytes(weight: Any) -> int:
    import numpy as np

    if weight.quantization:
        return int(weight.value.size) * np.dtype(weight.quantization).itemsize
    if weight.stored_dtype == "string":
        return sum(4 + len(x) for x in weight.value.reshape(-1))
    return int(weight.value.size) * np.dtype(weight.stored_dtype).itemsize
