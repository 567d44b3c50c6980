"""Global pooling with ``keepdims=True`` → global pooling + ``Reshape``, which tfjs-layers 4.22 runs.

tfjs-layers 4.22's global pooling layers ignore ``keepdims`` and always drop the pooled axes
(found in ``fixtures/layer_options``: the TF.js output has the wrong shape, and MobileNet v1/v3
then fail in TF.js with "expected ndim=4, found ndim=2").  Keras's ``keepdims=True`` output equals
the plain pooled output reshaped to size-1 pooled axes, so each such layer ``n`` becomes

* the pooling layer without ``keepdims``, renamed ``n/pool`` (it has no weights), fed as ``n`` was;
* a ``Reshape`` named ``n`` with ``target_shape`` ``(1, 1, C)`` (2-D, channels last; ``(C, 1, 1)``
  channels first; ``(1, C)``/``(C, 1)`` for 1-D, ``(1, 1, 1, C)`` for 3-D), one node per node of
  the pooling layer, so every consumer and every model output that named ``n`` is unchanged.

``C`` must be written out: tfjs-layers 4.22's ``Reshape`` leaves a ``-1`` unresolved when the batch
size is unknown, and a following convolution then fails to build ("The channel dimension of the
input should be defined"). :func:`channels` finds ``C`` by walking back through the layers that
keep the channel count to the one that sets it (``filters``, ``units``, an input shape, a
concatenation); a keepdims pooling whose ``C`` cannot be found is refused by the pre-flight check
(:func:`unresolved_keepdims`).

The rewrite runs on the topology written to ``model.json`` only, after the weights were matched to
the original layers, so weight names and ``.keras`` archive paths never see the new layers.
"""

from __future__ import annotations

import copy
from typing import Any

from tfjs_lite.keras.layers import MODEL_CLASSES, layer_config, replace_layers

__all__ = ["channels", "expand_keepdims_pooling", "keepdims_target_shape", "unresolved_keepdims"]

_POOLING = {
    "GlobalAveragePooling1D": 1, "GlobalMaxPooling1D": 1, "GlobalAveragePooling2D": 2,
    "GlobalMaxPooling2D": 2, "GlobalAveragePooling3D": 3, "GlobalMaxPooling3D": 3,
}


# Layers whose output has as many channels as their (first) input.
_SAME_CHANNELS = frozenset({
    "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax", "Dropout",
    "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "BatchNormalization", "LayerNormalization", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D",
    "Cropping1D", "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Rescaling",
    "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D",
    "Masking",
})
_SETS_CHANNELS = {"Conv1D": "filters", "Conv2D": "filters", "Conv3D": "filters", "SeparableConv1D": "filters",
                  "SeparableConv2D": "filters", "Conv1DTranspose": "filters", "Conv2DTranspose": "filters",
                  "Conv3DTranspose": "filters", "Dense": "units"}


def _layers_by_name(model: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    config = model.get("config")
    layers = [x for x in (config.get("layers") if isinstance(config, dict) else None) or [] if isinstance(x, dict)]
    by_name, inbound = {}, {}
    previous: list[str] = []
    for layer in layers:
        name = str(layer.get("name") or (layer.get("config") or {}).get("name"))
        by_name[name] = layer
        nodes = layer.get("inbound_nodes")
        if model.get("class_name") == "Sequential":
            inbound[name] = previous
        elif isinstance(nodes, list) and nodes and isinstance(nodes[0], list):
            inbound[name] = [str(t[0]) for t in nodes[0] if isinstance(t, (list, tuple)) and t]
        else:
            inbound[name] = []
        previous = [name]
    return by_name, inbound


def channels(model: dict[str, Any], name: str) -> int | None:
    """The channel count (last axis) of layer ``name``'s output, when its config chain tells it."""
    by_name, inbound = _layers_by_name(model)
    return _channels(by_name, inbound, name, 0)


def _channels(by_name: dict[str, dict[str, Any]], inbound: dict[str, list[str]], name: str,
              depth: int) -> int | None:
    layer = by_name.get(name)
    if layer is None or depth > len(by_name):
        return None
    class_name = str(layer.get("class_name"))
    config = layer_config(layer)
    if config.get("data_format") == "channels_first":
        return None
    if class_name in _SETS_CHANNELS:
        value = config.get(_SETS_CHANNELS[class_name])
        return value if isinstance(value, int) else None
    if class_name == "InputLayer" or (not inbound.get(name) and isinstance(config.get("batch_input_shape"), list)):
        shape = config.get("batch_input_shape") or config.get("batch_shape")
        return shape[-1] if isinstance(shape, list) and isinstance(shape[-1], int) else None
    sources = inbound.get(name) or []
    if class_name == "DepthwiseConv2D" and sources:
        found = _channels(by_name, inbound, sources[0], depth + 1)
        return None if found is None else found * int(config.get("depth_multiplier", 1))
    if class_name == "Concatenate" and config.get("axis", -1) == -1 and sources:
        parts = [_channels(by_name, inbound, s, depth + 1) for s in sources]
        return None if None in parts else sum(parts)  # type: ignore[arg-type]
    if class_name in _SAME_CHANNELS and sources:
        return _channels(by_name, inbound, sources[0], depth + 1)
    return None


def keepdims_target_shape(class_name: str, config: dict[str, Any], count: int | None = -1) -> list[int] | None:
    """The Reshape target equal to ``keepdims=True`` for a global pooling layer, or None."""
    spatial = _POOLING.get(class_name)
    if spatial is None or not config.get("keepdims") or count is None:
        return None
    ones = [1] * spatial
    return [count] + ones if config.get("data_format") == "channels_first" else ones + [count]


def unresolved_keepdims(model: dict[str, Any]) -> list[str]:
    """Keepdims global pooling layers (nested models included) whose channel count cannot be found."""
    by_name, inbound = _layers_by_name(model)
    found = []
    for name, layer in by_name.items():
        if layer.get("class_name") in MODEL_CLASSES:
            found.extend(unresolved_keepdims(layer))
        elif (layer.get("class_name") in _POOLING and (layer.get("config") or {}).get("keepdims")
              and _channels(by_name, inbound, name, 0) is None):
            found.append(name)
    return found


def expand_keepdims_pooling(model_config: dict[str, Any]) -> dict[str, Any]:
    """A copy of the (tfjs-form) model config with every keepdims global pooling split in two."""
    def replace(layer: dict[str, Any], model: dict[str, Any]) -> list[dict[str, Any]]:
        config = layer_config(layer)
        if layer.get("class_name") not in _POOLING or not config.get("keepdims"):
            return [layer]
        name = str(layer.get("name") or config.get("name"))
        return _split(layer, model.get("class_name") == "Sequential", channels(model, name))

    return replace_layers(model_config, replace)


def _split(layer: dict[str, Any], sequential: bool, count: int | None) -> list[dict[str, Any]]:
    config = layer_config(layer)
    target = keepdims_target_shape(str(layer.get("class_name")), config, count)
    if target is None:
        return [layer]
    name = str(layer.get("name") or config.get("name"))
    pool_name = f"{name}/pool"
    pool = copy.deepcopy(layer)
    pool_config = pool["config"]
    pool_config.pop("keepdims", None)
    pool_config["name"] = pool_name
    if "name" in pool:
        pool["name"] = pool_name
    reshape: dict[str, Any] = {
        "class_name": "Reshape",
        "config": {"name": name, "trainable": config.get("trainable", True),
                   "dtype": config.get("dtype", "float32"), "target_shape": target},
    }
    if "name" in layer:
        reshape["name"] = name
    if not sequential and isinstance(layer.get("inbound_nodes"), list):
        reshape["inbound_nodes"] = [[[pool_name, index, 0, {}]] for index in range(len(layer["inbound_nodes"]))]
    return [pool, reshape]
