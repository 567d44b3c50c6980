"""The Keras 3 ``config.json`` of a ``.keras`` archive, from a Keras 2 style model config.

Every object becomes ``{"module", "class_name", "config", "registered_name"}``, layer dtypes
become ``DTypePolicy`` objects, InputLayers get ``batch_shape``, single-element ``axis`` lists
become ints and Keras 2 class aliases get their Keras 3 names. Functional wiring keeps the
Keras 2 list form (``[[["d1", 0, 0, {}]]]``), which Keras 3 still reads; node indices of nested
models are renumbered from 0 as Keras 3 counts them (:mod:`tfjs_lite.keras.compat`).
"""

from __future__ import annotations

import json
from typing import Any

from tfjs_lite.errors import UnsupportedModelError
from tfjs_lite.keras.compat import (
    drop_refused_keys,
    nested_node_offsets,
    shift_refs,
)
from tfjs_lite.keras.layers import canonical_class, layer_config

__all__ = ["keras3_class", "keras3_config"]

_OBJECT_MODULES = (
    ("_initializer", "keras.initializers"),
    ("_regularizer", "keras.regularizers"),
    ("_constraint", "keras.constraints"),
)


def keras3_class(layer: dict[str, Any]) -> str:
    """The Keras 3 class name of a Keras 2 layer or model config (``Model`` → ``Functional`` ...)."""
    name = canonical_class(str(layer.get("class_name")))
    return "Functional" if name == "Model" else name


def _dtype_policy(dtype: Any) -> Any:
    if isinstance(dtype, str):
        name = dtype
    elif (
        isinstance(dtype, dict)
        and isinstance(dtype.get("config"), dict)
        and "name" in dtype["config"]
    ):
        name = dtype["config"]["name"]
    else:
        return dtype
    return {
        "module": "keras",
        "class_name": "DTypePolicy",
        "config": {"name": name},
        "registered_name": None,
    }


def _keras_object(obj: Any, module: str) -> Any:
    """``{"class_name", "config"}`` → the Keras 3 form with ``module``/``registered_name``."""
    if not isinstance(obj, dict) or not isinstance(obj.get("class_name"), str):
        return obj
    if obj.get("module") and str(obj["module"]).startswith("keras"):
        module = obj["module"]
    return {
        "module": module,
        "class_name": obj["class_name"],
        "config": obj.get("config", {}),
        "registered_name": obj.get("registered_name"),
    }


def _input_layer(name: str, batch_shape: Any, dtype: Any) -> dict[str, Any]:
    dtype_name = dtype if isinstance(dtype, str) else "float32"
    return {
        "module": "keras.layers",
        "class_name": "InputLayer",
        "config": {
            "batch_shape": batch_shape,
            "dtype": dtype_name,
            "sparse": False,
            "ragged": False,
            "name": name,
            "optional": False,
        },
        "registered_name": None,
    }


def _layer_config(cfg: dict[str, Any], class_name: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        if key == "dtype" and class_name != "InputLayer":
            value = _dtype_policy(value)
        elif (
            key in ("layer", "backward_layer", "cell")
            and isinstance(value, dict)
            and "class_name" in value
        ):
            value = _layer(value)
        elif (
            key == "axis"
            and isinstance(value, list)
            and len(value) == 1
            and isinstance(value[0], int)
        ):
            value = value[0]
        else:
            for suffix, module in _OBJECT_MODULES:
                if key.endswith(suffix):
                    value = _keras_object(value, module)
                    break
        out[key] = value
    if class_name == "InputLayer":
        if "batch_input_shape" in out:
            out["batch_shape"] = out.pop("batch_input_shape")
        out.setdefault("optional", False)
    return out


def _layer(layer: dict[str, Any]) -> dict[str, Any]:
    class_name = keras3_class(layer)
    if class_name in ("Sequential", "Functional"):
        return _model(layer, class_name)
    cfg = layer_config(layer)
    if class_name != "InputLayer":
        cfg = {
            k: v
            for k, v in cfg.items()
            if k not in ("batch_input_shape", "input_shape")
        }
        if class_name == "Embedding" and cfg.get("input_length", 0) is None:
            cfg.pop("input_length")
    result: dict[str, Any] = {
        "module": "keras.layers",
        "class_name": class_name,
        "config": _layer_config(cfg, class_name),
        "registered_name": None,
    }
    for key in ("name", "inbound_nodes"):
        if key in layer:
            result[key] = layer[key]
    return result


def _model(model: dict[str, Any], class_name: str) -> dict[str, Any]:
    cfg = model.get("config")
    if isinstance(cfg, list):  # Keras < 2.2 Sequential
        cfg = {"name": "sequential", "layers": cfg}
    cfg = dict(cfg or {})
    layers: list[dict[str, Any]] = []
    for sub in cfg.get("layers") or []:
        sub_cfg = layer_config(sub)
        if (
            class_name == "Sequential"
            and not layers
            and sub.get("class_name") != "InputLayer"
            and isinstance(sub_cfg.get("batch_input_shape"), list)
        ):
            layers.append(
                _input_layer(
                    f"{sub_cfg.get('name', 'layer')}_input",
                    sub_cfg["batch_input_shape"],
                    sub_cfg.get("dtype"),
                )
            )
        layers.append(_layer(sub))
    new_cfg: dict[str, Any] = {"name": cfg.get("name")}
    if "trainable" in cfg:
        new_cfg["trainable"] = cfg["trainable"]
    for key, value in cfg.items():
        if key in ("name", "trainable"):
            continue
        new_cfg[key] = layers if key == "layers" else value
    if class_name == "Functional":
        module, registered = "keras.src.models.functional", "Functional"
    else:
        module, registered = "keras", None
    result: dict[str, Any] = {
        "module": module,
        "class_name": class_name,
        "config": new_cfg,
        "registered_name": registered,
    }
    for key in ("name", "inbound_nodes"):
        if key in model:
            result[key] = model[key]
    return result


def _renumber_nested_nodes(model: dict[str, Any]) -> None:
    """Make node indices of nested models 0-based, as Keras 3 counts them (recursively)."""
    if model.get("class_name") not in ("Sequential", "Functional"):
        return
    cfg = model.get("config") or {}
    layers = cfg.get("layers") or []
    for layer in layers:
        _renumber_nested_nodes(layer)
    if model.get("class_name") != "Functional":
        return
    shifted = {name for name, offset in nested_node_offsets(model).items() if offset}
    shift_refs(layers, cfg, shifted)


def keras3_config(model_config: dict[str, Any]) -> dict[str, Any]:
    """The Keras 3 ``config.json`` content for a Keras 2 style model config."""
    config = json.loads(json.dumps(model_config))
    class_name = keras3_class(config)
    if class_name not in ("Sequential", "Functional"):
        raise UnsupportedModelError(
            f"the top of the model config is a {class_name}, not a Sequential or Functional model"
        )
    drop_refused_keys(config)
    result = _model(config, class_name)
    _renumber_nested_nodes(result)
    result["compile_config"] = None
    return result
