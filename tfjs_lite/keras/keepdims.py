"""Global pooling with ``keepdims=True`` → global pooling + ``Reshape``, which tfjs-layers 4.22 runs.

tfjs-layers 4.22's global pooling layers ignore ``keepdims`` and always drop the pooled axes
(found in ``fixtures/layer_options``: the TF.js output has the wrong shape, and MobileNet v1/v3
then fail in TF.js with "expected ndim=4, found ndim=2").  Keras's ``keepdims=True`` output equals
the plain pooled output reshaped to size-1 pooled axes, so each such layer ``n`` becomes

* the pooling layer without ``keepdims``, renamed ``n/pool`` (it has no weights), fed as ``n`` was;
* a ``Reshape`` named ``n`` with ``target_shape`` ``(1, 1, -1)`` (2-D, channels last; ``(-1, 1, 1)``
  channels first; ``(1, -1)``/``(-1, 1)`` for 1-D, ``(1, 1, 1, -1)`` for 3-D), one node per node of
  the pooling layer, so every consumer and every model output that named ``n`` is unchanged.

The rewrite runs on the topology written to ``model.json`` only, after the weights were matched to
the original layers, so weight names and ``.keras`` archive paths never see the new layers.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["expand_keepdims_pooling", "keepdims_target_shape"]

_POOLING = {
    "GlobalAveragePooling1D": 1, "GlobalMaxPooling1D": 1, "GlobalAveragePooling2D": 2,
    "GlobalMaxPooling2D": 2, "GlobalAveragePooling3D": 3, "GlobalMaxPooling3D": 3,
}
_MODELS = ("Sequential", "Functional", "Model")


def keepdims_target_shape(class_name: str, config: dict[str, Any]) -> list[int] | None:
    """The Reshape target equal to ``keepdims=True`` for a global pooling layer, or None."""
    spatial = _POOLING.get(class_name)
    if spatial is None or not config.get("keepdims"):
        return None
    ones = [1] * spatial
    return [-1] + ones if config.get("data_format") == "channels_first" else ones + [-1]


def expand_keepdims_pooling(model_config: dict[str, Any]) -> dict[str, Any]:
    """A copy of the (tfjs-form) model config with every keepdims global pooling split in two."""
    model = copy.deepcopy(model_config)
    _rewrite_model(model)
    return model


def _rewrite_model(model: dict[str, Any]) -> None:
    config = model.get("config")
    layers = config.get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list):
        return
    sequential = model.get("class_name") == "Sequential"
    out: list[Any] = []
    for layer in layers:
        if not isinstance(layer, dict):
            out.append(layer)
            continue
        if layer.get("class_name") in _MODELS:
            _rewrite_model(layer)
        out.extend(_split(layer, sequential))
    config["layers"] = out


def _split(layer: dict[str, Any], sequential: bool) -> list[dict[str, Any]]:
    config = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    target = keepdims_target_shape(str(layer.get("class_name")), config)
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
