"""Write a Keras 3 ``.keras`` archive from a Keras 2 style topology (as in a TF.js layers model) and weights.

Archive members (docs/formats.md §8.3), stored uncompressed (ZIP_STORED) with a fixed timestamp:

* ``metadata.json``: ``{"keras_version": "3.15.1", "date_saved": <fixed>}``;
* ``config.json``: the model config in Keras 3 form (:mod:`tfjs_lite.keras.keras3_config`);
* ``model.weights.h5``: each object's own variables at ``<path>/vars/<i>``, where the path of a
  layer is ``layers/<snake_case class name>[_k]`` in ``model.layers`` order, RNN cells under
  ``cell``, Bidirectional halves under ``forward_layer``/``backward_layer``, TimeDistributed's
  layer under ``layer``, nested models recursing into their own ``layers``.

Everything is deterministic: same input, same bytes.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.keras.keras3_config import keras3_class, keras3_config
from tfjs_lite.keras.layers import (
    RNN_CELLS,
    expected_weight_count,
    layer_config,
    layer_name,
    model_layers,
    to_snake_case,
)
from tfjs_lite.keras.manifest_weights import LayerWeights, owned_names
from tfjs_lite.report import Report
from tfjs_lite.writers.keras_h5 import h5_key, h5_value, new_group

__all__ = ["DATE_SAVED", "KERAS3_VERSION", "keras3_config", "write_keras_archive"]

KERAS3_VERSION = "3.15.1"
# A fixed save date keeps the archive byte-identical from run to run.
DATE_SAVED = "1980-01-01@00:00:00"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# ------------------------------------------------------------------------------------------------
# Weights: model.weights.h5


def _split_nested(
    layer: dict[str, Any], weights: list[tuple[str, np.ndarray]]
) -> list[list[tuple[str, np.ndarray]]]:
    """Share a nested model's weights among its ``layers`` (by the layer names inside the weight names)."""
    subs = model_layers(layer)
    owner: dict[str, int] = {}
    for i, sub in enumerate(subs):
        owner.setdefault(layer_name(sub), i)
    for i, sub in enumerate(subs):
        for name in owned_names(sub)[1:]:
            owner.setdefault(name, i)
    parts: list[list[tuple[str, np.ndarray]]] = [[] for _ in subs]
    own = layer_name(layer)
    for name, value in weights:
        segments = name.split("/")
        if len(segments) > 1 and segments[0] == own and segments[1] in owner:
            index: int | None = owner[segments[1]]
        else:
            index = next((owner[s] for s in segments[:-1] if s in owner), None)
        if index is None:
            raise ModelFormatError(
                f"weight {name!r} does not belong to any layer of nested model {own!r}"
            )
        parts[index].append((name, value))
    return parts


def _split_bidirectional(layer: dict[str, Any], weights: list[tuple[str, np.ndarray]]):
    forward = [w for w in weights if "/forward_" in "/" + w[0]]
    backward = [w for w in weights if "/backward_" in "/" + w[0]]
    if len(forward) + len(backward) != len(weights) or len(forward) != len(backward):
        half = len(weights) // 2
        forward, backward = list(weights[:half]), list(weights[half:])
    return forward, backward


class _Writer:
    def __init__(self, h5: Any) -> None:
        self.h5 = h5

    def group(self, path: str) -> Any:
        node = self.h5
        h5_key(path, "layer path")
        for part in path.split("/"):
            node = node[part] if part in node else new_group(node, part)
        return node

    def vars(
        self, path: str, name: str, weights: Sequence[tuple[str, np.ndarray]]
    ) -> None:
        group = self.group(f"{path}/vars" if path else "vars")
        # The same rule as for .h5 files, where layer names are group names.
        group.attrs["name"] = h5_key(name, "layer name").decode("utf-8")
        for i, (weight_name, value) in enumerate(weights):
            group.create_dataset(
                str(i), data=h5_value(weight_name, value), track_times=False
            )

    def layer(
        self, path: str, layer: dict[str, Any], weights: list[tuple[str, np.ndarray]]
    ) -> None:
        class_name = keras3_class(layer)
        name = layer_name(layer)
        cfg = layer_config(layer)
        if class_name in ("Sequential", "Functional"):
            self.container(
                f"{path}/layers", model_layers(layer), _split_nested(layer, weights)
            )
            self.vars(path, name, [])
        elif class_name in RNN_CELLS:
            self.vars(f"{path}/cell", RNN_CELLS[class_name][1], weights)
            self.vars(path, name, [])
        elif class_name == "Bidirectional":
            inner = cfg.get("layer") or {}
            inner_name = layer_name(inner)
            backward_cfg = cfg.get("backward_layer") or inner
            forward, backward = _split_bidirectional(layer, weights)
            self.layer(
                f"{path}/forward_layer",
                _renamed(inner, "forward_" + inner_name),
                forward,
            )
            self.layer(
                f"{path}/backward_layer",
                _renamed(backward_cfg, "backward_" + layer_name(backward_cfg)),
                backward,
            )
            self.vars(path, name, [])
        elif class_name == "TimeDistributed":
            self.layer(f"{path}/layer", cfg.get("layer") or {}, weights)
            self.vars(path, name, [])
        else:
            want = expected_weight_count(layer)
            if want is not None and want != len(weights):
                raise ModelFormatError(
                    f"layer {name!r} ({class_name}) needs {want} weights, got {len(weights)}"
                )
            self.vars(path, name, weights)

    def container(
        self,
        path: str,
        layers: Sequence[dict[str, Any]],
        parts: Sequence[list[tuple[str, np.ndarray]]],
    ) -> None:
        used: dict[str, int] = {}
        self.group(path)
        for layer, weights in zip(layers, parts):
            class_name = keras3_class(layer)
            key = to_snake_case(class_name)
            if key in used:
                used[key] += 1
                key = f"{key}_{used[key]}"
            else:
                used[key] = 0
            self.layer(f"{path}/{key}", layer, weights)


def _renamed(layer: dict[str, Any], name: str) -> dict[str, Any]:
    return {**layer, "name": name}


def _weights_h5(model_config: dict[str, Any], layers: Sequence[LayerWeights]) -> bytes:
    import h5py

    buffer = io.BytesIO()
    with h5py.File(buffer, "w", libver="earliest", track_order=False) as f:
        writer = _Writer(f)
        top = [x.config for x in layers]
        # model.layers of a Keras 3 Functional includes its InputLayers, as does the manifest grouping
        writer.container("layers", top, [x.weights for x in layers])
        writer.vars(
            "", str((model_config.get("config") or {}).get("name") or "model"), []
        )
    return buffer.getvalue()


def _zip_member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def write_keras_archive(
    path: Path,
    model_config: dict[str, Any],
    layers: Sequence[LayerWeights],
    *,
    report: Report | None = None,
    keras_version: str = KERAS3_VERSION,
    date_saved: str = DATE_SAVED,
) -> None:
    """Write the ``.keras`` file at ``path`` (overwritten)."""
    config = keras3_config(model_config)
    weights = _weights_h5(model_config, layers)
    metadata = {"keras_version": keras_version, "date_saved": date_saved}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        _zip_member(archive, "metadata.json", json.dumps(metadata).encode("utf-8"))
        _zip_member(archive, "config.json", json.dumps(config).encode("utf-8"))
        _zip_member(archive, "model.weights.h5", weights)
