"""Write a Keras 2 HDF5 full model (``model.save("m.h5")`` layout of tf_keras 2.19) from a topology + weights.

The file loads in tf_keras 2.x ``load_model`` and in Keras 3's legacy HDF5 loader. Both load
weights *positionally*: the i-th layer of ``model.layers`` that has weights takes the i-th saved
layer whose ``weight_names`` is non-empty, and its weights in ``weight_names`` order
(``trainable + non_trainable``, the "legacy" order). So this writer needs two things from the
TF.js weights manifest:

* which layer of ``model.layers`` owns each weight: the first segment of the weight name is the
  layer name, or the name of a layer nested inside it (nested models, wrappers); and
* the order of a layer's weights: kept from the manifest, which lists each layer's weights in
  the Keras order (the official converter copies ``weight_names``; tfjs-layers saves
  ``trainableWeights`` then ``nonTrainableWeights``).

Layout written (``tf_formats.md`` §4.1)::

    /                      attrs keras_version (str), backend (str), model_config (JSON bytes)
    /model_weights         attrs layer_names, backend, keras_version (bytes)
    /model_weights/<layer> attrs weight_names = ["<name>:0", …]
    /model_weights/<layer>/<name>:0   the dataset (its "/" make subgroups)
    /model_weights/top_level_model_weights  attrs weight_names = []

The bytes are deterministic: no timestamps (``track_times=False``), fixed creation order, and the
attribute lists chunked like Keras does above 64512 bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError

__all__ = [
    "HDF5_OBJECT_HEADER_LIMIT",
    "KERAS2_VERSION",
    "LayerWeights",
    "assign_weights",
    "keras2_version",
    "keras3_compatible_config",
    "model_layers",
    "nested_node_offsets",
    "write_keras_h5",
]

# What tf_keras 2.19 writes; used when the topology does not carry a Keras 2 version.
KERAS2_VERSION = "2.19.0"
HDF5_OBJECT_HEADER_LIMIT = 64512

_MODEL_CLASSES = ("Sequential", "Functional", "Model")
_WRAPPER_CLASSES = ("Bidirectional", "TimeDistributed")
_RNN_CELLS = {"LSTM": "lstm_cell", "GRU": "gru_cell", "SimpleRNN": "simple_rnn_cell"}


@dataclass
class LayerWeights:
    """One entry of ``model.layers`` and the weights it owns, in load order."""

    name: str
    class_name: str
    config: dict[str, Any]
    weights: list[tuple[str, np.ndarray]]  # (manifest name, value)


# ------------------------------------------------------------------------------------------------
# Topology helpers (shared with the .keras writer)


def is_model_class(layer: dict[str, Any]) -> bool:
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


def _owned_names(layer: dict[str, Any]) -> list[str]:
    """Names that may start the weight names of ``layer``: its own and those of layers inside it."""
    names = [layer_name(layer)]
    if is_model_class(layer):
        for sub in model_layers(layer):
            names.extend(_owned_names(sub))
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
    if cls in _RNN_CELLS:
        return 2 + bias
    if cls == "Bidirectional":
        inner = _inner_layer(layer)
        n = expected_weight_count(inner) if inner else None
        return None if n is None else 2 * n
    if cls in (
        "InputLayer",
        "Dropout",
        "Flatten",
        "Reshape",
        "Permute",
        "Activation",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "Softmax",
        "MaxPooling1D",
        "MaxPooling2D",
        "MaxPooling3D",
        "AveragePooling1D",
        "AveragePooling2D",
        "AveragePooling3D",
        "GlobalAveragePooling1D",
        "GlobalAveragePooling2D",
        "GlobalMaxPooling1D",
        "GlobalMaxPooling2D",
        "Concatenate",
        "Add",
        "Subtract",
        "Multiply",
        "Average",
        "Maximum",
        "Minimum",
        "Dot",
        "ZeroPadding1D",
        "ZeroPadding2D",
        "ZeroPadding3D",
        "UpSampling1D",
        "UpSampling2D",
        "UpSampling3D",
        "Cropping1D",
        "Cropping2D",
        "Cropping3D",
        "RepeatVector",
        "Masking",
        "GaussianNoise",
        "GaussianDropout",
        "AlphaDropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "ThresholdedReLU",
    ):
        return 0
    return None


def assign_weights(
    model_config: dict[str, Any], weights: Sequence[tuple[str, np.ndarray]]
) -> list[LayerWeights]:
    """Give every manifest weight to the entry of ``model.layers`` that owns it.

    A weight ``a/b/c`` belongs to the layer named ``a``, or to the top-level layer that contains
    a layer named ``a`` (nested models, Bidirectional/TimeDistributed). Within a layer the
    manifest order is kept.

    Raises:
        ModelFormatError: a weight that no layer owns, or a layer whose weight count is wrong.
    """
    layers = model_layers(model_config)
    result = [
        LayerWeights(layer_name(x), str(x.get("class_name")), x, []) for x in layers
    ]
    owner: dict[str, int] = {}
    for i, layer in enumerate(
        layers
    ):  # top-level names first: they win over nested ones
        owner.setdefault(result[i].name, i)
    for i, layer in enumerate(layers):
        for name in _owned_names(layer)[1:]:
            owner.setdefault(name, i)
    for name, value in weights:
        first = name.split("/", 1)[0]
        index = owner.get(first)
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


# Keys tf_keras 2.x writes that Keras 3 refuses ("Unrecognized keyword arguments"), with the
# condition under which dropping them changes nothing for tf_keras (None: always).
_KERAS3_REFUSED_KEYS: dict[str, list[tuple[str, Any]]] = {
    "DepthwiseConv1D": [("groups", 1)],
    "DepthwiseConv2D": [("groups", 1)],
    "SeparableConv1D": [
        ("groups", 1),
        ("kernel_initializer", None),
        ("kernel_regularizer", None),
        ("kernel_constraint", None),
    ],
    "SeparableConv2D": [
        ("groups", 1),
        ("kernel_initializer", None),
        ("kernel_regularizer", None),
        ("kernel_constraint", None),
    ],
    "Conv1DTranspose": [("groups", 1)],
    "Conv2DTranspose": [("groups", 1)],
    "Conv3DTranspose": [("groups", 1)],
    "LSTM": [("time_major", False)],
    "GRU": [("time_major", False)],
    "SimpleRNN": [("time_major", False)],
}


# Keys Keras 3 writes that tf_keras 2.x refuses, dropped when they hold Keras' default (which
# is what tf_keras does anyway), for any class.
_TF_KERAS_REFUSED_KEYS: dict[str, Any] = {
    "quantization_config": None,
    "lora_rank": None,
    "lora_alpha": None,
    "input_axes": None,
    "output_axes": None,
    "rms_scaling": False,
    "optional": False,
}


def _drop_keras3_only_keys(obj: Any) -> None:
    if isinstance(obj, list):
        for item in obj:
            _drop_keras3_only_keys(item)
        return
    if not isinstance(obj, dict):
        return
    cfg = obj.get("config")
    if isinstance(obj.get("class_name"), str) and isinstance(cfg, dict):
        for key, default in _TF_KERAS_REFUSED_KEYS.items():
            if (
                key in cfg
                and cfg[key] == default
                and (default is not None or cfg[key] is None)
            ):
                del cfg[key]
    for value in obj.values():
        _drop_keras3_only_keys(value)


def keras3_compatible_config(
    model_config: dict[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """A copy of a Keras 2 model config that Keras 3's legacy loader accepts as well as tf_keras.

    * drops keys Keras 3 refuses where tf_keras' default is the same value
      (``groups=1`` of depthwise/separable convolutions, ``time_major=False`` of RNNs, the unused
      ``kernel_*`` of SeparableConv);
    * reports nested models built on an Input: tf_keras (and tfjs-layers) number the calls of
      such a model from 1 (node 0 is its own graph), Keras 3 from 0, so the legacy loader of Keras 3
      cannot wire them; the ``.keras`` writer renumbers them instead;
    * drops Keras 3 keys tf_keras refuses when they hold the default (``quantization_config``,
      initializers' ``input_axes``/``output_axes`` …), for topologies that came from Keras 3.

    Returns:
        The new config and a list of what could not be made compatible (empty when all is well).
    """
    config = json.loads(json.dumps(model_config))
    problems: list[str] = []
    _drop_refused_keys(config)
    _drop_keras3_only_keys(config)
    _nested_model_problems(config, problems)
    return config, problems


def _drop_refused_keys(obj: Any) -> None:
    if isinstance(obj, list):
        for item in obj:
            _drop_refused_keys(item)
        return
    if not isinstance(obj, dict):
        return
    cfg = obj.get("config")
    if isinstance(obj.get("class_name"), str) and isinstance(cfg, dict):
        for key, when in _KERAS3_REFUSED_KEYS.get(obj["class_name"], []):
            if key in cfg and (when is None or cfg[key] == when or cfg[key] is None):
                del cfg[key]
    for value in obj.values():
        _drop_refused_keys(value)


def _node_refs(obj: Any) -> Iterator[list[Any]]:
    """``[layer name, node index, tensor index(, kwargs)]`` leaves of inbound_nodes / output_layers."""
    if isinstance(obj, list):
        if (
            len(obj) >= 3
            and isinstance(obj[0], str)
            and isinstance(obj[1], int)
            and isinstance(obj[2], int)
        ):
            yield obj
            return
        for item in obj:
            yield from _node_refs(item)


def nested_node_offsets(model_config: dict[str, Any]) -> dict[str, int]:
    """For each nested model of a Functional config: 1 if its node indices start at 1, else 0.

    tf_keras does not serialize the first node of a nested model built with an Input (its own
    graph), so the outer calls are numbered from 1; Keras 3 and models saved otherwise number
    from 0. A reference to node ``len(inbound_nodes)`` or beyond tells the two apart.
    """
    cfg = (
        model_config.get("config")
        if isinstance(model_config.get("config"), dict)
        else {}
    )
    layers = cfg.get("layers") or []
    refs = [r for layer in layers for r in _node_refs(layer.get("inbound_nodes"))]
    refs += list(_node_refs(cfg.get("output_layers")))
    offsets: dict[str, int] = {}
    for layer in layers:
        if not is_model_class(layer):
            continue
        name = layer_name(layer)
        count = len(layer.get("inbound_nodes") or [])
        used = [r[1] for r in refs if r[0] == name]
        offsets[name] = 1 if used and max(used) >= count else 0
    return offsets


def _shift_refs(
    layers: list[dict[str, Any]], cfg: dict[str, Any], shifted: set
) -> None:
    for ref in [
        r for layer in layers for r in _node_refs(layer.get("inbound_nodes"))
    ] + list(_node_refs(cfg.get("output_layers"))):
        if ref[0] in shifted and ref[1] > 0:
            ref[1] -= 1


def _nested_model_problems(model_config: dict[str, Any], problems: list[str]) -> None:
    """Nested models whose node numbering only one of tf_keras / Keras 3 understands."""
    if not is_model_class(model_config):
        return
    cfg = model_config.get("config")
    if not isinstance(cfg, dict):
        return
    layers = cfg.get("layers") or []
    for layer in layers:
        if is_model_class(layer):
            _nested_model_problems(layer, problems)
    if model_config.get("class_name") == "Sequential":
        return
    for name, offset in nested_node_offsets(model_config).items():
        if offset:
            # tfjs-layers and tf_keras count the nested model's own graph as node 0; Keras 3 does not.
            problems.append(
                f"nested model {name!r}: Keras 3 numbers its nodes from 0 and cannot load it from HDF5"
            )


def keras2_version(version: str | None) -> str:
    """The topology's Keras version when it is a Keras 2 one, else :data:`KERAS2_VERSION`."""
    if version and re.fullmatch(r"2\.\d+(\.\d+)?\S*", version):
        return version
    return KERAS2_VERSION


def _h5_weight_name(layer: LayerWeights, name: str) -> str:
    """The Keras 2 variable name for a manifest weight (``lstm/kernel`` → ``lstm/lstm_cell/kernel:0``)."""
    cell = _RNN_CELLS.get(layer.class_name)
    parts = name.split("/")
    if cell and len(parts) == 2 and parts[0] == layer.name:
        name = f"{parts[0]}/{cell}/{parts[1]}"
    return name + ":0"


# ------------------------------------------------------------------------------------------------
# HDF5 writing


def _chunked_attr(attrs: Any, name: str, values: list[bytes]) -> None:
    """Store a list of bytes like Keras' ``save_attributes_to_hdf5_group`` (chunked when large)."""
    data = np.asarray(values)
    if data.size and max(len(v) for v in values) > HDF5_OBJECT_HEADER_LIMIT:
        raise UnsupportedModelError(
            f"a name in {name} is longer than {HDF5_OBJECT_HEADER_LIMIT} bytes"
        )
    num_chunks = 1
    chunks = np.array_split(data, num_chunks)
    while any(c.nbytes > HDF5_OBJECT_HEADER_LIMIT for c in chunks):
        num_chunks += 1
        chunks = np.array_split(data, num_chunks)
    if num_chunks > 1:
        for i, chunk in enumerate(chunks):
            attrs[f"{name}{i}"] = chunk
    else:
        attrs[name] = data


def _h5_value(name: str, value: np.ndarray) -> np.ndarray:
    value = np.asarray(value)
    if value.dtype == object or value.dtype.kind in "SU":
        raise UnsupportedModelError(
            f"weight {name!r} holds strings, which a Keras HDF5 file cannot hold"
        )
    if value.dtype == np.float64:
        value = value.astype(np.float32)
    return np.ascontiguousarray(value)


def _new_group(parent: Any, name: str) -> Any:
    import h5py

    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    gid = h5py.h5g.create(parent.id, name.encode("utf-8"), gcpl=gcpl)
    return h5py.Group(gid)


def _group_path(parent: Any, path: str) -> tuple[Any, str]:
    """Create the intermediate groups of ``path`` (no timestamps); return (group, last segment)."""
    *dirs, leaf = path.split("/")
    group = parent
    for d in dirs:
        group = group[d] if d in group else _new_group(group, d)
    return group, leaf


def write_keras_h5(
    path: Path,
    model_config: dict[str, Any],
    layers: Sequence[LayerWeights],
    *,
    keras_version: str = KERAS2_VERSION,
    backend: str = "tensorflow",
) -> None:
    """Write the full-model HDF5 file at ``path`` (overwritten)."""
    import h5py

    config_json = json.dumps(model_config).encode("utf-8")
    with h5py.File(path, "w", libver="earliest", track_order=False) as f:
        f.attrs["keras_version"] = keras_version
        f.attrs["backend"] = backend
        f.attrs["model_config"] = config_json
        root = _new_group(f, "model_weights")
        _chunked_attr(
            root.attrs, "layer_names", [x.name.encode("utf-8") for x in layers]
        )
        root.attrs["backend"] = backend.encode("utf-8")
        root.attrs["keras_version"] = keras_version.encode("utf-8")
        seen: dict[str, str] = {}
        for layer in sorted(layers, key=lambda x: x.name):
            if layer.name in seen:
                raise ModelFormatError(f"two layers are named {layer.name!r}")
            seen[layer.name] = layer.name
            group = _new_group(root, layer.name)
            names = [_h5_weight_name(layer, n) for n, _ in layer.weights]
            if len(set(names)) != len(names):
                raise ModelFormatError(
                    f"layer {layer.name!r} has two weights of the same name"
                )
            _chunked_attr(
                group.attrs, "weight_names", [n.encode("utf-8") for n in names]
            )
            for h5_name, (manifest_name, value) in zip(names, layer.weights):
                data = _h5_value(manifest_name, value)
                parent, leaf = _group_path(group, h5_name)
                parent.create_dataset(leaf, data=data, track_times=False)
        top = _new_group(root, "top_level_model_weights")
        _chunked_attr(top.attrs, "weight_names", [])
