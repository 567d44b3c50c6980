"""Which layer of a Keras 2 style model config owns each weight of a TF.js manifest (for the Keras writers).

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
from tfjs_lite.keras.layers import (
    WRAPPER_CLASSES,
    expected_weight_count,
    inner_layer,
    is_model_class,
    layer_name,
    model_layers,
)

__all__ = ["LayerWeights", "assign_weights", "owned_names"]

@dataclass
class LayerWeights:
    """One entry of ``model.layers`` and the weights it owns, in load order."""

    name: str
    class_name: str
    config: dict[str, Any]
    weights: list[tuple[str, np.ndarray]]  # (manifest name, value)


def owned_names(layer: dict[str, Any]) -> list[str]:
    """Names that may start the weight names of ``layer``: its own and those of layers inside it."""
    names = [layer_name(layer)]
    if is_model_class(layer):
        for sub in model_layers(layer):
            names.extend(owned_names(sub))
    elif layer.get("class_name") in WRAPPER_CLASSES:
        inner = inner_layer(layer)
        if inner is not None:
            inner_name = layer_name(inner)
            names.extend(
                [inner_name, "forward_" + inner_name, "backward_" + inner_name]
            )
    return names


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
