"""Layers that are ``inputs[0] + inputs[1] * scale`` → ``Rescaling`` + ``Add``, which tfjs-layers 4.22 runs.

Two Keras layers compute a scaled sum of two tensors that TensorFlow.js has no class for:

* ``Subtract`` (``keras.layers.Subtract``, a Siamese network's difference): scale -1. tfjs-layers
  registers Add, Multiply, Average, Maximum, Minimum but not Subtract.
* ``CustomScaleLayer``: InceptionResNetV2 joins every residual with it (``scale`` from its config).
  Only ``keras.applications.inception_resnet_v2`` defines and registers it (tf_keras writes it as
  ``Custom>CustomScaleLayer``; :data:`~tfjs_lite.keras.layers.LEGACY_CLASS_NAMES` maps that name).

The same sum is two layers tfjs-layers has, so each such layer ``n`` becomes

* a ``Rescaling`` named ``n/scale`` (``scale``, ``offset`` 0) fed by each node's second input;
* an ``Add`` named ``n`` fed by each node's first input and the matching ``n/scale`` node, so every
  consumer and model output that named ``n`` is unchanged.

The result is exact for Subtract too: ``b * -1 + 0`` is ``-b`` and ``a + (-b)`` rounds like ``a - b``.
All are weightless, so the rewrite runs on the topology written to ``model.json`` only (after the
weights were matched to the original layers), like the keepdims rewrite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.keras.layers import layer_config, replace_layers

__all__ = ["CLASSES", "expand_scaled_sums", "scale_of", "untranslatable_reason"]

# class name -> the scale of its second input (None: the config's ``scale``)
_FIXED_SCALE: dict[str, float | None] = {"CustomScaleLayer": None, "Subtract": -1.0}
CLASSES = frozenset(_FIXED_SCALE)


def untranslatable_reason(class_name: str, config: Mapping[str, Any]) -> str | None:
    """Why a layer of ``CLASSES`` cannot become Rescaling + Add, or None when it can."""
    if _FIXED_SCALE[class_name] is not None:
        return None
    scale = config.get("scale")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        return f"option scale={scale!r} is not a finite number"
    return None


def scale_of(class_name: str, config: Mapping[str, Any]) -> float:
    """The factor of the second input (the config must have passed ``untranslatable_reason``)."""
    fixed = _FIXED_SCALE[class_name]
    return float(config["scale"]) if fixed is None else fixed


def expand_scaled_sums(model_config: dict[str, Any]) -> dict[str, Any]:
    """A copy of the (tfjs-form) model config with every layer of ``CLASSES`` split in two."""
    return replace_layers(model_config, lambda layer, _: _split(layer) if layer.get("class_name") in CLASSES
                          else [layer])


def _split(layer: dict[str, Any]) -> list[dict[str, Any]]:
    config, class_name = layer_config(layer), str(layer.get("class_name"))
    name = str(layer.get("name") or config.get("name"))
    scale_name = f"{name}/scale"
    nodes = layer.get("inbound_nodes") or []
    if not all(isinstance(node, list) and len(node) == 2 for node in nodes):
        # a call on other than two tensors: no Rescaling + Add computes it (the graph lowering refuses it too)
        raise ModelFormatError(f"layer {name!r} ({class_name}) takes 2 inputs in every call")
    common = {"trainable": config.get("trainable", True), "dtype": config.get("dtype", "float32")}
    rescaling = {
        "class_name": "Rescaling",
        "config": {"name": scale_name, **common, "scale": scale_of(class_name, config), "offset": 0.0},
        "name": scale_name,
        "inbound_nodes": [[node[1]] for node in nodes],
    }
    add = {
        "class_name": "Add",
        "config": {"name": name, **common},
        "name": name,
        "inbound_nodes": [[node[0], [scale_name, index, 0, {}]] for index, node in enumerate(nodes)],
    }
    return [rescaling, add]
