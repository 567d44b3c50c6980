"""Read Keras HDF5 files: full models and weights-only files, tf.keras 2 and Keras 3 "legacy h5".

Layouts (see docs/tf_formats.md §4.1–4.2):

* full model: root attrs ``keras_version``, ``backend``, ``model_config`` (JSON) and optionally
  ``training_config``; weights under ``model_weights/<layer>/`` listed by the attr ``weight_names``.
* legacy weights-only (``save_weights("x.h5")``): the ``model_weights`` content at the root, with
  a root attr ``layer_names``.
* Keras-v3 weights-only (``save_weights("x.weights.h5")``): ``layers/<snake_class>/vars/<i>``, no attrs.

Long attribute lists are split by Keras into ``name0``, ``name1``, ...; attrs are ``str`` or ``bytes``.
h5py reports broken files with OSError/KeyError/ValueError/TypeError; every such failure is turned
into a one-line :class:`ModelFormatError` naming the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional, Union

import h5py
import numpy as np

from tfjs_lite.errors import ModelFormatError

__all__ = [
    "H5_ERRORS",
    "H5Weight",
    "KerasH5",
    "open_h5",
    "read_attr_list",
    "read_json_attr",
    "read_keras_h5",
    "read_str_attr",
]

# What h5py raises on damaged files, missing objects or attrs of unexpected types.
H5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError)


@dataclass
class H5Weight:
    """One stored weight: the name Keras gave it and its (lazily read) dataset."""

    name: str
    dataset: h5py.Dataset

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.dataset.shape)


@dataclass
class KerasH5:
    """What a Keras HDF5 file holds. ``layers`` keeps the official converter's iteration order."""

    path: Path
    kind: str  # "model" | "weights" (legacy save_weights) | "weights_v3" (layers/<x>/vars layout)
    keras_version: Optional[str] = None
    backend: Optional[str] = None
    model_config: Optional[dict[str, Any]] = None
    training_config: Optional[Any] = None
    # (layer group name, weights) in h5py order of model_weights (model files) or layer_names order.
    layers: list[tuple[str, list[H5Weight]]] = field(default_factory=list)
    layer_names: list[str] = field(default_factory=list)
    root: Optional[h5py.Group] = None

    @property
    def is_keras3(self) -> bool:
        return bool(self.keras_version) and not str(self.keras_version).startswith(("1.", "2."))


def _decode(value: Any) -> Any:
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8")
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO" and value.ndim == 0:
        return _decode(value.item())
    return value


def read_str_attr(obj: Union[h5py.Group, h5py.Dataset], name: str) -> Optional[str]:
    """A string attribute (``str`` or ``bytes`` in the file), or None when absent."""
    if name not in obj.attrs:
        return None
    value = _decode(obj.attrs[name])
    if not isinstance(value, str):
        raise ModelFormatError(f"attribute {name!r} of {obj.name} is not a string", path=obj.file.filename)
    return value


def read_attr_list(obj: Union[h5py.Group, h5py.Dataset], name: str) -> Optional[list[str]]:
    """A list-of-strings attribute, joining Keras's ``name0``, ``name1``, ... chunks. None if absent."""
    if name in obj.attrs:
        chunks = [obj.attrs[name]]
    elif f"{name}0" in obj.attrs:
        chunks = []
        while f"{name}{len(chunks)}" in obj.attrs:
            chunks.append(obj.attrs[f"{name}{len(chunks)}"])
    else:
        return None
    items: list[str] = []
    for chunk in chunks:
        array = np.asarray(chunk)
        if array.size == 0:  # Keras stores an empty list as float64 shape (0,)
            continue
        for item in array.reshape(-1).tolist():
            item = _decode(item)
            if not isinstance(item, str):
                raise ModelFormatError(f"attribute {name!r} of {obj.name} is not a list of strings")
            items.append(item)
    return items


def read_json_attr(obj: h5py.Group, name: str, path: Path) -> Optional[Any]:
    text = read_str_attr(obj, name)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as e:
        raise ModelFormatError(f"the {name} attribute is not valid JSON ({e})", path=path) from None


@contextmanager
def open_h5(source: Union[Path, IO[bytes]], path: Path) -> Iterator[h5py.File]:
    """Open an HDF5 file (a path or a seekable binary file object) read-only; errors name ``path``."""
    try:
        handle = h5py.File(source, "r")
    except H5_ERRORS as e:
        raise ModelFormatError(f"not a readable HDF5 file ({_reason(e)})", path=path) from None
    try:
        yield handle
    finally:
        handle.close()


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:200] or type(error).__name__


def _layer_weights(group: h5py.Group, path: Path) -> list[H5Weight]:
    """Weights of one layer group, as the official ``_convert_h5_group`` finds them."""
    names = read_attr_list(group, "weight_names")
    if names is None:
        weights: list[H5Weight] = []
        for key in group:
            child = group[key]
            if isinstance(child, h5py.Group):
                weights.extend(_layer_weights(child, path))
        return weights
    weights = []
    for name in names:
        try:
            dataset = group[name]
        except KeyError:
            raise ModelFormatError(
                f"layer {group.name.split('/')[-1]!r} lists weight {name!r} but the file has no such dataset",
                path=path,
            ) from None
        if not isinstance(dataset, h5py.Dataset):
            raise ModelFormatError(f"weight {name!r} of {group.name} is not a dataset", path=path)
        weights.append(H5Weight(name=name, dataset=dataset))
    return weights


def read_keras_h5(handle: h5py.File, path: Path) -> KerasH5:
    """Describe an open Keras HDF5 file. Datasets stay lazy (read when the weights are written)."""
    try:
        return _read(handle, path)
    except H5_ERRORS as e:
        raise ModelFormatError(f"damaged HDF5 file ({_reason(e)})", path=path) from None


def _read(handle: h5py.File, path: Path) -> KerasH5:
    layer_names = read_attr_list(handle, "layer_names")
    if layer_names is not None:
        info = KerasH5(
            path=path,
            kind="weights",
            keras_version=read_str_attr(handle, "keras_version"),
            backend=read_str_attr(handle, "backend"),
            layer_names=layer_names,
            root=handle,
        )
        for name in layer_names:
            if name not in handle:
                raise ModelFormatError(f"layer_names lists {name!r} but the file has no such group", path=path)
            info.layers.append((name, _layer_weights(handle[name], path)))
        return info
    if "model_config" not in handle.attrs:
        if "layers" in handle and isinstance(handle["layers"], h5py.Group):
            return KerasH5(path=path, kind="weights_v3", root=handle)
        raise ModelFormatError(
            "HDF5 file has no model_config and no layer_names: not a Keras model or weights file", path=path
        )
    config = read_json_attr(handle, "model_config", path)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelFormatError("model_config is not a Keras model config (no class_name)", path=path)
    info = KerasH5(
        path=path,
        kind="model",
        keras_version=read_str_attr(handle, "keras_version"),
        backend=read_str_attr(handle, "backend"),
        model_config=config,
        training_config=read_json_attr(handle, "training_config", path),
        root=handle,
    )
    if "model_weights" not in handle:
        raise ModelFormatError("the model file has no model_weights group", path=path)
    weights_group = handle["model_weights"]
    info.layer_names = read_attr_list(weights_group, "layer_names") or []
    # h5py iterates groups in name order: the official converter's (alphabetical) layer order.
    for name in weights_group:
        child = weights_group[name]
        if isinstance(child, h5py.Group):
            info.layers.append((name, _layer_weights(child, path)))
    return info
