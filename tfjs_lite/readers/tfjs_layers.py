"""Read a TF.js layers model (``model.json`` + weight shards) back into a topology and named arrays.

This is the reading half of the reverse conversions (tfjs_layers_model → Keras, and layers →
layers re-sharding). It follows the official ``keras_tfjs_loader``: ``model.json`` must have the
keys ``modelTopology`` and ``weightsManifest``; every group's shards are read and decoded, and
quantized weights are dequantized (docs/formats.md §2, §3.3).

Two topology shapes exist in the wild and both are accepted:

* the converter's ``{"keras_version", "backend", "model_config": {...}}`` and
* tfjs-layers' own ``model.save`` form, where ``modelTopology`` *is* the model config
  (``{"class_name", "config", "keras_version": "tfjs-layers …", "backend": "tensor_flow.js"}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tfjs_lite.errors import ConversionError, ModelFormatError, UnsupportedModelError
from tfjs_lite.keras.validate import validate_model_config
from tfjs_lite.readers.tfjs_weights import (
    find_model_json,
    read_model_json,
    read_weights,
)

__all__ = ["LayersModel", "WeightValue", "find_model_json", "read_layers_model"]


@dataclass(frozen=True)
class WeightValue:
    """One weight of the manifest: its name, its (dequantized) value and how it was stored."""

    name: str
    value: np.ndarray
    stored_dtype: str  # the manifest dtype ("float32", "int32", "string", …)
    quantization: str | None = (
        None  # "uint8" / "uint16" / "float16" when stored quantized
    )
    group: int = 0  # index of the manifest group the weight came from


@dataclass
class LayersModel:
    """A parsed TF.js layers model."""

    path: Path  # the model.json
    model_json: dict[str, Any]
    model_config: (
        dict[str, Any] | None
    )  # {"class_name", "config"}; None for weights-only files
    keras_version: str | None
    backend: str | None
    weights: list[WeightValue] = field(default_factory=list)

    @property
    def quantized(self) -> bool:
        return any(w.quantization for w in self.weights)

    def weight_dict(self) -> dict[str, np.ndarray]:
        return {w.name: w.value for w in self.weights}


def _split_topology(
    topology: Any, model_json: Path
) -> tuple[dict[str, Any], str | None, str | None]:
    if not isinstance(topology, dict):
        raise ModelFormatError('"modelTopology" is not a JSON object', path=model_json)
    keras_version = topology.get("keras_version")
    backend = topology.get("backend")
    if "model_config" in topology:
        config = topology["model_config"]
    elif "class_name" in topology:  # tfjs-layers' own model.save() form
        config = {
            k: v for k, v in topology.items() if k not in ("keras_version", "backend")
        }
    else:
        raise ModelFormatError(
            '"modelTopology" has neither "model_config" nor "class_name"',
            path=model_json,
        )
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ModelFormatError(
            '"modelTopology.model_config" has no "class_name"', path=model_json
        )
    if not isinstance(config.get("config"), (dict, list)):
        raise ModelFormatError(
            '"modelTopology.model_config" has no "config"', path=model_json
        )
    try:
        validate_model_config(config, keras3=False)
    except ConversionError as e:
        raise type(e)(f'"modelTopology": {e}', path=model_json) from None
    return (
        config,
        keras_version if isinstance(keras_version, str) else None,
        backend if isinstance(backend, str) else None,
    )


def read_layers_model(path: Path, *, require_topology: bool = True) -> LayersModel:
    """Read a layers model from its folder or its ``model.json``.

    Args:
        path: the model folder, or the ``model.json`` file itself.
        require_topology: raise for weights-only files (``"modelTopology": null``).

    Returns:
        The topology and every weight in manifest order, dequantized.

    Raises:
        ModelFormatError: missing keys, unreadable or short weight files, unsafe shard paths.
        UnsupportedModelError: a weights-only model.json when a topology is required.
    """
    model_json = find_model_json(Path(path))
    data = read_model_json(model_json)  # a JSON object with modelTopology and a weightsManifest list
    fmt = data.get("format")
    if fmt not in (None, "layers-model"):
        raise ModelFormatError(
            f'"format" is {fmt!r}, not a layers model', path=model_json
        )
    manifest = data["weightsManifest"]
    if not isinstance(manifest, list) or not all(isinstance(g, dict) for g in manifest):
        raise ModelFormatError(
            '"weightsManifest" is not a list of groups', path=model_json
        )

    topology = data["modelTopology"]
    if topology is None:
        if require_topology:
            raise UnsupportedModelError(
                "model.json has no modelTopology (a weights-only file); a Keras model cannot be built from it",
                path=model_json,
            )
        config, keras_version, backend = None, None, None
    else:
        config, keras_version, backend = _split_topology(topology, model_json)

    weights = _weight_values(manifest, model_json)
    return LayersModel(
        path=model_json,
        model_json=data,
        model_config=config,
        keras_version=keras_version,
        backend=backend,
        weights=weights,
    )


def _weight_values(manifest: list[dict[str, Any]], model_json: Path) -> list[WeightValue]:
    """Every weight of the manifest, in order, dequantized, with the group it came from."""
    entries = read_weights(manifest, model_json.parent)
    group_of: dict[str, int] = {}
    for g, group in enumerate(manifest):
        for spec in group.get("weights") or []:
            if isinstance(spec, dict) and isinstance(spec.get("name"), str):
                group_of.setdefault(spec["name"], g)
    weights: list[WeightValue] = []
    seen: set = set()
    for spec, value in entries:
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise ModelFormatError(
                "a weight in weightsManifest has no name", path=model_json
            )
        if name in seen:
            raise ModelFormatError(
                f"duplicate weight name {name!r} in weightsManifest", path=model_json
            )
        seen.add(name)
        quant = spec.get("quantization")
        weights.append(
            WeightValue(
                name=name,
                value=np.asarray(value),
                stored_dtype=str(spec.get("dtype", "float32")),
                quantization=quant.get("dtype") if isinstance(quant, dict) else None,
                group=group_of.get(name, 0),
            )
        )
    return weights
