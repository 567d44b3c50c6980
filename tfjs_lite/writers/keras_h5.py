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

Layout written (docs/formats.md §8.1)::

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfjs_lite.errors import ModelFormatError, UnsupportedModelError

# Which layer owns which weight, and the config fixes for Keras 3, live in their own modules; they
# are re-exported here for the callers that import them with the HDF5 writer.
from tfjs_lite.keras.compat import keras3_compatible_config, nested_node_offsets
from tfjs_lite.keras.layers import RNN_CELLS, model_layers
from tfjs_lite.keras.manifest_weights import LayerWeights, assign_weights

__all__ = [
    "HDF5_OBJECT_HEADER_LIMIT",
    "KERAS2_VERSION",
    "LayerWeights",
    "assign_weights",
    "h5_value",
    "keras2_version",
    "keras3_compatible_config",
    "model_layers",
    "nested_node_offsets",
    "new_group",
    "write_keras_h5",
]

# What tf_keras 2.19 writes; used when the topology does not carry a Keras 2 version.
KERAS2_VERSION = "2.19.0"
HDF5_OBJECT_HEADER_LIMIT = 64512

def keras2_version(version: str | None) -> str:
    """The topology's Keras version when it is a Keras 2 one, else :data:`KERAS2_VERSION`."""
    if version and re.fullmatch(r"2\.\d+(\.\d+)?\S*", version):
        return version
    return KERAS2_VERSION


def _h5_weight_name(layer: LayerWeights, name: str) -> str:
    """The Keras 2 variable name for a manifest weight (``lstm/kernel`` → ``lstm/lstm_cell/kernel:0``)."""
    cell = RNN_CELLS.get(layer.class_name, (None, None))[1]
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


def h5_value(name: str, value: np.ndarray) -> np.ndarray:
    value = np.asarray(value)
    if value.dtype == object or value.dtype.kind in "SU":
        raise UnsupportedModelError(
            f"weight {name!r} holds strings, which a Keras HDF5 file cannot hold"
        )
    if value.dtype == np.float64:
        value = value.astype(np.float32)
    return np.ascontiguousarray(value)


def h5_text(text: Any, what: str) -> bytes:
    """``text`` (a name from the input) as the UTF-8 bytes of an HDF5 attribute string.

    Names come from the input model: a lone surrogate cannot be encoded and a NUL cannot be
    stored, so both are refused here, where every name passes on its way into HDF5."""
    if not isinstance(text, str):
        raise ModelFormatError(f"{what} {text!r} is not a string")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise ModelFormatError(f"{what} {text!r} is not valid Unicode (it holds a lone surrogate)") from None
    if b"\x00" in data:
        raise ModelFormatError(f"{what} {text!r} holds a NUL character, which HDF5 cannot store")
    return data


def h5_key(name: Any, what: str) -> bytes:
    """``name`` checked as an HDF5 path: every '/'-separated part non-empty and not '.' or '..'."""
    data = h5_text(name, what)
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise ModelFormatError(
            f"{what} {name!r} cannot be an HDF5 group or dataset name (an empty, '.' or '..' part)")
    return data


def new_group(parent: Any, name: str, what: str = "layer name") -> Any:
    import h5py

    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    gid = h5py.h5g.create(parent.id, h5_key(name, what), gcpl=gcpl)
    return h5py.Group(gid)


def _group_path(parent: Any, path: str) -> tuple[Any, str]:
    """Create the intermediate groups of ``path`` (no timestamps); return (group, last segment)."""
    h5_key(path, "weight name")
    *dirs, leaf = path.split("/")
    group = parent
    for d in dirs:
        group = group[d] if d in group else new_group(group, d)
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
        root = new_group(f, "model_weights")
        _chunked_attr(
            root.attrs, "layer_names", [h5_key(x.name, "layer name") for x in layers]
        )
        root.attrs["backend"] = backend.encode("utf-8")
        root.attrs["keras_version"] = keras_version.encode("utf-8")
        seen: dict[str, str] = {}
        for layer in sorted(layers, key=lambda x: x.name):
            if layer.name in seen:
                raise ModelFormatError(f"two layers are named {layer.name!r}")
            seen[layer.name] = layer.name
            # A "/" in a layer name (DenseNet's conv1/conv) nests the group, as Keras writes it.
            parent, leaf = _group_path(root, layer.name)
            group = parent[leaf] if leaf in parent else new_group(parent, leaf)
            names = [_h5_weight_name(layer, n) for n, _ in layer.weights]
            if len(set(names)) != len(names):
                raise ModelFormatError(
                    f"layer {layer.name!r} has two weights of the same name"
                )
            _chunked_attr(
                group.attrs, "weight_names", [h5_key(n, "weight name") for n in names]
            )
            for h5_name, (manifest_name, value) in zip(names, layer.weights):
                data = h5_value(manifest_name, value)
                parent, leaf = _group_path(group, h5_name)
                parent.create_dataset(leaf, data=data, track_times=False)
        top = new_group(root, "top_level_model_weights")
        _chunked_attr(top.attrs, "weight_names", [])
