"""keras.applications' ``CustomScaleLayer`` → ``Rescaling`` + ``Add``, which tfjs-layers 4.22 runs.

InceptionResNetV2 joins every residual with ``CustomScaleLayer``: ``inputs[0] + inputs[1] * scale``,
a class only ``keras.applications.inception_resnet_v2`` defines and registers (tf_keras writes it
as ``Custom>CustomScaleLayer``; :data:`~tfjs_lite.keras.layers.LEGACY_CLASS_NAMES` maps that to
``CustomScaleLayer``). TensorFlow.js has no such class, but the same sum is two layers it has, so
each such layer ``n`` becomes

* a ``Rescaling`` named ``n/scale`` (``scale``, ``offset`` 0) fed by each node's second input;
* an ``Add`` named ``n`` fed by each node's first input and the matching ``n/scale`` node, so every
  consumer and model output that named ``n`` is unchanged.

Both are weightless, so the rewrite runs on the topology written to ``model.json`` only (after the
weights were matched to the original layers), like the keepdims rewrite.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.keras.layers import layer_config, replace_layers

__all__ = ["CLASS_NAME", "expand_custom_scale", "untranslatable_reason"]

CLASS_NAME = "CustomScaleLayer"


def untranslatable_reason(config: Mapping[str, Any]) -> str | None:
    """Why a ``CustomScaleLayer`` config cannot become Rescaling + Add, or None when it can."""
    scale = config.get("scale")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale):
        return f"option scale={scale!r} is not a finite number"
    return None


def expand_custom_scale(model_config: dict[str, Any]) -> dict[str, Any]:
    """A copy of the (tfjs-form) model config with every ``CustomScaleLayer`` split in two."""
    return replace_layers(model_config, lambda layer, _: _split(layer) if layer.get("class_name") == CLASS_NAME
                          else [layer])


def _split(layer: dict[str, Any]) -> list[dict[str, Any]]:
    config = layer_config(layer)
    name = str(layer.get("name") or config.get("name"))
    scale_name = f"{name}/scale"
    nodes = layer.get("inbound_nodes") or []
    if not all(isinstance(node, list) and len(node) == 2 for node in nodes):
        # a call on other than two tensors: no Rescaling + Add computes it (the graph lowering refuses it too)
        raise ModelFormatError(f"layer {name!r} (CustomScaleLayer) takes 2 inputs in every call")
    common = {"trainable": config.get("trainable", True), "dtype": config.get("dtype", "float32")}
    rescaling = {
        "class_name": "Rescaling",
        "config": {"name": scale_name, **common, "scale": float(config["scale"]), "offset": 0.0},
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
