"""Read a TF.js ``model.json`` and its weight shards (for reverse conversions and tests).

Each manifest group's shard files are concatenated and walked entry by entry, as TF.js does.
Quantized entries are decoded with TF.js semantics (:func:`tfjs_lite.quantization.dequantize`).

The manifest comes from a file the user handed us, so it is distrusted: shard paths must be relative
paths that stay inside the model folder (no ``..``, absolute paths, URLs or escaping symlinks), the
bytes the manifest needs must match the shard files' sizes before anything is allocated, and shapes
and dtypes are validated.
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple, Union

import numpy as np

from tfjs_lite.errors import ModelFormatError
from tfjs_lite.limits import MAX_SMALL_FILE_BYTES
from tfjs_lite.quantization import dequantize
from tfjs_lite.safe_io import open_binary, read_text, regular_file

__all__ = ["find_model_json", "read_model_json", "read_weights"]

_DTYPES = {
    "float32": np.dtype("<f4"),
    "int32": np.dtype("<i4"),
    "bool": np.dtype("?"),
    "complex64": np.dtype("<c8"),
    "uint8": np.dtype("u1"),
    "uint16": np.dtype("<u2"),
}
_QUANTIZED: dict[str, np.dtype] = {"float16": np.dtype("<f2"), "uint8": np.dtype("u1"), "uint16": np.dtype("<u2")}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def find_model_json(path: Union[str, Path]) -> Path:
    """``path`` itself if it is a file, else ``path/model.json`` (ModelFormatError when missing)."""
    path = Path(path)
    if path.is_dir():
        candidate = path / "model.json"
        if not candidate.is_file():
            raise ModelFormatError("the folder has no model.json", path=path)
        return candidate
    if not path.is_file():
        raise ModelFormatError("no such file or folder", path=path)
    return path


def read_model_json(path: Union[str, Path]) -> Dict[str, Any]:
    """Load a ``model.json`` and check it has what TF.js needs.

    Args:
        path: The ``model.json`` file.

    Returns:
        The parsed dict.

    Raises:
        ModelFormatError: Unreadable, not JSON, not an object, or without ``modelTopology`` or a
            ``weightsManifest`` list.
    """
    path = Path(path)
    text = read_text(path, root=path.parent, limit=MAX_SMALL_FILE_BYTES, what="model.json")
    try:
        model = json.loads(text, parse_constant=_reject_constant)
    except ValueError as e:
        raise ModelFormatError(f"not valid JSON: {e}", path=path) from e
    except RecursionError:
        raise ModelFormatError("not valid JSON: nested too deeply", path=path) from None
    if not isinstance(model, dict):
        raise ModelFormatError("model.json must hold a JSON object", path=path)
    missing = [k for k in ("modelTopology", "weightsManifest") if k not in model]
    if missing:
        raise ModelFormatError(
            f"not a TF.js model.json: missing {' and '.join(missing)}", path=path
        )
    if not isinstance(model["weightsManifest"], list):
        raise ModelFormatError("weightsManifest must be a list of groups", path=path)
    return model


def _reject_constant(name: str) -> Any:
    # JSON has no NaN/Infinity; TF.js's JSON.parse rejects them, so a model.json holding one is broken.
    raise ValueError(f"{name} is not a JSON value")


def read_weights(manifest: List[Dict[str, Any]], directory: Path) -> List[Tuple[Dict[str, Any], np.ndarray]]:
    """Read every weight of a ``weightsManifest``.

    Args:
        manifest: The ``weightsManifest`` list.
        directory: The folder holding ``model.json`` and the shards.

    Returns:
        ``(spec, array)`` per weight in manifest order; arrays are read-only, in the spec's
        ``dtype`` (quantized weights dequantized), strings as object arrays of ``bytes``.

    Raises:
        ModelFormatError: Malformed manifest, unsafe or missing shard paths, sizes that do not
            match the files, or unknown dtypes.
    """
    result: List[Tuple[Dict[str, Any], np.ndarray]] = []
    for group, files, available in _checked_groups(manifest, Path(directory)):
        buffer = _read_files(files, available)
        result.extend(_decode_group(group["weights"], buffer, group["paths"]))
    return result


def check_weight_files(manifest: Any, directory: Path) -> None:
    """Check a ``weightsManifest`` as :func:`read_weights` does, without reading the shards: the
    tools that hand a model folder to TF.js (bench, verify --runtime tfjs) must not let Node read a
    FIFO, a device or a file outside the folder, or trust declared sizes the files do not hold.

    Raises:
        ModelFormatError: As :func:`read_weights`.
    """
    for _ in _checked_groups(manifest, Path(directory)):
        pass


def _checked_groups(manifest: Any, directory: Path) -> Iterator[Tuple[Dict[str, Any], List[Path], int]]:
    """``(group, shard paths, their total size)`` per manifest group, each shard a regular file
    inside ``directory`` and the sizes its weights declare fitting the shards."""
    if not isinstance(manifest, list):
        raise ModelFormatError("weightsManifest must be a list of groups")
    for index, group in enumerate(manifest):
        if not isinstance(group, dict) or not isinstance(group.get("paths"), list) or not isinstance(
            group.get("weights"), list
        ):
            raise ModelFormatError(f"weightsManifest group {index} needs 'paths' and 'weights' lists")
        files = [_safe_path(directory, p) for p in group["paths"]]
        available = sum(f.stat().st_size for f in files)
        _check_sizes(group["weights"], available, group["paths"])
        yield group, files, available


def _safe_path(directory: Path, relative: Any) -> Path:
    if not isinstance(relative, str) or not relative:
        raise ModelFormatError(f"weight path {relative!r} is not a file name")
    parts = relative.split("/")
    if (
        "\\" in relative
        or relative.startswith("/")
        or _URL.match(relative)
        or any(part in ("", "..") for part in parts)
    ):
        raise ModelFormatError(
            f"weight path {relative!r} must be a relative file name inside the model folder "
            "(no '..', absolute paths or URLs)"
        )
    path = directory / relative
    if not os.path.lexists(path):
        raise ModelFormatError(f"weight file {relative!r} is missing", path=directory)
    return regular_file(path, root=directory, what=f"weight file {relative!r}")


def _spec_layout(spec: Any) -> Tuple[str, Tuple[int, ...], int, np.dtype]:
    """Validate one weight spec: (name, shape, element count, stored dtype or object for strings)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise ModelFormatError(f"weight spec {spec!r} needs a string 'name'")
    name = spec["name"]
    shape = spec.get("shape")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise ModelFormatError(f"weight {name!r}: shape {shape!r} must be a list of non-negative integers")
    count = 1
    for d in shape:
        count *= d
    dtype = spec.get("dtype")
    if not isinstance(dtype, str):
        raise ModelFormatError(f"weight {name!r}: dtype {dtype!r} is not a string")
    quantization = spec.get("quantization")
    if quantization is not None:
        q_dtype = quantization.get("dtype") if isinstance(quantization, dict) else None
        if not isinstance(q_dtype, str) or q_dtype not in _QUANTIZED:
            raise ModelFormatError(f"weight {name!r}: unknown quantization {quantization!r}")
        if dtype not in ("float32", "int32"):
            raise ModelFormatError(f"weight {name!r}: a quantized weight must be float32 or int32, not {dtype!r}")
        return name, tuple(shape), count, _QUANTIZED[quantization["dtype"]]
    if dtype == "string":
        return name, tuple(shape), count, np.dtype(object)
    if dtype not in _DTYPES:
        raise ModelFormatError(
            f"weight {name!r}: unknown dtype {dtype!r}; expected one of {', '.join(_DTYPES)} or string"
        )
    return name, tuple(shape), count, _DTYPES[dtype]


def _check_sizes(specs: List[Any], available: int, paths: List[str]) -> None:
    fixed = 0
    string_elements = 0
    for spec in specs:
        _, _, count, stored = _spec_layout(spec)
        if stored.kind == "O":
            string_elements += count
        else:
            fixed += count * stored.itemsize
    needed = fixed + 4 * string_elements  # strings need at least their 4-byte length prefixes
    if needed > available or (string_elements == 0 and needed != available):
        raise ModelFormatError(
            f"the weights manifest needs {'at least ' if string_elements else ''}{needed} bytes but the "
            f"weight files {', '.join(paths) or '(none)'} hold {available}; the shards are truncated, "
            "missing or belong to another model"
        )


def _read_files(files: List[Path], total: int) -> memoryview:
    buffer = bytearray(total)
    view = memoryview(buffer)
    offset = 0
    for path in files:
        with open_binary(path) as f:
            size = os.fstat(f.fileno()).st_size
            if offset + size > total:
                raise ModelFormatError(f"weight file changed while reading: {path}")
            read = f.readinto(view[offset : offset + size])
            if read != size:
                raise ModelFormatError(f"weight file changed while reading: {path}")
            offset += size
    return view.toreadonly()


def _decode_group(
    specs: List[Dict[str, Any]], buffer: memoryview, paths: List[str]
) -> List[Tuple[Dict[str, Any], np.ndarray]]:
    result = []
    offset = 0
    for spec in specs:
        name, shape, count, stored = _spec_layout(spec)
        if stored.kind == "O":
            array, offset = _decode_strings(buffer, offset, count, name)
            array = array.reshape(shape)
        else:
            nbytes = count * stored.itemsize
            if offset + nbytes > len(buffer):
                raise ModelFormatError(f"weight {name!r} runs past the end of {', '.join(paths)}")
            array = np.frombuffer(buffer, dtype=stored, count=count, offset=offset).reshape(shape)
            offset += nbytes
            if "quantization" in spec:
                array = dequantize(array, spec["quantization"], spec["dtype"])
        array.flags.writeable = False
        result.append((spec, array))
    if offset != len(buffer):
        raise ModelFormatError(
            f"{len(buffer) - offset} bytes of {', '.join(paths)} are not described by the weights manifest"
        )
    return result


def _decode_strings(buffer: memoryview, offset: int, count: int, name: str) -> Tuple[np.ndarray, int]:
    values = np.empty(count, dtype=object)
    for i in range(count):
        if offset + 4 > len(buffer):
            raise ModelFormatError(f"string weight {name!r} is truncated")
        (length,) = struct.unpack_from("<I", buffer, offset)
        offset += 4
        if offset + length > len(buffer):
            raise ModelFormatError(f"string weight {name!r} element {i} is truncated")
        values[i] = bytes(buffer[offset : offset + length])
        offset += length
    return values, offset
