"""Input-format detection from the path, and output-format inference from the input format."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Optional

from tfjs_lite import formats
from tfjs_lite.errors import ModelFormatError, UsageError
from tfjs_lite.formats import HDF5_SIGNATURE
from tfjs_lite.limits import MAX_SMALL_FILE_BYTES
from tfjs_lite.safe_io import check_input_path, open_binary, read_text

__all__ = ["HDF5_SIGNATURE", "detect_input_format", "infer_output_format", "resolve_formats", "tfjs_model_format"]

# The longest magic any format of the table checks, read once per detection.
_HEAD_BYTES = 16


def infer_output_format(input_format: str) -> str:
    """The output format used when none is given (``keras_keras`` too, unlike the official tool)."""
    return formats.input_format(input_format).default_output


def _read_head(path: Path, size: int = 8) -> bytes:
    with open_binary(path, what="input") as f:
        return f.read(size)


def tfjs_model_format(model_json: Path) -> Optional[str]:
    """The ``format`` of a TF.js ``model.json`` (``graph-model``, ``layers-model``; None if absent)."""
    root = model_json.parent
    try:
        text = read_text(model_json, root=root, limit=MAX_SMALL_FILE_BYTES, what="model.json")
        return json.loads(text).get("format")
    except (ValueError, AttributeError) as e:
        raise ModelFormatError(f"not a readable TF.js model.json ({e})", path=model_json) from None
    except RecursionError:
        raise ModelFormatError("not a readable TF.js model.json (nested too deeply)", path=model_json) from None


def _layers_or_graph(model_json: Path) -> str:
    fmt = tfjs_model_format(model_json)
    if fmt in (None, "layers-model"):
        return "tfjs_layers_model"
    raise UsageError(f"{model_json} is a TF.js {fmt}; only layers models can be read back")


def detect_input_format(path: Path) -> str:
    """Guess ``--input_format`` from what is at ``path`` (rules in :data:`tfjs_lite.formats.INPUT_TABLE`).

    Folders are recognised by marker files, files by their magic bytes first and their name second.
    Raises a UsageError if nothing fits.
    """
    if not path.exists():
        raise ModelFormatError("no such file or folder", path=path)
    check_input_path(path)
    candidates = [f for f in formats.INPUT_TABLE if f.detected]
    if path.is_dir():
        for fmt in candidates:
            for marker in fmt.folder_markers:
                if (path / marker).is_file():
                    return _layers_or_graph(path / marker) if marker == "model.json" else fmt.name
        raise UsageError(
            f"{path} is a folder without saved_model.pb or model.json; give --input_format to say what it is"
        )
    head = _read_head(path, _HEAD_BYTES)
    for fmt in candidates:
        if fmt.magic is not None and head[fmt.magic[0]:].startswith(fmt.magic[1]) and _magic_confirmed(fmt.name, path):
            return fmt.name
    for fmt in candidates:
        if any(path.name.endswith(suffix) for suffix in fmt.suffixes):
            if fmt.magic is not None and fmt.magic_required:
                raise ModelFormatError(f"the file does not start as a {fmt.name} file despite its name", path=path)
            return _layers_or_graph(path) if fmt.name == "tfjs_layers_model" else fmt.name
    raise UsageError(f"cannot tell what kind of model {path} is; give --input_format")


def _magic_confirmed(name: str, path: Path) -> bool:
    """A two-byte ``PK`` also starts other zips: a .keras archive must be a whole zip."""
    return name != "keras_keras" or zipfile.is_zipfile(path)


def resolve_formats(path: Path, input_format: Optional[str], output_format: Optional[str]) -> tuple[str, str]:
    """(input format, output format) from the flags, detecting what is not given.

    A SavedModel folder is detected as ``tf_saved_model``, except when a layers model is asked
    for: then it is read as ``keras_saved_model`` (a tf.keras SavedModel, with
    ``keras_metadata.pb``; without it the pipeline says why it cannot be a layers model).
    """
    in_fmt = input_format or detect_input_format(path)
    if input_format is None and in_fmt == "tf_saved_model" and output_format == "tfjs_layers_model":
        in_fmt = "keras_saved_model"
    return in_fmt, output_format or infer_output_format(in_fmt)
