"""Read Keras HDF5 files: full models and weights-only files, tf.keras 2 and Keras 3 "legacy h5".

Layouts (see docs/formats.md §8.1–8.2):

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
from tfjs_lite.keras.config import is_keras3
from tfjs_lite.keras.validate import validate_model_config
from tfjs_lite.safe_io import regular_file

__all__ = [
    "H5_ERRORS",
    "H5Weight",
    "KerasH5",
    "check_weight_dataset",
    "hard_get",
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
        shape = self.dataset.shape
        if shape is None:  # a null dataspace (refused by check_weight_dataset; kept safe here)
            raise ModelFormatError(f"weight {self.name!r} has no shape (an HDF5 null dataspace)")
        return tuple(int(d) for d in shape)


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
    if not hasattr(source, "read"):
        source = regular_file(source, what="HDF5 file")  # never hand h5py a FIFO or device
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


# Compressed (filtered) datasets may inflate, but not beyond this ratio once they declare more
# than _BOMB_MIN_BYTES: no real weight tensor compresses 1000:1, a decompression bomb does.
_MAX_COMPRESSION_RATIO = 1000
_BOMB_MIN_BYTES = 64 * 1024**2


def hard_get(group: h5py.Group, name: str, path: Path) -> Any:
    """``group[name]`` following hard links only.

    Every component of ``name`` is checked: an external link (another file), a soft link or a
    user-defined link is refused with a ModelFormatError; a missing one raises KeyError.
    """
    parts = [p for p in name.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        # A name from the file meaning "this group" or "the parent" would read the wrong object.
        raise ModelFormatError(f"{group.name}: the name {name!r} does not name an object below it", path=path)
    obj: Any = group.file if name.startswith("/") else group
    for part in parts:
        if not isinstance(obj, h5py.Group):
            raise KeyError(name)
        link = obj.get(part, getlink=True)
        if link is None:
            raise KeyError(name)
        if not isinstance(link, h5py.HardLink):
            kind = "an external link to another file" if isinstance(link, h5py.ExternalLink) else "a soft link"
            where = f"{obj.name.rstrip('/')}/{part}"
            raise ModelFormatError(f"{where} is {kind}; only objects stored in the file itself are read", path=path)
        obj = obj[part]
    return obj


def check_weight_dataset(dataset: h5py.Dataset, name: str, path: Path) -> None:
    """Refuse a weight dataset whose data is not in the file or whose declared size is implausible.

    * virtual datasets and datasets with external raw storage read other files;
    * a null dataspace has no shape;
    * an unfiltered dataset must store all the bytes it declares (a chunked dataset whose chunks
      were never written declares GiBs in a file of KBs); a compressed one may not declare more
      than :data:`_MAX_COMPRESSION_RATIO` times what it stores once above 64 MiB.
    """
    if dataset.is_virtual:
        raise ModelFormatError(f"weight {name!r} is a virtual dataset (its data is in other files)", path=path)
    plist = dataset.id.get_create_plist()
    if plist.get_external_count() > 0:
        raise ModelFormatError(f"weight {name!r} keeps its data in an external file", path=path)
    if dataset.shape is None:
        raise ModelFormatError(f"weight {name!r} has no shape (an HDF5 null dataspace)", path=path)
    if dataset.dtype.kind not in "biufc":
        return  # strings, compounds, ...: refused by the weight checks, nothing to size here
    declared = int(dataset.size) * dataset.dtype.itemsize
    stored = int(dataset.id.get_storage_size())
    if plist.get_nfilters() == 0:
        if stored < declared:
            raise ModelFormatError(
                f"weight {name!r} declares {declared} bytes but the file stores only {stored} of them", path=path
            )
    elif declared > _BOMB_MIN_BYTES and declared > _MAX_COMPRESSION_RATIO * stored:
        raise ModelFormatError(
            f"weight {name!r} declares {declared} bytes compressed into {stored}: more than "
            f"{_MAX_COMPRESSION_RATIO}:1, refused as a likely decompression bomb",
            path=path,
        )


def _layer_weights(group: h5py.Group, path: Path) -> list[H5Weight]:
    """Weights of one layer group, as the official ``_convert_h5_group`` finds them."""
    names = read_attr_list(group, "weight_names")
    if names is None:
        weights: list[H5Weight] = []
        for key in group:
            child = hard_get(group, key, path)
            if isinstance(child, h5py.Group):
                weights.extend(_layer_weights(child, path))
        return weights
    weights = []
    for name in names:
        try:
            dataset = hard_get(group, name, path)
        except KeyError:
            raise ModelFormatError(
                f"layer {group.name.split('/')[-1]!r} lists weight {name!r} but the file has no such dataset",
                path=path,
            ) from None
        if not isinstance(dataset, h5py.Dataset):
            raise ModelFormatError(f"weight {name!r} of {group.name} is not a dataset", path=path)
        check_weight_dataset(dataset, name, path)
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
            group = hard_get(handle, name, path)
            if not isinstance(group, h5py.Group):
                raise ModelFormatError(f"layer_names lists {name!r} but it is not a group", path=path)
            info.layers.append((name, _layer_weights(group, path)))
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
    validate_model_config(config, keras3=is_keras3(read_str_attr(handle, "keras_version")))
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
    weights_group = hard_get(handle, "model_weights", path)
    if not isinstance(weights_group, h5py.Group):
        raise ModelFormatError("model_weights is not a group", path=path)
    info.layer_names = read_attr_list(weights_group, "layer_names") or []
    info.layers = _layer_groups(weights_group, "", _layer_prefixes(info.layer_names), path)
    return info


def _layer_prefixes(layer_names: list[str]) -> dict[str, bool]:
    """``{path: is a layer}`` for every layer name and every ``/``-prefix of one (``conv1`` for
    ``conv1/conv``): HDF5 turns a ``/`` in a layer name into nested groups."""
    found: dict[str, bool] = {}
    for name in layer_names:
        parts = name.split("/")
        for end in range(1, len(parts)):
            found.setdefault("/".join(parts[:end]), False)
        found[name] = True
    return found


def _layer_groups(
    group: h5py.Group, prefix: str, layers: dict[str, bool], path: Path
) -> list[tuple[str, list[H5Weight]]]:
    """``(layer name, weights)`` per layer group under ``group``, in h5py (name) order — the
    official converter's layer order.

    A layer named ``conv1/conv`` (DenseNet, MobileNetV3, ...) is stored at ``conv1/conv``: the
    group ``conv1`` is then only a path prefix (unless a layer is also named ``conv1``) and is
    walked into, so each layer keeps its own weights.  Without a ``layer_names`` list every
    top-level group is one layer, as the official converter reads it.
    """
    found: list[tuple[str, list[H5Weight]]] = []
    for key in group:
        child = hard_get(group, key, path)
        if not isinstance(child, h5py.Group):
            continue
        name = prefix + key
        is_layer = layers.get(name)
        if is_layer is None and prefix:  # a group inside a layer's group: its weights' names
            continue
        if is_layer is None or is_layer:
            found.append((name, _layer_weights(child, path) if is_layer is None else
                          _own_weights(child, path)))
        if is_layer is not None:
            found.extend(_layer_groups(child, name + "/", layers, path))
    return found


def _own_weights(group: h5py.Group, path: Path) -> list[H5Weight]:
    """The weights a listed layer group names in ``weight_names`` (none if it has no such attr)."""
    if read_attr_list(group, "weight_names") is None:
        return []
    return _layer_weights(group, path)
