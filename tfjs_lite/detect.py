"""Input-format detection from the path, and output-format inference from the input format."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Optional

from tfjs_lite.errors import ModelFormatError, UsageError

__all__ = ["HDF5_SIGNATURE", "detect_input_format", "infer_output_format", "tfjs_model_format"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

_DEFAULT_OUTPUT = {
    "keras": "tfjs_layers_model",
    "keras_saved_model": "tfjs_layers_model",
    "keras_keras": "tfjs_layers_model",
    "tf_saved_model": "tfjs_graph_model",
    "tf_frozen_model": "tfjs_graph_model",
    "tf_hub": "tfjs_graph_model",
    "tfjs_layers_model": "keras",
    "onnx": "tfjs_graph_model",
}


def infer_output_format(input_format: str) -> str:
    """The output format used when none is given (``keras_keras`` too, unlike the official tool)."""
    return _DEFAULT_OUTPUT[input_format]


def _read_head(path: Path, size: int = 8) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError as e:
        raise ModelFormatError(f"cannot read the input: {e.strerror}", path=path) from None


def tfjs_model_format(model_json: Path) -> Optional[str]:
    """The ``format`` of a TF.js ``model.json`` (``graph-model``, ``layers-model``; None if absent)."""
    try:
        with open(model_json, encoding="utf-8") as f:
            return json.load(f).get("format")
    except (OSError, ValueError, AttributeError) as e:
        raise ModelFormatError(f"not a readable TF.js model.json ({e})", path=model_json) from None
    except RecursionError:
        raise ModelFormatError("not a readable TF.js model.json (nested too deeply)", path=model_json) from None


def _layers_or_graph(model_json: Path) -> str:
    fmt = tfjs_model_format(model_json)
    if fmt in (None, "layers-model"):
        return "tfjs_layers_model"
    raise UsageError(f"{model_json} is a TF.js {fmt}; only layers models can be read back")


def _looks_like_onnx(head: bytes) -> bool:
    """A ModelProto written by ONNX's tools starts with ``ir_version`` (field 1, varint: 0x08)
    followed by a small version number; other model files here start differently."""
    return len(head) >= 2 and head[0] == 0x08 and 3 <= head[1] <= 20


def detect_input_format(path: Path) -> str:
    """Guess ``--input_format`` from what is at ``path``; raise a UsageError if nothing fits."""
    if not path.exists():
        raise ModelFormatError("no such file or folder", path=path)
    if path.is_dir():
        if (path / "tfhub_module.pb").is_file():
            return "tf_hub"
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "tf_saved_model"
        if (path / "model.json").is_file():
            return _layers_or_graph(path / "model.json")
        raise UsageError(
            f"{path} is a folder without saved_model.pb or model.json; give --input_format to say what it is"
        )
    head = _read_head(path)
    if head.startswith(HDF5_SIGNATURE):
        return "keras"
    if head.startswith(b"PK") and zipfile.is_zipfile(path):
        return "keras_keras"
    if path.name.endswith(".json"):
        return _layers_or_graph(path)
    if path.suffix == ".pb":
        return "tf_frozen_model"
    if path.suffix == ".onnx" or _looks_like_onnx(head):
        return "onnx"
    if path.suffix in (".h5", ".hdf5", ".keras"):
        raise ModelFormatError(f"the file is not HDF5 or a .keras zip despite its '{path.suffix}' name", path=path)
    raise UsageError(f"cannot tell what kind of model {path} is; give --input_format")


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
