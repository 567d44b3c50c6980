"""Write a Keras 3 ``.keras`` archive from a Keras 2 style topology (as in a TF.js layers model) and weights.

Archive members (``tf_formats.md`` §4.3), stored uncompressed (ZIP_STORED) with a fixed timestamp:

* ``metadata.json``: ``{"keras_version": "3.15.1", "date_saved": <fixed>}``;
* ``config.json``: the model config in Keras 3 form: every object as
  ``{"module", "class_name", "config", "registered_name"}``, layer dtypes as ``DTypePolicy``,
  InputLayer ``batch_shape``, single-element ``axis`` lists as ints. Functional wiring keeps the
  Keras 2 list form (``[[["d1", 0, 0, {}]]]``), which Keras 3 still reads; node indices of nested
  models are renumbered from 0 as Keras 3 counts them;
* ``model.weights.h5``: each object's own variables at ``<path>/vars/<i>``, where the path of a
  layer is ``layers/<snake_case class name>[_k]`` in ``model.layers`` order, RNN cells under
  ``cell``, Bidirectional halves under ``forward_layer``/``backward_layer``, TimeDistributed's
  layer under ``layer``, nested models recursing into their own ``layers``.

Everything is deterministic: same input, same bytes.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError
from tfjs_lite.report import Report
from tfjs_lite.writers.keras_h5 import (
    LayerWeights,
    _drop_refused_keys,
    _h5_value,
    _new_group,
    _shift_refs,
    expected_weight_count,
    layer_name,
    model_layers,
    nested_node_offsets,
)

__all__ = ["DATE_SAVED", "KERAS3_VERSION", "keras3_config", "write_keras_archive"]

KERAS3_VERSION = "3.15.1"
# A fixed save date keeps the archive byte-identical from run to run.
DATE_SAVED = "1980-01-01@00:00:00"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

_CLASS_RENAMES = {
    "Model": "Functional",
    "BatchNormalizationV1": "BatchNormalization",
    "BatchNormalizationV2": "BatchNormalization",
    "UnifiedGRU": "GRU",
    "UnifiedLSTM": "LSTM",
}
_RNN_CELL_NAMES = {
    "LSTM": "lstm_cell",
    "GRU": "gru_cell",
    "SimpleRNN": "simple_rnn_cell",
}
_OBJECT_MODULES = (
    ("_initializer", "keras.initializers"),
    ("_regularizer", "keras.regularizers"),
    ("_constraint", "keras.constraints"),
)


def to_snake_case(name: str) -> str:
    """Keras 3's ``naming.to_snake_case`` (``PReLU`` → ``p_re_lu``)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


# ------------------------------------------------------------------------------------------------
# Config: Keras 2 → Keras 3


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
    class_name = _CLASS_RENAMES.get(
        str(layer.get("class_name")), str(layer.get("class_name"))
    )
    if class_name in ("Sequential", "Functional"):
        return _model(layer, class_name)
    cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
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
    for i, sub in enumerate(cfg.get("layers") or []):
        sub_cfg = sub.get("config") if isinstance(sub.get("config"), dict) else {}
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
    _shift_refs(layers, cfg, shifted)


def keras3_config(model_config: dict[str, Any]) -> dict[str, Any]:
    """The Keras 3 ``config.json`` content for a Keras 2 style model config."""
    config = json.loads(json.dumps(model_config))
    class_name = _CLASS_RENAMES.get(
        str(config.get("class_name")), str(config.get("class_name"))
    )
    if class_name not in ("Sequential", "Functional"):
        raise UnsupportedModelError(
            f"the top of the model config is a {class_name}, not a Sequential or Functional model"
        )
    _drop_refused_keys(config)
    result = _model(config, class_name)
    _renumber_nested_nodes(result)
    result["compile_config"] = None
    return result


# ------------------------------------------------------------------------------------------------
# Weights: model.weights.h5


def _split_nested(
    layer: dict[str, Any], weights: list[tuple[str, np.ndarray]]
) -> list[list[tuple[str, np.ndarray]]]:
    """Share a nested model's weights among its ``layers`` (by the layer names inside the weight names)."""
    from tfjs_lite.writers.keras_h5 import _owned_names

    subs = model_layers(layer)
    owner: dict[str, int] = {}
    for i, sub in enumerate(subs):
        owner.setdefault(layer_name(sub), i)
    for i, sub in enumerate(subs):
        for name in _owned_names(sub)[1:]:
            owner.setdefault(name, i)
    parts: list[list[tuple[str, np.ndarray]]] = [[] for _ in subs]
    own = layer_name(layer)
    for name, value in weights:
        segments = name.split("/")
        if len(segments) > 1 and segments[0] == own and segments[1] in owner:
            index = owner[segments[1]]
        else:
            index = next((owner[s] for s in segments[:-1] if s in owner), None)  # type: ignore[arg-type]
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
        for part in path.split("/"):
            node = node[part] if part in node else _new_group(node, part)
        return node

    def vars(
        self, path: str, name: str, weights: Sequence[tuple[str, np.ndarray]]
    ) -> None:
        group = self.group(f"{path}/vars" if path else "vars")
        group.attrs["name"] = name
        for i, (weight_name, value) in enumerate(weights):
            group.create_dataset(
                str(i), data=_h5_value(weight_name, value), track_times=False
            )

    def layer(
        self, path: str, layer: dict[str, Any], weights: list[tuple[str, np.ndarray]]
    ) -> None:
        class_name = _CLASS_RENAMES.get(
            str(layer.get("class_name")), str(layer.get("class_name"))
        )
        name = layer_name(layer)
        cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
        if class_name in ("Sequential", "Functional"):
            self.container(
                f"{path}/layers", model_layers(layer), _split_nested(layer, weights)
            )
            self.vars(path, name, [])
        elif class_name in _RNN_CELL_NAMES:
            self.vars(f"{path}/cell", _RNN_CELL_NAMES[class_name], weights)
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
            class_name = _CLASS_RENAMES.get(
                str(layer.get("class_name")), str(layer.get("class_name"))
            )
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
