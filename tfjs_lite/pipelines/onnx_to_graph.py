"""ONNX model -> TF.js graph model.

Read and lower (:mod:`tfjs_lite.readers.onnx`) -> the same optimize / op check / write steps as
TF graphs (:func:`tfjs_lite.pipelines.saved_model_to_graph.convert_graph`).
"""

from __future__ import annotations

from pathlib import Path

from tfjs_lite.ir.graph import Graph
from tfjs_lite.options import ConvertOptions
from tfjs_lite.pipelines.saved_model_to_graph import graph_pipeline
from tfjs_lite.readers.onnx import read_onnx
from tfjs_lite.report import Report

__all__ = ["read", "run"]


def read(input_path: Path, options: ConvertOptions, report: Report) -> Graph:
    """An ``.onnx`` file (external data beside it) lowered to the TF-op IR."""
    return read_onnx(Path(input_path))


run = graph_pipeline(read)
