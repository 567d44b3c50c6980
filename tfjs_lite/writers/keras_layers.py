"""Which layer of a Keras 2 style model config owns each weight (shared by the ``.h5`` and ``.keras`` writers).

A TF.js weights manifest names every weight ``<layer>/.../<variable>``: the first segment is the
name of an entry of ``model.layers``, or of a layer nested inside one (nested models,
Bidirectional / TimeDistributed wrappers). :func:`assign_weights` groups the weights by that
owner, keeping the manifest order (the Keras order), and checks the count for common classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError

__all__ = [
    "RNN_CELLS",
    "LayerWeights",
    "assign_weights",
    "expected_weight_count",
    "is_model_class",
    "layer_name",
    "model_layers",
    "owned_names",
]

_MODEL_CLASSES = ("Sequential", "Functional", "Model")
_WRAPPER_CLASSES = ("Bidirectional", "TimeDistributed")
# RNN layer class -> the name Keras gives its cell.
RNN_CELLS = {"LSTM": "lstm_cell", "GRU": "gru_cell", "SimpleRNN": "simple_rnn_cell"}

# Common layer classes without weights.
_WEIGHTLESS_CLASSES = frozenset({
    "InputLayer", "Dropout", "Flatten", "Reshape", "Permute", "Activation", "ReLU", "LeakyReLU",
    "ELU", "Softmax", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
    "AveragePooling2D", "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "Concatenate", "Add", "Subtract", "Multiply",
    "Average", "Maximum", "Minimum", "Dot", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "Cropping1D", "Cropping2D", "Cropping3D",
    "RepeatVector", "Masking", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "ThresholdedReLU",
})


@dataclass
class LayerWeights:
    """One entry of ``model.layers`` and the weights it owns, in load order."""

    name: str
    class_name: str
    config: dict[str, Any]
    weights: list[tuple[str, np.ndarray]]  # (manifest name, value)


def is_model_class(layer: dict[str, Any]) -> bool:
    """Whether the layer config is itself a model (Sequential / Functional / Model)."""
    return layer.get("class_name") in _MODEL_CLASSES


def model_layers(model_config: dict[str, Any]) -> list[dict[str, Any]]:
    """The layer configs of ``model.layers`` in order (Sequential drops its InputLayer)."""
    config = model_config.get("config")
    if isinstance(config, list):  # Keras < 2.2 Sequential: the config is the layer list
        layers = config
    elif isinstance(config, dict):
        layers = config.get("layers") or []
    else:
        layers = []
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise ModelFormatError(
            "the model config's 'layers' is not a list of layer configs"
        )
    if model_config.get("class_name") == "Sequential":
        layers = [x for x in layers if x.get("class_name") != "InputLayer"]
    return layers


def layer_name(layer: dict[str, Any]) -> str:
    """The layer's name (top-level ``name`` or ``config.name``); ModelFormatError when it has none."""
    name = layer.get("name")
    if not isinstance(name, str):
        cfg = layer.get("config")
        name = cfg.get("name") if isinstance(cfg, dict) else None
    if not isinstance(name, str) or not name:
        raise ModelFormatError(
            f"a {layer.get('class_name', '?')} layer in the model config has no name"
        )
    return name


def _inner_layer(layer: dict[str, Any]) -> dict[str, Any] | None:
    cfg = layer.get("config")
    inner = cfg.get("layer") if isinstance(cfg, dict) else None
    return inner if isinstance(inner, dict) else None


def owned_names(layer: dict[str, Any]) -> list[str]:
    """Names that may start the weight names of ``layer``: its own and those of layers inside it."""
    names = [layer_name(layer)]
    if is_model_class(layer):
        for sub in model_layers(layer):
            names.extend(owned_names(sub))
    elif layer.get("class_name") in _WRAPPER_CLASSES:
        inner = _inner_layer(layer)
        if inner is not None:
            inner_name = layer_name(inner)
            names.extend(
                [inner_name, "forward_" + inner_name, "backward_" + inner_name]
            )
    return names


def _flag(cfg: dict[str, Any], key: str, default: bool = True) -> bool:
    value = cfg.get(key, default)
    return bool(default if value is None else value)


def expected_weight_count(layer: dict[str, Any]) -> int | None:
    """How many weights a layer of a common class has, or None when unknown."""
    cls = layer.get("class_name")
    cfg = layer.get("config") or {}
    if not isinstance(cls, str) or not isinstance(cfg, dict):
        return None
    bias = 1 if _flag(cfg, "use_bias") else 0
    if cls in (
        "Dense",
        "Conv1D",
        "Conv2D",
        "Conv3D",
        "Conv1DTranspose",
        "Conv2DTranspose",
        "Conv3DTranspose",
    ):
        return 1 + bias
    if cls in ("DepthwiseConv1D", "DepthwiseConv2D"):
        return 1 + bias
    if cls in ("SeparableConv1D", "SeparableConv2D"):
        return 2 + bias
    if cls in ("BatchNormalization", "BatchNormalizationV1", "BatchNormalizationV2"):
        return int(_flag(cfg, "center")) + int(_flag(cfg, "scale")) + 2
    if cls == "LayerNormalization":
        return int(_flag(cfg, "center")) + int(_flag(cfg, "scale"))
    if cls in ("Embedding", "PReLU"):
        return 1
    if cls in RNN_CELLS:
        return 2 + bias
    if cls == "Bidirectional":
        inner = _inner_layer(layer)
        n = expected_weight_count(inner) if inner else None
        return None if n is None else 2 * n
    if cls in _WEIGHTLESS_CLASSES:
        return 0
    return None


def _owner_of(weight_name: str, owner: dict[str, int]) -> int | None:
    parts = weight_name.split("/")
    for end in range(len(parts) - 1, 0, -1):
        index = owner.get("/".join(parts[:end]))
        if index is not None:
            return index
    return None


def assign_weights(
    model_config: dict[str, Any], weights: Sequence[tuple[str, np.ndarray]]
) -> list[LayerWeights]:
    """Give every manifest weight to the entry of ``model.layers`` that owns it.

    A weight ``a/b/c`` belongs to the layer named ``a``, or to the top-level layer that contains
    a layer named ``a`` (nested models, Bidirectional/TimeDistributed). Layer names may contain
    ``/`` themselves (DenseNet's ``conv1/conv``): the longest such prefix of the weight name that
    names a layer wins, so ``head/out/bias`` goes to ``head/out``, not to ``head``. Within a layer
    the manifest order is kept.

    Raises:
        ModelFormatError: a weight that no layer owns, or a layer whose weight count is wrong.
    """
    layers = model_layers(model_config)
    result = [
        LayerWeights(layer_name(x), str(x.get("class_name")), x, []) for x in layers
    ]
    owner: dict[str, int] = {}
    for i, entry in enumerate(result):  # top-level names first: they win over nested ones
        owner.setdefault(entry.name, i)
    for i, layer in enumerate(layers):
        for name in owned_names(layer)[1:]:
            owner.setdefault(name, i)
    for name, value in weights:
        index = _owner_of(name, owner)
        if index is None:
            raise ModelFormatError(
                f"weight {name!r} does not belong to any layer of the model"
            )
        result[index].weights.append((name, value))
    for entry in result:
        want = expected_weight_count(entry.config)
        if want is not None and want != len(entry.weights):
            found = ", ".join(n for n, _ in entry.weights) or "none"
            raise ModelFormatError(
                f"layer {entry.name!r} ({entry.class_name}) needs {want} weights, the manifest has "
                f"{len(entry.weights)} ({found})"
            )
    return result
