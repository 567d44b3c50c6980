"""TFLite (``.tflite``) reader: a bounds-checked FlatBuffer decoder (``flatbuf``, ``model``,
``tensors``; slots in ``schema``) and the lowering of its operators to TF ops (``lower``,
``builder``). See docs/tflite.md."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tfjs_lite.readers.tflite.model import IDENTIFIER, TfliteModel, load_tflite

if TYPE_CHECKING:
    from tfjs_lite.ir import Graph

__all__ = ["IDENTIFIER", "TfliteModel", "load_tflite", "load_tflite_graph"]


def load_tflite_graph(path: Path | str, signature_key: str | None = None, *, keep_unsupported: bool = False) -> Graph:
    """Read a ``.tflite`` file and lower it to a :class:`tfjs_lite.ir.Graph` (see
    :func:`tfjs_lite.readers.tflite.builder.build_graph` for ``keep_unsupported``)."""
    from tfjs_lite.readers.tflite.builder import build_graph

    return build_graph(load_tflite(Path(path)), signature_key, keep_unsupported=keep_unsupported)
