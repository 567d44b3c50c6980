"""Serialize ``model.json`` exactly as the official converter's ``json.dump(model_json, f)``.

Default ``json`` formatting: separators ``", "`` and ``": "``, ``ensure_ascii=True``, no indent, no
trailing newline, keys in insertion order. Unlike the official converter, NaN and ±Inf are refused
(``allow_nan=False``): they would make the file invalid JSON for the browser, and no writer of
tfjs-lite should ever put one there, so it is an internal error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from tfjs_lite.errors import InternalError

__all__ = ["MODEL_JSON", "dump_model_json", "write_model_json"]

MODEL_JSON = "model.json"


def dump_model_json(model_json: Mapping[str, Any]) -> bytes:
    """The bytes of ``model.json``.

    Args:
        model_json: The top-level dict, keys already in the official order.

    Returns:
        ASCII bytes, identical to ``json.dump`` output for the same dict.

    Raises:
        InternalError: The dict holds NaN/Inf or a value JSON cannot represent.
    """
    try:
        text = json.dumps(model_json, allow_nan=False)
    except ValueError as e:
        raise InternalError(f"model.json would contain NaN or Infinity: {e}") from e
    except TypeError as e:
        raise InternalError(f"model.json holds a value JSON cannot represent: {e}") from e
    return text.encode("ascii")


def write_model_json(directory: Path, model_json: Mapping[str, Any]) -> Path:
    """Write ``<directory>/model.json`` (the folder is created if missing).

    Args:
        directory: Output folder.
        model_json: The top-level dict.

    Returns:
        The path written.

    Raises:
        InternalError: See :func:`dump_model_json`; nothing is written then.
    """
    data = dump_model_json(model_json)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MODEL_JSON
    path.write_bytes(data)
    return path
