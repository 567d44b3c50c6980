"""Keras ``Normalization`` (not a tfjs-layers 4.22 class) → an equivalent ``BatchNormalization``.

EfficientNet and ConvNeXt start with a ``Normalization`` layer holding the per-channel mean and
variance of their training data. Keras computes ``(x - mean) / max(sqrt(variance), 1e-7)``; a
``BatchNormalization`` without scale and offset computes ``(x - moving_mean) /
sqrt(moving_variance + epsilon)``. With ``epsilon = 0`` and ``moving_variance = max(variance,
1e-14)`` the two are the same function (up to float rounding), and tfjs-layers 4.22 runs
``BatchNormalization`` over the last axis correctly.

Translated only when that is exact: ``invert=False``, the normalised axis the last one of an
input of known rank (tf.keras 2 stores ``axis: [3]`` for images), and the statistics either stored
as weights or given in the config as per-channel lists (ConvNeXt's ImageNet mean/variance).
Anything else stays a ``Normalization`` for the pre-flight check to refuse. Weights
``<layer>/mean`` and ``<layer>/variance`` become ``<layer>/moving_mean`` and
``<layer>/moving_variance`` (config statistics become such weights); ``<layer>/count`` (only used
by ``adapt``) is dropped.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Mapping, Optional

import numpy as np

from tfjs_lite.keras.ranks import input_ranks

if TYPE_CHECKING:
    from tfjs_lite.writers.weights import WeightEntry

__all__ = ["normalization_as_batch_norm", "translatable", "translate_normalization"]

_KERAS_EPSILON = 1e-7


def translatable(config: Mapping[str, Any], rank: Optional[int]) -> bool:
    """True if this Normalization layer config can become an exact BatchNormalization."""
    if config.get("invert"):
        return False
    mean, variance = config.get("mean"), config.get("variance")
    if (mean, variance) != (None, None) and not (isinstance(mean, list) and isinstance(variance, list)
                                                 and mean and len(variance) == len(mean)):
        return False
    axis = config.get("axis", -1)
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    if len(axes) != 1 or not isinstance(axes[0], int):
        return False
    return axes[0] == -1 or (rank is not None and axes[0] == rank - 1)


def normalization_as_batch_norm(config: Mapping[str, Any]) -> dict[str, Any]:
    """The BatchNormalization config computing what ``config`` (a Normalization) computes."""
    return {"name": config.get("name"), "trainable": False, "dtype": config.get("dtype", "float32"),
            "axis": -1, "momentum": 0.99, "epsilon": 0.0, "center": False, "scale": False}


def _translatable_layers(model_config: Mapping[str, Any]) -> set[str]:
    ranks = input_ranks(model_config)
    config = model_config.get("config")
    layers = config.get("layers") if isinstance(config, Mapping) else None
    found = set()
    for layer in layers if isinstance(layers, list) else []:
        if isinstance(layer, Mapping) and layer.get("class_name") == "Normalization":
            layer_config = layer.get("config")
            layer_config = layer_config if isinstance(layer_config, Mapping) else {}
            name = str(layer.get("name") or layer_config.get("name"))
            if translatable(layer_config, ranks.get(name)):
                found.add(name)
    return found


def _clamped_variance(data: Any) -> Any:
    return lambda: np.maximum(np.asarray(data[()], np.float32), np.float32(_KERAS_EPSILON**2))


def _with_config_statistics(layers: list[list["WeightEntry"]],
                            from_config: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[list["WeightEntry"]]:
    """Append the config-given statistics as ``<layer>/mean`` / ``<layer>/variance`` weights."""
    if not from_config:
        return layers
    from tfjs_lite.writers.weights import WeightEntry

    entry_type = next((type(e) for entries in layers for e in entries), WeightEntry)
    extra = [entry_type(f"{name}/{leaf}", value) for name, (mean, variance) in sorted(from_config.items())
             for leaf, value in (("mean", mean), ("variance", variance))]
    return [*layers, extra]


def translate_normalization(model_config: dict[str, Any], layers: list[list["WeightEntry"]]
                            ) -> tuple[dict[str, Any], list[list["WeightEntry"]]]:
    """Rewrite every translatable top-level Normalization layer and its weights."""
    names = _translatable_layers(model_config)
    if not names:
        return model_config, layers
    model = copy.deepcopy(model_config)
    from_config: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for layer in model["config"]["layers"]:
        if isinstance(layer, dict) and layer.get("class_name") == "Normalization":
            name = str(layer.get("name") or layer["config"].get("name"))
            if name in names:
                if layer["config"].get("mean") is not None:
                    from_config[name] = (np.asarray(layer["config"]["mean"], np.float32),
                                         np.asarray(layer["config"]["variance"], np.float32))
                layer["class_name"] = "BatchNormalization"
                layer["config"] = normalization_as_batch_norm(layer["config"])
    layers = _with_config_statistics(layers, from_config)
    renamed: list[list["WeightEntry"]] = []
    for entries in layers:
        out = []
        for entry in entries:
            owner, _, leaf = entry.name.rpartition("/")
            if owner not in names:
                out.append(entry)
            elif leaf == "mean":
                out.append(type(entry)(f"{owner}/moving_mean", entry.data))
            elif leaf == "variance":
                out.append(type(entry)(f"{owner}/moving_variance", _clamped_variance(entry.data)))
        renamed.append(out)
    return model, renamed
